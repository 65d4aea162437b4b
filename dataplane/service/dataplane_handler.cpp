#include "dataplane_handler.h"

namespace ferry::services {

namespace {

// /ferry/queues columns: per guest queue, then per guest region.
constexpr engine::QueueColumn kColumns[] = {
    {"descriptors", true},  // to_device + to_guest
    {"to_device", true},    // taken off the SQ and sent toward the device node
    {"to_guest", true},     // written into the CQ
    {"sq_drains", true},    // poll passes that took descriptors off the SQ
    {"sq_backlog", true},   // sends the link refused, each retry (descriptor kept)
    {"cq_full", true},      // refusals by a full CQ, each retry
    {"dma_read_reqs", false},   {"dma_chunks_served", false}, {"dma_bytes_served", false},
    {"dma_read_failed", false}, {"dma_pieces_stored", false}, {"dma_bytes_stored", false},
    {"dma_write_bad", false},   {"sq_bad_queue", false},      {"sq_bad_index", false},
    {"cq_bad_index", false},    {"bad_records", false},
};

size_t row_count(const std::vector<dataplane::HostRelay *> &relays) {
  size_t n = 0;
  for (const auto *r : relays) n += r->n_queues() + 1;
  return n;
}

}  // namespace

DataplaneHandler::DataplaneHandler(std::vector<dataplane::HostRelay *> relays,
                                   std::vector<uint32_t> channels)
    : relays_(std::move(relays)),
      channels_(std::move(channels)),
      rows_(row_count(relays_)),
      table_(kColumns, rows_.size(), "guest") {
  logs_.reserve(relays_.size());
  for (const auto *r : relays_) logs_.emplace_back(*r);
  publish_queues();
  engine::queues_add_source(this);
}

DataplaneHandler::~DataplaneHandler() {
  engine::queues_remove_source(this);
}

void DataplaneHandler::publish_queues() {
  size_t i = 0;
  for (const auto *relay : relays_) {
    for (uint32_t q = 0; q < relay->n_queues(); ++q) {
      const dataplane::RelayQueueCounters &c = relay->queue_counters(q);
      engine::QueueRow &r = rows_[i++];
      r.channel = relay->channel();
      r.queue = static_cast<int32_t>(q);
      r.values = {c.to_device + c.to_guest,
                  c.to_device,
                  c.to_guest,
                  c.sq_drains,
                  c.sq_backlog,
                  c.cq_full};  // no latency: the relay cannot tell a read (its kind is sealed)
    }
    const dataplane::RelayCounters &c = relay->counters();
    engine::QueueRow &r = rows_[i++];
    r.channel = relay->channel();
    r.queue = -1;
    r.values = {0,
                0,
                0,
                0,
                0,
                0,  // the per-queue columns
                c.dma_read_reqs,
                c.dma_chunks_served,
                c.dma_bytes_served,
                c.dma_read_failed,
                c.dma_write_pieces,
                c.dma_bytes_stored,
                c.dma_write_bad,
                c.sq_bad_queue,
                c.sq_bad_index,
                c.cq_bad_index,
                c.bad_records};
  }
  table_.publish(rows_);
}

bool DataplaneHandler::on_record(proto::RecordSink &out, const proto::RecordView &rec) {
  for (size_t i = 0; i < channels_.size(); ++i)
    if (channels_[i] == rec.channel) return relays_[i]->on_record(rec, out);
  ++unknown_channel_;  // no guest of ours: dropped and counted
  return true;
}

int DataplaneHandler::poll(proto::RecordSink &out, uint64_t) {
  int work = 0;
  // Round robin over the guests so that a busy one cannot starve the others.
  for (size_t k = 0; k < relays_.size(); ++k) {
    work += relays_[next_]->poll_submissions(out, kBudget);
    next_ = next_ + 1 == relays_.size() ? 0 : next_ + 1;
  }
  return work;
}

void DataplaneHandler::housekeeping(uint64_t) {
  for (auto *r : relays_) r->housekeeping();
  for (RelayLog &l : logs_) l.housekeeping();
  publish_queues();
}

void DataplaneHandler::collect_stats(engine::StatsWriter &w) {
  dataplane::RelayCounters t;
  for (auto *r : relays_) {
    const auto &c = r->counters();
    t.sq_descriptors += c.sq_descriptors;
    t.sq_bad_index += c.sq_bad_index;
    t.sq_bad_queue += c.sq_bad_queue;
    t.emit_refused += c.emit_refused;
    t.cq_descriptors += c.cq_descriptors;
    t.cq_full += c.cq_full;
    t.cq_bad_index += c.cq_bad_index;
    t.bad_records += c.bad_records;
    t.dma_read_reqs += c.dma_read_reqs;
    t.dma_read_failed += c.dma_read_failed;
    t.dma_pieces_out += c.dma_pieces_out;
    t.dma_write_pieces += c.dma_write_pieces;
    t.dma_chunks_served += c.dma_chunks_served;
    t.dma_bytes_served += c.dma_bytes_served;
    t.dma_bytes_stored += c.dma_bytes_stored;
    t.dma_write_bad += c.dma_write_bad;
  }
  w.put("guests", relays_.size());
  w.put("sq_descriptors", t.sq_descriptors);
  w.put("sq_bad_index", t.sq_bad_index);
  w.put("sq_bad_queue", t.sq_bad_queue);
  w.put("emit_refused", t.emit_refused);
  w.put("cq_descriptors", t.cq_descriptors);
  w.put("cq_full", t.cq_full);
  w.put("cq_bad_index", t.cq_bad_index);
  w.put("bad_records", t.bad_records);
  w.put("unknown_channel", unknown_channel_);
  w.put("dma_read_reqs", t.dma_read_reqs);
  w.put("dma_read_failed", t.dma_read_failed);
  w.put("dma_pieces_out", t.dma_pieces_out);
  w.put("dma_chunks_served", t.dma_chunks_served);
  w.put("dma_bytes_served", t.dma_bytes_served);
  w.put("dma_write_pieces", t.dma_write_pieces);
  w.put("dma_bytes_stored", t.dma_bytes_stored);
  w.put("dma_write_bad", t.dma_write_bad);
}

}  // namespace ferry::services
