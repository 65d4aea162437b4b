// ferry-device-node: the accelerator-host service. Opens requests, runs the device models and
// seals their answers, behind the engine on the configured transport.
//
//   ferry-device-node [--log-level LEVEL]... CONFIG.yaml   exit 0 after SIGINT/SIGTERM, 2 on a
//                                                          bad command line or configuration
//   ferry-device-node --check CONFIG.yaml                  validate only; --help, --version
#include <memory>
#include <string>
#include <vector>

#include "device_node_handler.h"
#include "ferry/config/config.h"
#include "ferry/device/device_node.h"
#include "ferry/proto/aead.h"
#include "node_log.h"
#include "serve.h"

using namespace ferry;

namespace {

// The configuration lane `lane` serves: the devices offered on it (its own `lane`, or all).
config::DeviceNodeConfig lane_config(const config::DeviceNodeConfig &cfg, uint32_t lane) {
  config::DeviceNodeConfig c = cfg;
  c.devices.clear();
  for (const auto &d : cfg.devices)
    if (d.lane < 0 || static_cast<uint32_t>(d.lane) == lane) c.devices.push_back(d);
  return c;
}

void serve(const config::DeviceNodeConfig &cfg, const services::TestDrops &drops) {
  // Per lane: one AEAD engine (one IMB_MGR) and one device node core, for its one lcore.
  std::vector<std::unique_ptr<proto::Aead>> aeads;
  std::vector<std::unique_ptr<services::NodeLog>> logs;
  std::vector<std::unique_ptr<device::DeviceNode>> nodes;
  std::vector<std::unique_ptr<services::DeviceNodeHandler>> handlers;
  std::vector<engine::RecordHandler *> lanes;
  for (uint32_t l = 0; l < cfg.lanes; ++l) {
    aeads.push_back(proto::Aead::create(proto::AeadImpl::kIpsecMb));
    device::NodeOptions nopt;
    nopt.dma_timeout_ns = uint64_t{cfg.dma_timeout_ms} * 1000000;
    nopt.idle_timeout_ns = uint64_t{cfg.session_idle_timeout_ms} * 1000000;
    logs.push_back(std::make_unique<services::NodeLog>(l));
    nopt.events = logs.back().get();
    nodes.push_back(std::make_unique<device::DeviceNode>(lane_config(cfg, l), *aeads.back(), nopt));
    handlers.push_back(std::make_unique<services::DeviceNodeHandler>(*nodes.back()));
    lanes.push_back(handlers.back().get());
  }
  services::serve_lanes(
      services::lane_service(cfg, "ferry-device-node", "device-node", engine::Role::kListen,
                             std::to_string(cfg.devices.size()) + " device(s)"),
      lanes, services::engine_options(cfg.transport, cfg.idle, cfg.housekeeping_every), drops);
}

config::DeviceNodeConfig load(const char *path) {
  config::DeviceNodeConfig cfg = config::load_device_node(path);
  config::check_device_node_files(cfg);  // PSKs readable: nothing starts otherwise
  device::check_device_models(cfg);      // before the EAL or anything else starts
  return cfg;
}

}  // namespace

int main(int argc, char **argv) {
  return services::service_main(
      argc, argv, "ferry-device-node",
      "The accelerator-host service: opens sealed guest requests and runs the device models.", load,
      serve);
}
