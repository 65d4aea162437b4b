// ferry-dataplane's layer above the engine: one HostRelay per guest region, records routed
// by channel. It sees only sealed descriptors and sealed chunks; it has no keys. It is a
// /ferry/queues source for as long as it lives: a row per guest queue and one per guest
// region, published at every housekeeping pass.
#pragma once

#include <memory>
#include <vector>

#include "ferry/engine/engine.h"
#include "ferry/engine/telemetry_queues.h"
#include "relay/host_region.h"
#include "relay/host_relay.h"
#include "relay_log.h"

namespace ferry::services {

class DataplaneHandler final : public engine::RecordHandler, public engine::QueueSource {
 public:
  // The relays must outlive the handler.
  explicit DataplaneHandler(std::vector<dataplane::HostRelay *> relays,
                            std::vector<uint32_t> channels);
  ~DataplaneHandler() override;
  DataplaneHandler(const DataplaneHandler &) = delete;
  DataplaneHandler &operator=(const DataplaneHandler &) = delete;
  bool on_record(proto::RecordSink &out, const proto::RecordView &rec) override;
  int poll(proto::RecordSink &out, uint64_t now_ns) override;
  void housekeeping(uint64_t now_ns) override;
  void collect_stats(engine::StatsWriter &w) override;

  // QueueSource (the columns are listed in dataplane_handler.cpp).
  const char *queue_source_kind() const override { return "dataplane"; }
  const engine::QueueTable &queue_table() const override { return table_; }
  // Copies the relays' counters into the table (housekeeping does it; tests may call it).
  void publish_queues();

  uint64_t unknown_channel() const { return unknown_channel_; }

 private:
  static constexpr int kBudget = engine::kBurst;  // descriptors drained per relay per poll
  std::vector<dataplane::HostRelay *> relays_;
  std::vector<uint32_t> channels_;
  std::vector<RelayLog> logs_;  // one per relay
  size_t next_ = 0;
  uint64_t unknown_channel_ = 0;
  std::vector<engine::QueueRow> rows_;  // scratch for publish_queues(), sized once
  engine::QueueTable table_;
};

}  // namespace ferry::services
