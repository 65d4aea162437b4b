// ferry-dataplane's layer above the engine: one HostRelay per guest region, records routed
// by channel. It sees only sealed descriptors and sealed chunks; it has no keys.
#pragma once

#include <memory>
#include <vector>

#include "ferry/engine/engine.h"
#include "relay/host_region.h"
#include "relay/host_relay.h"

namespace ferry::services {

class DataplaneHandler final : public engine::RecordHandler {
 public:
  // The relays must outlive the handler.
  explicit DataplaneHandler(std::vector<dataplane::HostRelay *> relays,
                            std::vector<uint32_t> channels);
  bool on_record(proto::RecordSink &out, const proto::RecordView &rec) override;
  int poll(proto::RecordSink &out, uint64_t now_ns) override;
  void housekeeping(uint64_t now_ns) override;
  void collect_stats(engine::StatsWriter &w) override;

  uint64_t unknown_channel() const { return unknown_channel_; }

 private:
  static constexpr int kBudget = 32;  // descriptors drained per relay per poll
  std::vector<dataplane::HostRelay *> relays_;
  std::vector<uint32_t> channels_;
  size_t next_ = 0;
  uint64_t unknown_channel_ = 0;
};

}  // namespace ferry::services
