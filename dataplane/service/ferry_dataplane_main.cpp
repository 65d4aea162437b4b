// ferry-dataplane: the CVM-host service. Creates each guest's shared-memory region, relays
// sealed descriptors and DMA chunks between the regions and the device node over the
// configured transport, and never holds a key.
//
//   ferry-dataplane [--log-level LEVEL]... CONFIG.yaml   exit 0 after SIGINT/SIGTERM, 2 on a
//                                                        bad command line or configuration
//   ferry-dataplane --check CONFIG.yaml                  validate only; --help, --version
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "dataplane_handler.h"
#include "ferry/config/config.h"
#include "serve.h"

using namespace ferry;

namespace {

void serve(const config::DataplaneConfig &cfg, const services::TestDrops &drops) {
  // Each lane's handler serves the guests whose `lane` names it.
  std::vector<std::unique_ptr<dataplane::HostRegion>> regions;
  std::vector<std::unique_ptr<dataplane::HostRelay>> relays;
  std::vector<std::vector<dataplane::HostRelay *>> lane_relays(cfg.lanes);
  std::vector<std::vector<uint32_t>> lane_channels(cfg.lanes);
  for (const auto &g : cfg.guests) {
    // Kept at exit: a VM may hold the file as its BAR; the next start reuses it in place.
    regions.push_back(
        std::make_unique<dataplane::HostRegion>(g, dataplane::HostRegion::AtExit::kKeep));
    const dataplane::HostRegion &r = *regions.back();
    std::fprintf(stderr, "ferry-dataplane: region %s: %llu bytes (channel %u), %s, generation %u\n",
                 g.path.c_str(), static_cast<unsigned long long>(r.size()), g.channel,
                 r.reused() ? "reused in place" : "new", r.generation());
    relays.push_back(std::make_unique<dataplane::HostRelay>(*regions.back()));
    lane_relays[g.lane].push_back(relays.back().get());
    lane_channels[g.lane].push_back(g.channel);
  }
  std::vector<std::unique_ptr<services::DataplaneHandler>> handlers;
  std::vector<engine::RecordHandler *> lanes;
  for (uint32_t l = 0; l < cfg.lanes; ++l) {
    handlers.push_back(
        std::make_unique<services::DataplaneHandler>(lane_relays[l], lane_channels[l]));
    lanes.push_back(handlers.back().get());
  }
  engine::EngineOptions opt =
      services::engine_options(cfg.transport, cfg.idle, cfg.housekeeping_every);
  services::serve_lanes(
      services::lane_service(cfg, "ferry-dataplane", "dataplane", engine::Role::kConnect,
                             std::to_string(cfg.guests.size()) + " guest(s)"),
      lanes, opt, drops);
}  // relays mark their regions gone; the region files stay

config::DataplaneConfig load(const char *path) {
  config::DataplaneConfig cfg = config::load_dataplane(path);
  config::check_dataplane_files(cfg);  // region directories exist: nothing starts otherwise
  return cfg;
}

}  // namespace

int main(int argc, char **argv) {
  return services::service_main(
      argc, argv, "ferry-dataplane",
      "The CVM-host service: relays sealed guest requests to the device node (never holds a key).",
      load, serve);
}
