// What both service mains do around their handlers, written once: main() (usage, loading the
// configuration, exit codes) and serving lanes (engines, telemetry, ready file, the loop).
#pragma once

#include <cstdint>
#include <cstdio>
#include <exception>
#include <span>
#include <string>

#include "ferry/config/config.h"
#include "ferry/engine/eal.h"
#include "ferry/engine/engine.h"
#include "ferry/engine/options.h"
#include "ferry/engine/transport.h"
#include "ferry/proto/idle.h"
#include "options_from_config.h"
#include "service.h"

namespace ferry::services {

// A service as serve_lanes runs it (lane_service() fills it from the service's YAML).
struct LaneService {
  const char *name = "";            // "ferry-dataplane": prefix of its lines on stderr
  const char *telemetry_role = "";  // the role /ferry/info reports
  engine::Role role = engine::Role::kConnect;
  std::string serving;  // what it serves, for the start line: "2 guest(s)"
  engine::TransportOptions transport;
  engine::FaultOptions faults;
  proto::IdlePolicy idle;
  uint32_t housekeeping_every = 1;
  std::string ready_file;
};

template <class Cfg>
LaneService lane_service(const Cfg &cfg, const char *name, const char *telemetry_role,
                         engine::Role role, std::string serving) {
  return LaneService{name,
                     telemetry_role,
                     role,
                     std::move(serving),
                     transport_options(cfg.transport),
                     fault_options(cfg.faults),
                     cfg.idle,
                     cfg.housekeeping_every,
                     cfg.ready_file};
}

// Runs one engine per handler (the engine of lane l drives handlers[l]) over the lanes'
// transports, with fault injection and the test drop hook applied; publishes telemetry, writes
// the ready file and polls until SIGINT/SIGTERM, then withdraws telemetry, removes the ready
// file and prints the totals. The handlers outlive the call. Throws on set-up failure.
void serve_lanes(const LaneService &svc, std::span<engine::RecordHandler *const> handlers,
                 const engine::EngineOptions &opt, const TestDrops &drops);

// A service's main(): usage, `load(path)` (a config::ConfigError exits kExitConfigError), the
// signal handlers, the EAL up, `serve(cfg, drops)`, the EAL down. Anything thrown after loading
// exits kExitRuntimeError with the ready file removed and the EAL released.
template <class Load, class Serve>
int service_main(int argc, char **argv, const char *name, Load load, Serve serve) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CONFIG.yaml\n", name);
    return kExitConfigError;
  }
  decltype(load(argv[1])) cfg;
  try {
    cfg = load(argv[1]);
  } catch (const config::ConfigError &e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return kExitConfigError;
  }
  install_signal_handlers();
  try {
    engine::eal_init(eal_options(cfg.eal));
    serve(cfg, test_drops_from_env());
    engine::eal_cleanup();
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    remove_ready_file(cfg.ready_file);
    engine::eal_cleanup();
    return kExitRuntimeError;
  }
}

}  // namespace ferry::services
