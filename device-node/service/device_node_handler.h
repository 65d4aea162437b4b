// ferry-device-node's layer above the engine: the device node core. It never refuses a record
// (it queues its own replies under backpressure); a lost link ends the peer's sessions, so
// guests handshake again. It is a /ferry/queues source for as long as it lives: a row per
// (live session, queue) and one per live session, published at every housekeeping pass.
#pragma once

#include <vector>

#include "ferry/device/device_node.h"
#include "ferry/engine/engine.h"
#include "ferry/engine/telemetry_queues.h"

namespace ferry::services {

class DeviceNodeHandler final : public engine::RecordHandler, public engine::QueueSource {
 public:
  // Rows beyond this (sessions x (queues + 1)) are counted, not shown.
  static constexpr size_t kMaxQueueRows = 256;

  explicit DeviceNodeHandler(device::DeviceNode &node);
  ~DeviceNodeHandler() override;
  DeviceNodeHandler(const DeviceNodeHandler &) = delete;
  DeviceNodeHandler &operator=(const DeviceNodeHandler &) = delete;

  bool on_record(proto::RecordSink &out, const proto::RecordView &rec) override {
    node_.on_record(out, rec);
    return true;
  }
  // The node's work (records sent or queued, DMA completions delivered): the idle policy
  // backs off only when it is 0.
  int poll(proto::RecordSink &, uint64_t now_ns) override {
    return static_cast<int>(node_.poll(now_ns));
  }
  void housekeeping(uint64_t) override { publish_queues(); }
  void collect_stats(engine::StatsWriter &w) override {
    w.put("sessions", node_.session_count());
    node_.counters().for_each([&](const char *name, uint64_t v) { w.put(name, v); });
  }

  // QueueSource (the columns are listed in device_node_handler.cpp).
  const char *queue_source_kind() const override { return "device-node"; }
  const engine::QueueTable &queue_table() const override { return table_; }
  // Copies the live sessions' counters into the table (housekeeping does it; tests may too).
  void publish_queues();

 private:
  device::DeviceNode &node_;
  std::vector<engine::QueueRow> rows_;  // scratch for publish_queues(), sized once
  engine::QueueTable table_;
};

}  // namespace ferry::services
