// Both services for real over kernel-udp (or kernel-tcp) on a veth between two namespaces made for
// the test (ferry-dataplane in a, ferry-device-node in b), one guest region, and the guest workload
// driver (guest_workload.cpp) run as a child process: the fixture of the restart and rekey
// tests.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "lab.h"
#include "require.h"
#include "service_configs.h"
#include "service_path.h"
#include "services.h"

namespace ferry::testing {

class ServicesLab : public ::testing::Test {
 protected:
  static std::string bin(const std::string &rel) { return build_root() + "/" + rel; }

  // `guest` is what the test sets in the guest's YAML (rekeying, the MMIO timeout); the lab
  // fills in the region, the key and the handshake timeout.
  void up(GuestYaml guest, const std::string &transport = "kernel-udp") {
    FERRY_REQUIRE(running_as_root(), "needs root: namespaces, hugepages");
    FERRY_REQUIRE(ensure_hugepages(64), "needs 64 free 2 MiB hugepages on /dev/hugepages");
    lab_ = std::make_unique<VethLab>(true, true, 1500);
    FERRY_REQUIRE(lab_->ok(), lab_->error());
    dir_ = "/tmp/ferry-restart-" + lab_->ns_a;
    const std::string keys = dir_ + "/keys";
    region_ = "/dev/hugepages/" + lab_->ns_a + "-region1";
    run_cmd("rm -rf " + dir_ + " && mkdir -p " + keys);
    write_random_psk(keys + "/psk");
    mmio_timeout_ms_ = guest.mmio_timeout_ms;
    guest.region = region_;
    guest.psk_file = keys + "/psk";
    guest.handshake_timeout_ms = 1000;
    auto common = [&](ServiceYaml &c, const std::string &who, unsigned lcore) {
      prefix_[who] = "fr-" + lab_->ns_a + "-" + who;
      c.file_prefix = prefix_[who];
      c.lcores = {lcore};
      c.kind = transport;
      c.ready_file = dir_ + "/" + who + ".ready";
    };
    DeviceNodeYaml dn;
    common(dn, "dn", 1);
    dn.devices = {{1, {}, "edu", {}}};
    DataplaneYaml dp;
    common(dp, "dp", 0);
    ASSERT_TRUE(add_guest(guest, dir_ + "/guest.yaml", dn, dp));
    write_text(dir_ + "/device-node.yaml", device_node_yaml(dn));
    write_text(dir_ + "/dataplane.yaml", dataplane_yaml(dp));
    dn_args_ = {"ip",
                "netns",
                "exec",
                lab_->ns_b,
                bin(ferry::testing::service_path("ferry-device-node")),
                dir_ + "/device-node.yaml"};
    dp_args_ = {"ip",
                "netns",
                "exec",
                lab_->ns_a,
                bin(ferry::testing::service_path("ferry-dataplane")),
                dir_ + "/dataplane.yaml"};
    start_dn();
    start_dp();
  }

  void start_dn() {
    std::remove((dir_ + "/dn.ready").c_str());
    dn_ = Child(dn_args_, dir_ + "/dn" + std::to_string(++dn_runs_) + ".log");
    ASSERT_TRUE(wait_for_file(dir_ + "/dn.ready", dn_, 20000)) << dn_.log_tail();
  }
  void start_dp() {
    std::remove((dir_ + "/dp.ready").c_str());
    dp_ = Child(dp_args_, dir_ + "/dp" + std::to_string(++dp_runs_) + ".log");
    ASSERT_TRUE(wait_for_file(dir_ + "/dp.ready", dp_, 20000)) << dp_.log_tail();
  }
  // kill -9: no shutdown code runs.
  static void kill9(Child &c) {
    ASSERT_TRUE(c.running());
    ::kill(c.pid(), SIGKILL);
    c.wait(5000);
    ASSERT_FALSE(c.running());
  }

  // Starts the workload driver; it runs until stop_workload() or max_cycles pairs.
  void start_workload(uint64_t max_cycles = 1'000'000'000, unsigned pace_us = 0,
                      bool keylog = false) {
    keylog_ = keylog ? dir_ + "/keylog" : "-";
    std::remove((dir_ + "/stop").c_str());
    wl_ = Child({bin("tests/services/ferry-guest-workload"), dir_ + "/guest.yaml", dir_ + "/stop",
                 keylog_, std::to_string(max_cycles), std::to_string(pace_us)},
                dir_ + "/workload.log");
  }
  std::string workload_log() const { return wl_.log_tail(1 << 20); }
  // Last "progress N" the workload printed (0 if none).
  uint64_t progress() const {
    const std::string log = workload_log();
    size_t at = log.rfind("progress ");
    return at == std::string::npos ? 0 : std::stoull(log.substr(at + 9));
  }
  size_t count_lines(const std::string &prefix) const {
    const std::string log = workload_log();
    size_t n = 0;
    for (size_t at = log.find(prefix); at != std::string::npos; at = log.find(prefix, at + 1)) {
      if (at == 0 || log[at - 1] == '\n') ++n;
    }
    return n;
  }
  // Waits until the workload has done `more` pairs beyond `from`, in a session newer than the
  // `sessions`-th. False on timeout or exit.
  bool wait_progress(uint64_t at_least, size_t sessions, int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 20) {
      if (progress() >= at_least && count_lines("session ") >= sessions) return true;
      if (!wl_.running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  // Stops the workload and returns its summary fields.
  std::map<std::string, uint64_t> stop_workload() {
    std::ofstream(dir_ + "/stop") << "stop\n";
    EXPECT_EQ(wl_.wait(30000), 0) << workload_log();
    std::map<std::string, uint64_t> out;
    const std::string log = workload_log();
    size_t at = log.rfind("summary ");
    if (at == std::string::npos) return out;
    std::string line = log.substr(at + 8, log.find('\n', at) - at - 8);
    std::regex kv("(\\w+)=(\\d+)");
    for (std::sregex_iterator it(line.begin(), line.end(), kv), end; it != end; ++it)
      out[(*it)[1]] = std::stoull((*it)[2]);
    return out;
  }
  std::vector<std::string> sessions() const {
    std::vector<std::string> out;
    const std::string log = workload_log();
    std::regex re("(^|\\n)session (\\d+)");
    for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it)
      out.push_back((*it)[2]);
    return out;
  }

  void TearDown() override {
    if (wl_.running()) wl_.stop(5000);
    stop_services(dp_, dn_, prefix_);
    if (lab_) {
      run_cmd("rm -f " + region_);
      if (!HasFailure()) run_cmd("rm -rf " + dir_);
    }
  }

  std::unique_ptr<VethLab> lab_;
  std::string dir_, region_, keylog_;
  uint32_t mmio_timeout_ms_ = 500;
  std::map<std::string, std::string> prefix_;
  Child dn_, dp_, wl_;
  int dn_runs_ = 0, dp_runs_ = 0;
  std::vector<std::string> dn_args_, dp_args_;
};

}  // namespace ferry::testing
