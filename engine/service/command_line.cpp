#include "service/command_line.h"

#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "service/service.h"

namespace ferry::services {

namespace {

void print_usage(std::FILE *to, const char *name, const char *summary) {
  std::fprintf(
      to,
      "usage: %1$s [--log-level LEVEL]... CONFIG.yaml\n"
      "       %1$s --check CONFIG.yaml\n"
      "       %1$s --help | --version\n"
      "%2$s\n"
      "\n"
      "  -c, --check CONFIG.yaml  load and validate CONFIG.yaml as a start would (every\n"
      "                           file it names included), print \"CONFIG.yaml: ok\" or\n"
      "                           the error (file:line: key), exit 0 or 2; starts nothing\n"
      "      --log-level LEVEL    DPDK's --log-level, passed to the EAL; repeatable.\n"
      "                           LEVEL, TYPE:LEVEL or REGEX,LEVEL, where LEVEL is 1-8 or\n"
      "                           emergency, alert, critical, error, warning, notice,\n"
      "                           info, debug (e.g. --log-level pmd.net.memif:debug).\n"
      "                           The services' own types: ferry.engine, ferry.relay,\n"
      "                           ferry.node (e.g. --log-level 'ferry.*:debug')\n"
      "  -h, --help               this text\n"
      "  -V, --version            the version\n"
      "\n"
      "Exit status: 0 after SIGINT/SIGTERM, 1 when serving fails, 2 on a bad command\n"
      "line or configuration (nothing started).\n",
      name, summary);
}

CommandLine exit_with(int status) {
  CommandLine c;
  c.action = CommandLine::Action::kExit;
  c.exit_status = status;
  return c;
}

CommandLine usage_error(const char *name, const char *summary, const std::string &why) {
  if (!why.empty()) std::fprintf(stderr, "%s: %s\n", name, why.c_str());
  print_usage(stderr, name, summary);
  return exit_with(kExitConfigError);
}

}  // namespace

bool is_eal_log_level(const std::string &arg) {
  // The EAL splits at the first ',' (a regular expression before it), else at the first ':'
  // (a glob before it); either way the type part must not be empty.
  size_t split = arg.find(',');
  if (split == std::string::npos) split = arg.find(':');
  if (split == 0) return false;
  const std::string level = split == std::string::npos ? arg : arg.substr(split + 1);
  static const char *const kNames[] = {"emergency", "alert",  "critical", "error",
                                       "warning",   "notice", "info",     "debug"};
  for (const char *n : kNames)
    if (level == n) return true;
  return level.size() == 1 && level[0] >= '1' && level[0] <= '8';
}

CommandLine parse_command_line(int argc, char **argv, const char *name, const char *summary) {
  enum { kLogLevel = 256 };
  static const option kOptions[] = {{"check", required_argument, nullptr, 'c'},
                                    {"log-level", required_argument, nullptr, kLogLevel},
                                    {"help", no_argument, nullptr, 'h'},
                                    {"version", no_argument, nullptr, 'V'},
                                    {nullptr, 0, nullptr, 0}};
  CommandLine c;
  opterr = 0;  // the messages below name the service, not argv[0]
  optind = 1;
  for (;;) {
    const int o = getopt_long(argc, argv, ":c:hV", kOptions, nullptr);
    if (o == -1) break;
    switch (o) {
      case 'h':
        print_usage(stdout, name, summary);
        return exit_with(0);
      case 'V':
        std::printf("%s %s\n", name, FERRY_VERSION);
        return exit_with(0);
      case 'c':
        if (c.action == CommandLine::Action::kCheck)
          return usage_error(name, summary, "--check given twice");
        c.action = CommandLine::Action::kCheck;
        c.config = optarg;
        break;
      case kLogLevel:
        if (!is_eal_log_level(optarg))
          return usage_error(
              name, summary,
              std::string("--log-level: '") + optarg + "' is not LEVEL, TYPE:LEVEL or REGEX,LEVEL");
        c.log_levels.emplace_back(optarg);
        break;
      case ':':  // optopt: the option's value in kOptions
        return usage_error(
            name, summary,
            std::string(optopt == 'c' ? "--check" : "--log-level") + " needs an argument");
      default:  // '?': optopt is an unknown short option, 0 for a long one (just passed)
        return usage_error(name, summary,
                           "unknown option " + (optopt != 0 ? std::string("-") + char(optopt)
                                                            : std::string(argv[optind - 1])));
    }
  }
  const int positional = argc - optind;
  if (c.action == CommandLine::Action::kCheck) {
    if (positional != 0) return usage_error(name, summary, "--check takes one CONFIG.yaml");
    return c;
  }
  if (positional != 1)
    return usage_error(name, summary,
                       positional == 0 ? "no CONFIG.yaml given" : "more than one CONFIG.yaml");
  c.config = argv[optind];
  return c;
}

}  // namespace ferry::services
