// A service's command line, parsed once for both services (getopt_long):
//
//   NAME [--log-level LEVEL]... CONFIG.yaml    serve CONFIG.yaml
//   NAME --check CONFIG.yaml                   load and validate it as a start would, start nothing
//   NAME --help | --version
#pragma once

#include <string>
#include <vector>

namespace ferry::services {

struct CommandLine {
  enum class Action { kServe, kCheck, kExit };
  Action action = Action::kServe;
  std::string config;                   // CONFIG.yaml (kServe, kCheck)
  std::vector<std::string> log_levels;  // each --log-level, passed to the EAL as given
  int exit_status = 0;                  // kExit: 0 after --help/--version, 2 on a usage error
};

// Parses argv. --help and --version print to stdout; a usage error (unknown option, missing
// argument, no or two CONFIG files, a LEVEL DPDK would refuse) prints the usage to stderr.
// Both come back as Action::kExit with the status to exit with. `summary`: what the service
// does, one line, for --help.
CommandLine parse_command_line(int argc, char **argv, const char *name, const char *summary);

// Whether the EAL takes `level` for --log-level: LEVEL, TYPE:LEVEL or REGEX,LEVEL, where LEVEL
// is 1-8 or a name (emergency, alert, critical, error, warning, notice, info, debug).
bool is_eal_log_level(const std::string &level);

}  // namespace ferry::services
