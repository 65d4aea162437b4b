// ferry-device-node: the accelerator-host service. Opens requests, runs the device models and
// seals their answers, behind the engine on the configured transport.
//
//   ferry-device-node CONFIG.yaml    exit 0 after SIGINT/SIGTERM, 2 on a bad configuration
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <vector>

#include "device_node_handler.h"
#include "ferry/config/config.h"
#include "ferry/device/device_node.h"
#include "ferry/engine/eal.h"
#include "ferry/engine/engine.h"
#include "ferry/engine/lanes.h"
#include "ferry/engine/telemetry.h"
#include "ferry/proto/aead.h"
#include "ferry/proto/idle.h"
#include "service/lane_engines.h"
#include "service/options_from_config.h"
#include "service/service.h"

using namespace ferry;

namespace {

// The models check their parameters' ranges; doing it here, before the EAL or anything else
// starts, makes an out-of-range value a configuration error at the parameter's line.
void check_model_params(const config::DeviceNodeConfig &cfg) {
  for (const config::DeviceConfig &d : cfg.devices) {
    for (const auto &[key, value] : d.params) {
      try {
        device::check_model(d.model, {{key, value}});
      } catch (const std::invalid_argument &e) {
        const auto it = d.param_sources.find(key);
        if (it == d.param_sources.end()) throw config::ConfigError(cfg.file, 0, key, e.what());
        throw config::ConfigError(cfg.file, it->second.line, it->second.key, e.what());
      }
    }
    try {
      device::check_model(d.model, d.params);  // what only the combination can break
    } catch (const std::invalid_argument &e) {
      const auto first = d.param_sources.begin();
      if (first == d.param_sources.end())
        throw config::ConfigError(cfg.file, 0, "devices", e.what());
      throw config::ConfigError(cfg.file, first->second.line, first->second.key, e.what());
    }
  }
}

// The configuration lane `lane` serves: the devices offered on it (its own `lane`, or all).
config::DeviceNodeConfig lane_config(const config::DeviceNodeConfig &cfg, uint32_t lane) {
  config::DeviceNodeConfig c = cfg;
  c.devices.clear();
  for (const auto &d : cfg.devices)
    if (d.lane < 0 || static_cast<uint32_t>(d.lane) == lane) c.devices.push_back(d);
  return c;
}

int serve(const config::DeviceNodeConfig &cfg) {
  engine::eal_init(services::eal_options(cfg.eal));
  const services::TestDrops drops = services::test_drops_from_env();
  {
    // Per lane: one AEAD engine (one IMB_MGR) and one device node core, for its one lcore.
    std::vector<std::unique_ptr<proto::Aead>> aeads;
    std::vector<std::unique_ptr<device::DeviceNode>> nodes;
    std::vector<std::unique_ptr<services::DeviceNodeHandler>> handlers;
    for (uint32_t l = 0; l < cfg.lanes; ++l) {
      aeads.push_back(proto::Aead::create(proto::AeadImpl::kIpsecMb));
      device::NodeOptions nopt;
      nopt.dma_timeout_ns = uint64_t{cfg.dma_timeout_ms} * 1000000;
      nopt.idle_timeout_ns = uint64_t{cfg.session_idle_timeout_ms} * 1000000;
      nodes.push_back(
          std::make_unique<device::DeviceNode>(lane_config(cfg, l), *aeads.back(), nopt));
      handlers.push_back(std::make_unique<services::DeviceNodeHandler>(*nodes.back()));
    }
    engine::LaneTransports lt = engine::make_lane_transports(
        services::transport_options(cfg.transport), engine::Role::kListen, cfg.lanes);
    const engine::EngineOptions opt =
        services::engine_options(cfg.transport, cfg.idle, cfg.housekeeping_every);
    services::LaneEngines engines =
        services::make_lane_engines(lt, handlers, services::fault_options(cfg.faults), drops, opt);
    const std::vector<engine::Engine *> &lanes = engines.lanes;
    engine::telemetry_publish(lanes, lt.port_counters(), "device-node");
    lt.maintain_port(proto::now_ns());
    for (engine::Engine *e : lanes) e->housekeeping(proto::now_ns());
    services::write_ready_file(cfg.ready_file);
    std::fprintf(stderr,
                 "ferry-device-node: serving %zu device(s) over %s on %u lane(s) (stream %08x)\n",
                 cfg.devices.size(), std::string(lanes[0]->transport().name()).c_str(), cfg.lanes,
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
    std::fprintf(stderr, "ferry-device-node: stopped (frames tx %llu rx %llu, retransmits %llu)\n",
                 static_cast<unsigned long long>(tx), static_cast<unsigned long long>(rx),
                 static_cast<unsigned long long>(re));
  }
  engine::eal_cleanup();
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ferry-device-node CONFIG.yaml\n");
    return services::kExitConfigError;
  }
  config::DeviceNodeConfig cfg;
  try {
    cfg = config::load_device_node(argv[1]);
    config::check_device_node_files(cfg);  // PSKs readable: nothing starts otherwise
    check_model_params(cfg);
  } catch (const config::ConfigError &e) {
    std::fprintf(stderr, "ferry-device-node: %s\n", e.what());
    return services::kExitConfigError;
  }
  services::install_signal_handlers();
  try {
    return serve(cfg);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "ferry-device-node: %s\n", e.what());
    services::remove_ready_file(cfg.ready_file);
    engine::eal_cleanup();
    return services::kExitRuntimeError;
  }
}
