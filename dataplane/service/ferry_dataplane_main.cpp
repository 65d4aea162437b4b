// ferry-dataplane: the CVM-host service. Creates each guest's shared-memory region, relays
// sealed descriptors and DMA chunks between the regions and the device node over the
// configured transport, and never holds a key.
//
//   ferry-dataplane CONFIG.yaml      exit 0 after SIGINT/SIGTERM, 2 on a bad configuration
#include <cstdio>
#include <memory>
#include <vector>

#include "dataplane_handler.h"
#include "ferry/config/config.h"
#include "ferry/engine/eal.h"
#include "ferry/engine/engine.h"
#include "ferry/engine/lanes.h"
#include "ferry/engine/telemetry.h"
#include "ferry/proto/idle.h"
#include "service/lane_engines.h"
#include "service/options_from_config.h"
#include "service/service.h"

using namespace ferry;

namespace {

int serve(const config::DataplaneConfig &cfg) {
  engine::eal_init(services::eal_options(cfg.eal));
  const services::TestDrops drops = services::test_drops_from_env();
  {
    // Each lane's handler serves the guests whose `lane` names it.
    std::vector<std::unique_ptr<dataplane::HostRegion>> regions;
    std::vector<std::unique_ptr<dataplane::HostRelay>> relays;
    std::vector<std::vector<dataplane::HostRelay *>> lane_relays(cfg.lanes);
    std::vector<std::vector<uint32_t>> lane_channels(cfg.lanes);
    for (const auto &g : cfg.guests) {
      regions.push_back(std::make_unique<dataplane::HostRegion>(g));
      relays.push_back(std::make_unique<dataplane::HostRelay>(*regions.back()));
      lane_relays[g.lane].push_back(relays.back().get());
      lane_channels[g.lane].push_back(g.channel);
    }
    std::vector<std::unique_ptr<services::DataplaneHandler>> handlers;
    for (uint32_t l = 0; l < cfg.lanes; ++l)
      handlers.push_back(
          std::make_unique<services::DataplaneHandler>(lane_relays[l], lane_channels[l]));
    engine::LaneTransports lt = engine::make_lane_transports(
        services::transport_options(cfg.transport), engine::Role::kConnect, cfg.lanes);
    engine::EngineOptions opt =
        services::engine_options(cfg.transport, cfg.idle, cfg.housekeeping_every);
    services::LaneEngines engines =
        services::make_lane_engines(lt, handlers, services::fault_options(cfg.faults), drops, opt);
    const std::vector<engine::Engine *> &lanes = engines.lanes;
    engine::telemetry_publish(lanes, lt.port_counters(), "dataplane");
    lt.maintain_port(proto::now_ns());                                 // ARP right away
    for (engine::Engine *e : lanes) e->housekeeping(proto::now_ns());  // connect
    services::write_ready_file(cfg.ready_file);
    std::fprintf(stderr,
                 "ferry-dataplane: serving %zu guest(s) over %s on %u lane(s) (stream %08x)\n",
                 cfg.guests.size(), std::string(lanes[0]->transport().name()).c_str(), cfg.lanes,
                 lanes[0]->stream_id());
    engine::run_lanes(lanes, lt.io.get(), cfg.idle, cfg.housekeeping_every, services::g_stop);
    engine::telemetry_publish(nullptr, nullptr);
    services::remove_ready_file(cfg.ready_file);
    uint64_t tx = 0, rx = 0, re = 0;
    for (engine::Engine *e : lanes) {
      tx += e->counters().frames_tx.get();
      rx += e->counters().frames_rx.get();
      re += e->counters().retransmits.get();
    }
    std::fprintf(stderr, "ferry-dataplane: stopped (frames tx %llu rx %llu, retransmits %llu)\n",
                 static_cast<unsigned long long>(tx), static_cast<unsigned long long>(rx),
                 static_cast<unsigned long long>(re));
  }  // engines, then the port; relays mark their regions gone, regions unlink their files
  engine::eal_cleanup();
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ferry-dataplane CONFIG.yaml\n");
    return services::kExitConfigError;
  }
  config::DataplaneConfig cfg;
  try {
    cfg = config::load_dataplane(argv[1]);
    config::check_dataplane_files(cfg);  // region directories exist: nothing starts otherwise
  } catch (const config::ConfigError &e) {
    std::fprintf(stderr, "ferry-dataplane: %s\n", e.what());
    return services::kExitConfigError;
  }
  services::install_signal_handlers();
  try {
    return serve(cfg);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "ferry-dataplane: %s\n", e.what());
    services::remove_ready_file(cfg.ready_file);
    engine::eal_cleanup();
    return services::kExitRuntimeError;
  }
}
