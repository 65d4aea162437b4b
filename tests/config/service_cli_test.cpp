// The services' command line (engine/service/command_line.cpp): --help, --version, usage
// errors, and --check, which loads and validates a configuration as a start would and starts
// nothing: no ready file, no region file, no DPDK runtime directory, no hugepage files.
#include <glob.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "cli_check.h"
#include "lab.h"
#include "require.h"
#include "service_path.h"

namespace {

using ferry::testing::CommandResult;
using ferry::testing::run_command;

const char *kServices[] = {"ferry-dataplane", "ferry-device-node"};

std::string exe(const std::string &service) {
  return std::string(FERRY_BUILD_ROOT) + "/" + ferry::testing::service_path(service);
}

// The number of lines in `path`: the line of its last one.
std::string last_line_number(const std::string &path) {
  std::ifstream f(path);
  std::string l;
  int n = 0;
  while (std::getline(f, l)) ++n;
  return std::to_string(n);
}

bool exists(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

class ServiceCommandLine : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/ferry-svc-cli-" + std::to_string(getpid());
    prefix_ = "fcli" + std::to_string(getpid());
    mkdir(dir_.c_str(), 0700);
    std::ofstream(dir_ + "/psk") << std::string(64, 'a') << "\n";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  // A configuration `service` would start with (kernel UDP on loopback); `extra` is appended.
  std::string write_config(const std::string &service, const std::string &extra = "") const {
    std::string s = "eal:\n  lcores: [0]\n  file_prefix: " + prefix_ +
                    "\n"
                    "transport:\n  kind: kernel-udp\n"
                    "  local: {ip: 127.0.0.1, port: 7000}\n"
                    "  peer: {ip: 127.0.0.1, port: 7001}\n"
                    "ready_file: " +
                    dir_ + "/ready\n";
    if (service == "ferry-device-node")
      s += "devices:\n  - id: 1\n    guests: [{id: 1, psk_file: " + dir_ +
           "/psk}]\n    model: edu\n";
    else
      s += "guests:\n  - path: " + dir_ + "/region\n    channel: 1\n";
    const std::string path = dir_ + "/" + service + ".yaml";
    std::ofstream(path) << s << extra;
    return path;
  }

  void expect_nothing_started() const {
    EXPECT_FALSE(exists(dir_ + "/ready")) << "ready file written";
    EXPECT_FALSE(exists(dir_ + "/region")) << "region file created";
    EXPECT_FALSE(exists("/var/run/dpdk/" + prefix_)) << "DPDK runtime directory created";
    glob_t g{};
    const std::string pat = "/dev/hugepages/" + prefix_ + "map_*";
    EXPECT_NE(glob(pat.c_str(), 0, nullptr, &g), 0) << "hugepage files created";
    globfree(&g);
  }

  std::string dir_, prefix_;
};

TEST_F(ServiceCommandLine, help_version_and_an_unknown_option_answer_like_every_binary) {
  for (const char *s : kServices) ferry::testing::expect_standard_command_line(exe(s));
}

TEST_F(ServiceCommandLine, help_names_check_and_log_level) {
  for (const char *s : kServices) {
    const CommandResult r = run_command({exe(s), "--help"});
    EXPECT_NE(r.out.find("--check CONFIG.yaml"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--log-level LEVEL"), std::string::npos) << r.out;
  }
}

TEST_F(ServiceCommandLine, check_of_a_good_config_prints_ok_exits_0_and_starts_nothing) {
  for (const char *s : kServices) {
    SCOPED_TRACE(s);
    const std::string cfg = write_config(s);
    const CommandResult r = run_command({exe(s), "--check", cfg});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, cfg + ": ok\n");
    EXPECT_EQ(r.err, "");
    expect_nothing_started();
    EXPECT_EQ(run_command({exe(s), "-c", cfg}).status, 0);  // the short form
  }
}

TEST_F(ServiceCommandLine, check_of_a_bad_config_exits_2_naming_file_line_and_key) {
  for (const char *s : kServices) {
    SCOPED_TRACE(s);
    const std::string cfg = write_config(s, "housekeeping_every: many\n");
    const CommandResult r = run_command({exe(s), "--check", cfg});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find(cfg + ":" + last_line_number(cfg) + ": housekeeping_every: "),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.out, "");
    expect_nothing_started();
  }
}

TEST_F(ServiceCommandLine, check_runs_the_file_checks_a_start_runs) {
  // The dataplane's region directory and the device node's key file are checked by the mains
  // before anything starts; --check runs the same checks.
  const std::string dp = write_config("ferry-dataplane");
  std::ofstream(dp, std::ios::app) << "  - path: " << dir_ << "/no-such-dir/region\n"
                                   << "    channel: 2\n";
  CommandResult r = run_command({exe("ferry-dataplane"), "--check", dp});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(dp + ":12: guests[1].path: "), std::string::npos) << r.err;
  const std::string dn = write_config("ferry-device-node");
  std::remove((dir_ + "/psk").c_str());
  r = run_command({exe("ferry-device-node"), "--check", dn});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(dn + ":11: devices[0].guests[0].psk_file: "), std::string::npos) << r.err;
  expect_nothing_started();
}

