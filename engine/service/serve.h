// What both service mains do around their handlers, written once: main() (the command line,
// loading the configuration, --check, exit codes) and serving lanes (engines, telemetry, ready
// file, the loop).
#pragma once

#include <cstdint>
#include <cstdio>
#include <exception>
#include <span>
#include <string>

#include "command_line.h"
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
// the ready file and tells systemd READY=1 (sd_notify.h), polls until SIGINT/SIGTERM, tells
// systemd STOPPING=1, then withdraws telemetry, removes the ready file and prints the totals. The handlers outlive the call. Throws on set-up failure.
void serve_lanes(const LaneService &svc, std::span<engine::RecordHandler *const> handlers,
                 const engine::EngineOptions &opt, const TestDrops &drops);

// A service's main(): the command line (command_line.h), `load(path)` (a config::ConfigError
// exits kExitConfigError), then either --check's "CONFIG: ok" and exit 0 with nothing started,
// or the signal handlers, the EAL up (with each --log-level), `serve(cfg, drops)`, the EAL down.
// Anything thrown after loading exits kExitRuntimeError with the ready file removed and the
// EAL released. `summary`: what the service does, one line, for --help.
template <class Load, class Serve>
int service_main(int argc, char **argv, const char *name, const char *summary, Load load,
                 Serve serve) {
  const CommandLine cl = parse_command_line(argc, argv, name, summary);
  if (cl.action == CommandLine::Action::kExit) return cl.exit_status;
  decltype(load(cl.config.c_str())) cfg;
  try {
    cfg = load(cl.config.c_str());
  } catch (const config::ConfigError &e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return kExitConfigError;
  }
  if (cl.action == CommandLine::Action::kCheck) {
    std::printf("%s: ok\n", cl.config.c_str());
    return 0;
  }
  install_signal_handlers();
  try {
    engine::EalOptions eal = eal_options(cfg.eal);
    for (const std::string &level : cl.log_levels) eal.extra_args.push_back("--log-level=" + level);
    engine::eal_init(eal);
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
