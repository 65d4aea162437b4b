// ferry-dataplane: the CVM-host service. Creates each guest's shared-memory region, relays
// sealed descriptors and DMA chunks between the regions and the device node over the
// configured transport, and never holds a key.
//
//   ferry-dataplane CONFIG.yaml      exit 0 after SIGINT/SIGTERM, 2 on a bad configuration
#include <cstdio>
#include <memory>
#include <vector>

#include "dataplane_handler.h"
#include "fault_transport.h"
#include "ferry/config/config.h"
#include "ferry/engine/eal.h"
#include "ferry/engine/engine.h"
#include "ferry/engine/idle.h"
#include "ferry/engine/telemetry.h"
#include "service.h"

using namespace ferry;

namespace {

int serve(const config::DataplaneConfig &cfg) {
  engine::eal_init(cfg.eal);
  const services::TestDrops drops = services::test_drops_from_env();
  {
    std::vector<std::unique_ptr<dataplane::HostRegion>> regions;
    std::vector<std::unique_ptr<dataplane::HostRelay>> relays;
    std::vector<dataplane::HostRelay *> relay_ptrs;
    std::vector<uint32_t> channels;
    for (const auto &g : cfg.guests) {
      regions.push_back(std::make_unique<dataplane::HostRegion>(g));
      relays.push_back(std::make_unique<dataplane::HostRelay>(*regions.back()));
      relay_ptrs.push_back(relays.back().get());
      channels.push_back(g.channel);
    }
    services::DataplaneHandler handler(relay_ptrs, channels);
    auto transport = engine::with_faults(
        engine::make_transport(cfg.transport, engine::Role::kConnect), cfg.faults);
    if (drops.any()) transport->set_test_drops(drops.next, drops.every, drops.permille, drops.seed);
    engine::EngineOptions opt =
        engine::EngineOptions::from(cfg.transport, cfg.idle, cfg.housekeeping_every);
    opt.resend_after_peer_restart = true;  // guest requests (a Hello among them) still count
    engine::Engine eng(std::move(transport), handler, opt);
    engine::telemetry_publish(&eng, "dataplane");
    eng.housekeeping(engine::now_ns());  // connect / ARP right away
    services::write_ready_file(cfg.ready_file);
    std::fprintf(stderr, "ferry-dataplane: serving %zu guest(s) over %s (epoch %08x)\n",
                 cfg.guests.size(), std::string(eng.transport().name()).c_str(), eng.epoch());
    eng.run(services::g_stop);
    engine::telemetry_publish(nullptr, nullptr);
    services::remove_ready_file(cfg.ready_file);
    std::fprintf(stderr, "ferry-dataplane: stopped (frames tx %llu rx %llu, retransmits %llu)\n",
                 static_cast<unsigned long long>(eng.counters().frames_tx.get()),
                 static_cast<unsigned long long>(eng.counters().frames_rx.get()),
                 static_cast<unsigned long long>(eng.counters().retransmits.get()));
  }  // relays mark their regions gone, regions unlink their files, the port closes
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