TEST_F(ServiceCommandLine, check_of_a_config_with_a_key_written_twice_names_both_lines) {
  for (const char *s : kServices) {
    SCOPED_TRACE(s);
    const std::string cfg = write_config(s, "ready_file: " + dir_ + "/other-ready\n");
    const CommandResult r = run_command({exe(s), "--check", cfg});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find(cfg + ":" + last_line_number(cfg) +
                         ": ready_file: duplicate key (first at line 8)"),
              std::string::npos)
        << r.err;
  }
}

TEST_F(ServiceCommandLine, check_of_a_missing_file_exits_2_naming_it) {
  for (const char *s : kServices) {
    const CommandResult r = run_command({exe(s), "--check", dir_ + "/absent.yaml"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find(dir_ + "/absent.yaml: cannot open"), std::string::npos) << r.err;
  }
}

TEST_F(ServiceCommandLine, usage_errors_exit_2_before_the_config_is_read) {
  for (const char *s : kServices) {
    SCOPED_TRACE(s);
    const std::string cfg = write_config(s);
    for (const std::vector<std::string> &bad : std::vector<std::vector<std::string>>{
             {exe(s), "--check"},                      // no CONFIG
             {exe(s), "--check", cfg, cfg},            // two
             {exe(s), cfg, cfg},                       // two
             {exe(s), "--log-level", "verbose", cfg},  // not a DPDK level
             {exe(s), "--log-level", ":debug", cfg},   // no type before ':'
             {exe(s), cfg, "--log-level"}}) {          // no LEVEL
      const CommandResult r = run_command(bad);
      EXPECT_EQ(r.status, 2) << bad.back();
      EXPECT_NE(r.err.find("usage: " + std::string(s)), std::string::npos) << r.err;
      expect_nothing_started();
    }
  }
}

TEST_F(ServiceCommandLine, log_levels_dpdk_takes_are_accepted_with_check) {
  for (const char *s : kServices) {
    const std::string cfg = write_config(s);
    for (const char *level : {"debug", "7", "pmd.net.memif:debug", "lib.eal,info", "*:error"}) {
      const CommandResult r = run_command({exe(s), "--log-level", level, "--check", cfg});
      EXPECT_EQ(r.status, 0) << level << ": " << r.err;
    }
    EXPECT_EQ(run_command({exe(s), "--log-level=notice", "--check", cfg}).status, 0);
  }
}

// DPDK's own option reaches the EAL of a running service: lib.eal at debug level logs its
// change, and lines the default level (info) keeps quiet.
TEST_F(ServiceCommandLine, log_level_reaches_the_eal_of_a_running_service) {
  FERRY_REQUIRE(geteuid() == 0, "the DPDK EAL (even with no_huge) runs as root here");
  const std::string cfg = dir_ + "/ferry-device-node.yaml";
  const std::string port = std::to_string(ferry::testing::free_port(SOCK_DGRAM));
  std::ofstream(cfg) << "eal: {lcores: [0], no_huge: true, memory_mb: 64, file_prefix: " << prefix_
                     << "}\n"
                     << "transport:\n  kind: kernel-udp\n"
                     << "  local: {ip: 127.0.0.1, port: " << port << "}\n"
                     << "  peer: {ip: 127.0.0.1, port: 9}\n"
                     << "ready_file: " << dir_ << "/ready\n"
                     << "devices:\n  - id: 1\n    guests: [{id: 1, psk_file: " << dir_
                     << "/psk}]\n    model: edu\n";
  const std::string log = dir_ + "/device-node.log";
  {
    ferry::testing::Child dn({exe("ferry-device-node"), "--log-level", "lib.eal:debug", cfg}, log);
    ASSERT_TRUE(ferry::testing::wait_for_file(dir_ + "/ready", dn, 20000)) << dn.log_tail();
    EXPECT_EQ(dn.stop(5000), 0) << dn.log_tail();
    EXPECT_NE(dn.log_tail(1 << 20).find("lib.eal log level changed from info to debug"),
              std::string::npos)
        << dn.log_tail();
  }
  ferry::testing::remove_dpdk_runtime(prefix_);
}

}  // namespace
