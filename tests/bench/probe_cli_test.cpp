// ferry-probe's command line (and ferry-probe-local's, the same source): --help, --version,
// usage errors exit 2 before any device opens, options in any order and as --opt=N.
#include <gtest/gtest.h>

#include <string>

#include "cli_check.h"

namespace {

using ferry::testing::CommandResult;
using ferry::testing::run_command;

TEST(ProbeCommandLine, help_version_and_an_unknown_option_answer_like_every_binary) {
  ferry::testing::expect_standard_command_line(FERRY_PROBE);
  ferry::testing::expect_standard_command_line(FERRY_PROBE_LOCAL);
}

TEST(ProbeCommandLine, a_bad_value_or_missing_argument_exits_2_naming_the_option) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{FERRY_PROBE, "g.yaml", "mmio_read", "--size"}, "--size needs a value"},
      {{FERRY_PROBE, "g.yaml", "mmio_read", "--iters", "-3"}, "--iters needs an unsigned"},
      {{FERRY_PROBE, "g.yaml", "mmio_read", "--cdf", "20000"}, "--cdf must be at most 10000"},
      {{FERRY_PROBE, "g.yaml"}, "missing GUEST.yaml or OP"},
      {{FERRY_PROBE, "g.yaml", "mmio_read", "extra"}, "too many arguments"}};
  for (const auto &[argv, why] : cases) {
    const CommandResult r = run_command(argv);
    EXPECT_EQ(r.status, 2) << why;
    EXPECT_NE(r.err.find("ferry-probe: " + why), std::string::npos) << r.err;
  }
}

TEST(ProbeCommandLine, options_go_anywhere_and_take_the_equals_form) {
  // The local baseline runs the real edu model in-process: options before the positional
  // arguments, and --opt=N, measure as they do after them.
  const CommandResult r = run_command(
      {FERRY_PROBE_LOCAL, "--iters=50", "--warmup", "5", "local:edu", "mmio_read", "--size=8"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"size\": 8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"samples\": 50"), std::string::npos) << r.out;
}

}  // namespace
