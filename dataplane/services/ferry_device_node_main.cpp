// ferry-device-node: the accelerator-host service. Opens requests, runs the device models and
// seals their answers, behind the engine on the configured transport.
//
//   ferry-device-node CONFIG.yaml    exit 0 after SIGINT/SIGTERM, 2 on a bad configuration
#include <cstdio>
#include <memory>

#include "device_node_handler.h"
#include "fault_transport.h"
#include "ferry/config/config.h"
#include "ferry/device/device_node.h"
#include "ferry/engine/eal.h"
#include "ferry/engine/engine.h"
#include "ferry/engine/idle.h"
#include "ferry/engine/telemetry.h"
#include "ferry/proto/aead.h"
#include "service.h"

using namespace ferry;

namespace {

int serve(const config::DeviceNodeConfig &cfg) {
  engine::eal_init(cfg.eal);
  const services::TestDrops drops = services::test_drops_from_env();
  {
    // One AEAD engine (one IMB_MGR) for the one polling lcore.
    std::unique_ptr<proto::Aead> aead = proto::Aead::create(proto::AeadImpl::kIpsecMb);
    device::DeviceNode node(cfg, *aead);
    services::DeviceNodeHandler handler(node);
    auto transport = engine::with_faults(
        engine::make_transport(cfg.transport, engine::Role::kListen), cfg.faults);
    if (drops.any()) transport->set_test_drops(drops.next, drops.every, drops.permille, drops.seed);
    engine::Engine eng(
        std::move(transport), handler,
        engine::EngineOptions::from(cfg.transport, cfg.idle, cfg.housekeeping_every));
    engine::telemetry_publish(&eng, "device-node");
    eng.housekeeping(engine::now_ns());
    services::write_ready_file(cfg.ready_file);
    std::fprintf(stderr, "ferry-device-node: serving %zu device(s) over %s (epoch %08x)\n",
                 cfg.devices.size(), std::string(eng.transport().name()).c_str(), eng.epoch());
    eng.run(services::g_stop);
    engine::telemetry_publish(nullptr, nullptr);
    services::remove_ready_file(cfg.ready_file);
    std::fprintf(stderr, "ferry-device-node: stopped (frames tx %llu rx %llu, retransmits %llu)\n",
                 static_cast<unsigned long long>(eng.counters().frames_tx.get()),
                 static_cast<unsigned long long>(eng.counters().frames_rx.get()),
                 static_cast<unsigned long long>(eng.counters().retransmits.get()));
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
