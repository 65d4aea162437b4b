// What both service mains build over their lanes: one engine per lane transport, fault
// injection (YAML) and the test drop hook (environment) applied, engine l driving handler l.
#pragma once

#include <memory>
#include <vector>

#include "ferry/engine/engine.h"
#include "ferry/engine/lanes.h"
#include "service/service.h"
#include "transport/fault_transport.h"

namespace ferry::services {

struct LaneEngines {
  std::vector<std::unique_ptr<engine::Engine>> owned;
  std::vector<engine::Engine *> lanes;  // the same engines, for telemetry and run_lanes
};

template <class Handler>
LaneEngines make_lane_engines(engine::LaneTransports &lt,
                              const std::vector<std::unique_ptr<Handler>> &handlers,
                              const engine::FaultOptions &faults, const TestDrops &drops,
                              const engine::EngineOptions &opt) {
  LaneEngines out;
  for (size_t l = 0; l < handlers.size(); ++l) {
    auto transport = engine::with_faults(std::move(lt.lanes[l]), faults, static_cast<unsigned>(l));
    if (drops.any())
      transport->set_test_drops(drops.next, drops.every, drops.permille, drops.seed + l);
    out.owned.push_back(std::make_unique<engine::Engine>(std::move(transport), *handlers[l], opt));
    out.lanes.push_back(out.owned.back().get());
  }
  return out;
}

}  // namespace ferry::services
