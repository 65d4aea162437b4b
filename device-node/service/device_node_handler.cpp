#include "device_node_handler.h"

namespace ferry::services {

namespace {

// /ferry/queues columns: per (session, queue), then per session.
constexpr engine::QueueColumn kColumns[] = {
    {"descriptors", true},      // accepted + sent
    {"accepted", true},         // guest descriptors authenticated and accepted
    {"executed", true},         // run by the model, in sequence order
    {"sent", true},             // sealed and sent (completions, interrupts, DMA announcements)
    {"completions", true},      // MMIO read completions
    {"auth_failures", true},    // descriptors that did not authenticate
    {"replays_dropped", true},  // replayed or stale descriptors dropped
    {"cache_replies", true},    // duplicate reads answered from the reply cache
    {"dma_chunks_read", false},
    {"dma_chunks_written", false},
    {"dma_chunk_auth_failures", false},
    {"dma_failures", false},
    {"dma_timeouts", false},
    {"irqs", false},
    {"tx_deferred", false},  // records queued under backpressure
    {"tx_dropped", false},   // records dropped: the session's outbox was full
};

// Fills the rows from the node's visit (on the polling thread).
class RowFiller final : public device::StatsVisitor {
 public:
  explicit RowFiller(std::vector<engine::QueueRow> &rows) : rows_(rows) {}
  void session(const device::SessionStats &s) override {
    engine::QueueRow *r = next(s);
    if (r == nullptr) return;
    const device::NodeCounters &c = *s.counters;
    r->queue = -1;
    r->values = {0,
                 0,
                 0,
                 0,
                 0,
                 0,
                 0,
                 0,  // the per-queue columns
                 c.dma_chunks_read,
                 c.dma_chunks_written,
                 c.dma_chunk_auth_failures,
                 c.dma_failures,
                 c.dma_timeouts,
                 c.irqs,
                 c.tx_deferred,
                 c.tx_dropped};
    r->latency = {};
  }
  void queue(const device::SessionStats &s, uint16_t q, const device::QueueCounters &c) override {
    engine::QueueRow *r = next(s);
    if (r == nullptr) return;
    r->queue = q;
    r->values = {c.descriptors + c.sent, c.descriptors,   c.executed,        c.sent,
                 c.completions,          c.auth_failures, c.replays_dropped, c.cache_replies};
    r->latency.assign(c.service_ns);
  }
  size_t used() const { return used_; }
  size_t wanted() const { return wanted_; }

 private:
  engine::QueueRow *next(const device::SessionStats &s) {
    ++wanted_;
    if (used_ == rows_.size()) return nullptr;
    engine::QueueRow &r = rows_[used_++];
    r.channel = s.channel;
    r.session = s.session_id;
    r.device = s.device_id;
    return &r;
  }
  std::vector<engine::QueueRow> &rows_;
  size_t used_ = 0, wanted_ = 0;
};

}  // namespace

DeviceNodeHandler::DeviceNodeHandler(device::DeviceNode &node)
    : node_(node), rows_(kMaxQueueRows), table_(kColumns, kMaxQueueRows, "session") {
  publish_queues();
  engine::queues_add_source(this);
}

DeviceNodeHandler::~DeviceNodeHandler() {
  engine::queues_remove_source(this);
}

void DeviceNodeHandler::publish_queues() {
  RowFiller f(rows_);
  node_.visit_stats(f);
  table_.publish(std::span<const engine::QueueRow>(rows_.data(), f.used()), f.wanted() - f.used());
}

}  // namespace ferry::services
