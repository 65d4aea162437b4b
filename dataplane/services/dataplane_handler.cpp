#include "dataplane_handler.h"

namespace ferry::services {

DataplaneHandler::DataplaneHandler(std::vector<dataplane::HostRelay *> relays,
                                   std::vector<uint32_t> channels)
    : relays_(std::move(relays)), channels_(std::move(channels)) {}

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
  w.put("dma_write_pieces", t.dma_write_pieces);
  w.put("dma_write_bad", t.dma_write_bad);
}

}  // namespace ferry::services
