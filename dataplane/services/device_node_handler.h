// ferry-device-node's layer above the engine: the device node core. It never refuses a record
// (it queues its own replies under backpressure); a lost link ends the peer's sessions, so
// guests handshake again.
#pragma once

#include "ferry/device/device_node.h"
#include "ferry/engine/engine.h"

namespace ferry::services {

class DeviceNodeHandler final : public engine::RecordHandler {
 public:
  explicit DeviceNodeHandler(device::DeviceNode &node) : node_(node) {}
  bool on_record(proto::RecordSink &out, const proto::RecordView &rec) override {
    sink_ = &out;
    node_.on_record(out, rec);
    return true;
  }
  int poll(proto::RecordSink &, uint64_t now_ns) override {
    node_.poll(now_ns);
    return 0;  // the node does not say whether it found work: idle policy decides by frames
  }
  void on_link_reset() override {
    if (sink_) node_.drop_peer(*sink_);
  }
  void collect_stats(engine::StatsWriter &w) override {
    w.put("sessions", node_.session_count());
    node_.counters().for_each([&](const char *name, uint64_t v) { w.put(name, v); });
  }

 private:
  device::DeviceNode &node_;
  proto::RecordSink *sink_ = nullptr;
};

}  // namespace ferry::services
