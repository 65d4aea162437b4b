// The service binaries on bad configuration files: each error names the file, the key and the
// line, the process exits with status 2, and nothing has started: no ready file, no region
// file, no DPDK runtime directory, no hugepage files of its file prefix.
#include <fcntl.h>
#include <glob.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>
#include "service_path.h"

extern char **environ;

namespace {

struct RunResult {
  int status = -1;
  std::string output;
};

RunResult run(const std::string &exe, const std::string &config) {
  RunResult r;
  const std::string log = config + ".log";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  char *argv[] = {const_cast<char *>(exe.c_str()), const_cast<char *>(config.c_str()), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, environ) == 0) {
    int st = 0;
    waitpid(pid, &st, 0);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  posix_spawn_file_actions_destroy(&fa);
  std::ifstream f(log);
  std::stringstream ss;
  ss << f.rdbuf();
  r.output = ss.str();
  std::remove(log.c_str());
  return r;
}

bool exists(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

size_t hugepage_files(const std::string &prefix) {
  glob_t g{};
  const std::string pat = "/dev/hugepages/" + prefix + "map_*";
  size_t n = glob(pat.c_str(), 0, nullptr, &g) == 0 ? g.gl_pathc : 0;
  globfree(&g);
  return n;
}

class ServiceConfigErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/ferry-svc-config-" + std::to_string(getpid());
    prefix_ = "fsc" + std::to_string(getpid());
    mkdir(dir_.c_str(), 0700);
    std::ofstream(dir_ + "/psk") << std::string(64, 'a') << "\n";
    std::ofstream(dir_ + "/short-psk") << "abcd\n";
    mkdir((dir_ + "/psk-dir").c_str(), 0700);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  // A valid file for `service` with `line` (1-based, counting from the file's start) replaced
  // by `bad`: the only error is that line.
  std::string valid(const std::string &service) const {
    std::string s =
        "eal:\n"              // 1
        "  lcores: [0]\n"     // 2
        "  no_huge: false\n"  // 3
        "  file_prefix: " +
        prefix_ +
        "\n"                                      // 4
        "  allow: []\n"                           // 5
        "transport:\n"                            // 6
        "  kind: kernel-udp\n"                    // 7
        "  local: {ip: 127.0.0.1, port: 7000}\n"  // 8
        "  peer: {ip: 127.0.0.1, port: 7001}\n"   // 9
        "  mtu: 1500\n"                           // 10
        "ready_file: " +
        dir_ + "/ready\n";  // 11
    if (service == "ferry-device-node")
      s += "devices:\n"   // 12
           "  - id: 1\n"  // 13
           "    guests: [{id: 1, psk_file: " +
           dir_ +
           "/psk}]\n"           // 14
           "    model: edu\n";  // 15
    else
      s += "guests:\n"  // 12
           "  - path: " +
           dir_ +
           "/region\n"          // 13
           "    channel: 1\n";  // 14
    return s;
  }
  static std::string replace_line(const std::string &text, int line, const std::string &bad) {
    std::istringstream in(text);
    std::string out, l;
    for (int n = 1; std::getline(in, l); ++n) out += (n == line ? bad : l) + "\n";
    return out;
  }

  // Runs `service` on the valid file with `line` replaced; checks status 2, the message (at
  // `error_line` when the replacement has more than one line) and that nothing started.
  void expect_refused(const std::string &service, int line, const std::string &bad,
                      const std::string &key, int error_line = 0) {
    const std::string cfg = dir_ + "/" + service + "-" + std::to_string(line) + ".yaml";
    std::ofstream(cfg) << replace_line(valid(service), line, bad);
    const RunResult r =
        run(std::string(FERRY_BUILD_ROOT) + "/" + ferry::testing::service_path(service), cfg);
    SCOPED_TRACE(service + " with line " + std::to_string(line) + " '" + bad + "'");
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(cfg + ":" + std::to_string(error_line ? error_line : line) + ":"),
              std::string::npos)
        << "no file:line in: " << r.output;
    EXPECT_NE(r.output.find(key + ":"), std::string::npos) << "no key in: " << r.output;
    expect_nothing_started();
  }
  void expect_nothing_started() const {
    EXPECT_FALSE(exists(dir_ + "/ready")) << "ready file written";
    EXPECT_FALSE(exists(dir_ + "/region")) << "region file created";
    EXPECT_FALSE(exists("/var/run/dpdk/" + prefix_)) << "DPDK runtime directory created";
    EXPECT_EQ(hugepage_files(prefix_), 0u) << "hugepage files created";
  }

  std::string dir_, prefix_;
};

const char *kServices[] = {"ferry-dataplane", "ferry-device-node"};

TEST_F(ServiceConfigErrors, an_unknown_key_exits_2_naming_file_key_and_line) {
  for (const char *s : kServices) expect_refused(s, 10, "  colour: blue", "transport.colour");
}

TEST_F(ServiceConfigErrors, a_wrong_type_exits_2_naming_file_key_and_line) {
  for (const char *s : kServices) expect_refused(s, 10, "  mtu: big", "transport.mtu");
  for (const char *s : kServices) expect_refused(s, 3, "  no_huge: maybe", "eal.no_huge");
  for (const char *s : kServices)
    expect_refused(s, 5, "  secondary_processes: 2", "eal.secondary_processes");
  for (const char *s : kServices) expect_refused(s, 2, "  lcores: 0", "eal.lcores");
}

TEST_F(ServiceConfigErrors, an_out_of_range_value_exits_2_naming_file_key_and_line) {
  for (const char *s : kServices) expect_refused(s, 10, "  mtu: 100", "transport.mtu");
  for (const char *s : kServices)
    expect_refused(s, 8, "  local: {ip: 127.0.0.1, port: 70000}", "transport.local.port");
  expect_refused("ferry-dataplane", 14, "    channel: 0", "guests[0].channel");
  expect_refused("ferry-device-node", 13, "  - id: 0", "devices[0].id");
  // Ranges the model itself checks (edu: dma_buffer_size 64 B .. 16 MiB).
  expect_refused("ferry-device-node", 15, "    model: edu\n    params: {dma_buffer_size: 1}",
                 "devices[0].params.dma_buffer_size", 16);
}

// The device node's model table (model_factory.cpp) checks models and their parameters before
// anything starts; the configuration only carries them.
TEST_F(ServiceConfigErrors, an_unknown_model_or_model_parameter_exits_2_naming_file_key_and_line) {
  expect_refused("ferry-device-node", 15, "    model: gpu", "devices[0].model");
  expect_refused("ferry-device-node", 15, "    model: accel\n    params: {dma_buffer_size: 4096}",
                 "devices[0].params.dma_buffer_size", 16);
}

TEST_F(ServiceConfigErrors, a_bad_pci_address_exits_2_naming_file_key_and_line) {
  for (const char *s : kServices) {
    expect_refused(s, 5, "  allow: ['0000:00:1f.9']", "eal.allow");  // function > 7
    expect_refused(s, 5, "  allow: ['0000:00:20.0']", "eal.allow");  // device > 1f
    expect_refused(s, 5, "  allow: ['zz:00.0']", "eal.allow");
    expect_refused(s, 5, "  allow: [' 00:01.0']", "eal.allow");
    expect_refused(s, 7, "  kind: dpdk\n  port: '0000:g0:00.0'", "transport.port", 8);
  }
}

TEST_F(ServiceConfigErrors, an_unreadable_psk_exits_2_naming_file_key_and_line) {
  const std::string svc = "ferry-device-node";
  expect_refused(svc, 14, "    guests: [{id: 1, psk_file: " + dir_ + "/no-such-psk}]",
                 "devices[0].guests[0].psk_file");
  expect_refused(svc, 14, "    guests: [{id: 1, psk_file: " + dir_ + "/short-psk}]",
                 "devices[0].guests[0].psk_file");
  expect_refused(svc, 14, "    guests: [{id: 1, psk_file: " + dir_ + "/psk-dir}]",
                 "devices[0].guests[0].psk_file");
  expect_refused(svc, 14, "    guests: [{id: 1, psk_file: /dev/zero}]",  // never ends
                 "devices[0].guests[0].psk_file");
}

TEST_F(ServiceConfigErrors, a_region_in_a_missing_directory_exits_2_naming_file_key_and_line) {
  expect_refused("ferry-dataplane", 13, "  - path: " + dir_ + "/no-such-dir/region",
                 "guests[0].path");
}

TEST_F(ServiceConfigErrors, a_missing_file_exits_2_naming_it) {
  for (const char *s : kServices) {
    const std::string cfg = dir_ + "/absent.yaml";
    const RunResult r =
        run(std::string(FERRY_BUILD_ROOT) + "/" + ferry::testing::service_path(s), cfg);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(cfg + ": cannot open"), std::string::npos) << r.output;
    expect_nothing_started();
  }
}

TEST_F(ServiceConfigErrors, invalid_yaml_exits_2_naming_file_and_line) {
  for (const char *s : kServices) {
    const std::string cfg = dir_ + "/broken.yaml";
    std::ofstream(cfg) << replace_line(valid(s), 9, "  peer: {ip: 127.0.0.1, port: 7001");
    const RunResult r =
        run(std::string(FERRY_BUILD_ROOT) + "/" + ferry::testing::service_path(s), cfg);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(cfg + ":"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("not valid YAML"), std::string::npos) << r.output;
    expect_nothing_started();
  }
}

}  // namespace
