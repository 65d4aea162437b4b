// Lanes end to end: both services with two lanes each (one engine per lane on its own lcore),
// two guests on different lanes running the edu example driver at once, over kernel-udp (one
// socket per lane), kernel-tcp (one connection per lane) and DPDK af_packet (the port on the
// main lcore, the lanes on workers behind rte_rings). Each lane's counters are read back
// through telemetry, and both services shut down cleanly. The 8-byte MMIO read round trip of
// a lane-0 guest is printed for comparison with the one-lane figures of services_e2e.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "lab.h"
#include "require.h"
#include "service_path.h"
#include "services.h"

namespace ferry::testing {
namespace {

std::string bin(const std::string &rel) {
  return build_root() + "/" + rel;
}

// The part of a telemetry reply that belongs to `container` ("lane_1", "channel_2").
std::string section(const std::string &json, const std::string &container) {
  const size_t at = json.find("\"" + container + "\"");
  if (at == std::string::npos) return "";
  return json.substr(at, json.find('}', at) - at);
}

class Lanes : public ::testing::Test {
 protected:
  static constexpr int kLanes = 2;

  // Data plane in namespace a, device node in b, both on `kind` with kLanes lanes; guest g
  // (channel g) on lane g - 1; the device is offered on every lane.
  // `dn_kind` empty: the same as `kind`.
  void up(const std::string &kind, std::string dn_kind = "") {
    if (dn_kind.empty()) dn_kind = kind;
    FERRY_REQUIRE(running_as_root(), "needs root: namespaces, hugepages, DPDK vdevs");
    FERRY_REQUIRE(ensure_hugepages(64), "needs 64 free 2 MiB hugepages on /dev/hugepages");
    lab_ = std::make_unique<VethLab>(kind != "af_packet", dn_kind != "af_packet", 1500);
    FERRY_REQUIRE(lab_->ok(), lab_->error());
    dir_ = "/tmp/ferry-lanes-" + lab_->ns_a;
    const std::string keys = dir_ + "/keys";
    run_cmd("rm -rf " + dir_ + " && mkdir -p " + keys);
    std::string guest_keys;  // each guest its own PSK
    for (int g = 1; g <= kLanes; ++g) {
      const std::string psk = keys + "/psk" + std::to_string(g);
      write_random_psk(psk);
      guest_keys += "      - {id: " + std::to_string(g) + ", psk_file: " + psk + "}\n";
      std::ofstream(dir_ + "/guest" + std::to_string(g) + ".yaml")
          << "region: /dev/hugepages/" << lab_->ns_a << "-lane-region" << g << "\n"
          << "queues: 1\nqueue: 0\npsk_file: " << psk << "\ndevice_id: 1\nguest_id: " << g << "\n"
          << "security: confidential\nmmio_timeout_ms: 2000\nhandshake_timeout_ms: 5000\n"
          << "idle: {mode: spin-then-sleep, spin_polls: 50, sleep_us: 5}\n";
    }
    std::ofstream(dir_ + "/device-node.yaml")
        << common("dn", dn_kind, lab_->if_b, VethLab::kIpB, VethLab::kIpA)
        << "devices:\n  - id: 1\n    model: edu\n    guests:\n"
        << guest_keys << "ready_file: " << dir_ << "/dn.ready\n";
    std::ofstream dpf(dir_ + "/dataplane.yaml");
    dpf << common("dp", kind, lab_->if_a, VethLab::kIpA, VethLab::kIpB) << "guests:\n";
    for (int g = 1; g <= kLanes; ++g)
      dpf << "  - {path: /dev/hugepages/" << lab_->ns_a << "-lane-region" << g << ", channel: " << g
          << ", queues: 1, lane: " << g - 1 << "}\n";
    dpf << "ready_file: " << dir_ << "/dp.ready\n";
    dpf.close();
    dn_ =
        Child({"ip", "netns", "exec", lab_->ns_b,
               bin(ferry::testing::service_path("ferry-device-node")), dir_ + "/device-node.yaml"},
              dir_ + "/dn.log");
    ASSERT_TRUE(wait_for_file(dir_ + "/dn.ready", dn_, 20000)) << dn_.log_tail();
    dp_ = Child({"ip", "netns", "exec", lab_->ns_a,
                 bin(ferry::testing::service_path("ferry-dataplane")), dir_ + "/dataplane.yaml"},
                dir_ + "/dp.log");
    ASSERT_TRUE(wait_for_file(dir_ + "/dp.ready", dp_, 20000)) << dp_.log_tail();
  }

  // EAL, transport, idle and lanes of one service. Lcores: kernel transports run lane 0 on
  // the main lcore and lane 1 on a worker; dpdk runs the port on the main lcore and both
  // lanes on workers. The two services start on different CPUs of the two-CPU machine.
  std::string common(const std::string &who, const std::string &kind, const std::string &iface,
                     const char *local, const char *peer) {
    prefix_[who] = "fl-" + lab_->ns_a + "-" + who;
    const bool dn = who == "dn";
    std::string eal =
        "eal:\n  no_huge: true\n  memory_mb: 64\n  file_prefix: " + prefix_[who] + "\n";
    const bool dpdk = kind == "af_packet";
    if (dpdk) {
      eal += std::string("  lcores: [0, 1, 2]\n  cpus: ") + (dn ? "[1, 0, 1]" : "[0, 1, 0]") +
             "\n  vdevs: ['net_af_packet0,iface=" + iface + "']\n";
    } else {
      eal += std::string("  lcores: [0, 1]\n  cpus: ") + (dn ? "[1, 0]" : "[0, 1]") + "\n";
    }
    return eal + "transport:\n  kind: " + (dpdk ? "dpdk\n  port: net_af_packet0" : kind) +
           "\n  local: {ip: " + local + ", port: 7100}\n  peer: {ip: " + peer +
           ", port: 7100}\n  mtu: 1500\n  retransmit_us: 5000\n"
           "idle: {mode: spin-then-sleep, spin_polls: 200, sleep_us: 20}\n"
           "lanes: " +
           std::to_string(kLanes) + "\n";
  }

  int edu(int g, std::string *out) {
    Child c({bin("guest-shim/examples/ferry-edu-example"),
             dir_ + "/guest" + std::to_string(g) + ".yaml"},
            dir_ + "/edu" + std::to_string(g) + ".log");
    int rc = c.wait(60000);
    *out = c.log_tail();
    return rc;
  }

  // Both guests run the edu example at the same time, one per lane.
  void both_lanes_pass() {
    int rc2 = -1;
    std::string out1, out2;
    std::thread second([&] { rc2 = edu(2, &out2); });
    const int rc1 = edu(1, &out1);
    second.join();
    EXPECT_EQ(rc1, 0) << out1 << "\n--- dataplane\n"
                      << dp_.log_tail() << "\n--- device node\n"
                      << dn_.log_tail();
    EXPECT_EQ(rc2, 0) << out2;
  }

  // Every lane of both services carried descriptors, and says so through telemetry.
  void every_lane_counted() {
    const std::string dp = telemetry_query(prefix_["dp"], "/ferry/stats");
    const std::string dn = telemetry_query(prefix_["dn"], "/ferry/stats");
    EXPECT_EQ(json_uint(dp, "lanes"), kLanes) << dp;
    EXPECT_EQ(json_uint(dn, "lanes"), kLanes) << dn;
    uint64_t sum = 0;
    for (int l = 0; l < kLanes; ++l) {
      const std::string name = "lane_" + std::to_string(l);
      const long long tx = json_uint(section(dp, name), "descriptors_tx");
      EXPECT_GT(tx, 0) << name << ": " << dp;
      EXPECT_GT(json_uint(section(dn, name), "descriptors_rx"), 0) << name << ": " << dn;
      EXPECT_GT(json_uint(section(dp, name), "port_frames_rx"), 0) << name << ": " << dp;
      sum += tx > 0 ? tx : 0;
    }
    // The totals come first and add the lanes up.
    EXPECT_EQ(json_uint(dp, "descriptors_tx"), static_cast<long long>(sum)) << dp;
    const std::string ch = telemetry_query(prefix_["dp"], "/ferry/channels");
    EXPECT_EQ(json_uint(section(ch, "channel_1"), "lane"), 0) << ch;
    EXPECT_EQ(json_uint(section(ch, "channel_2"), "lane"), 1) << ch;
    // /ferry/app is a snapshot taken at housekeeping: give it a few passes to catch up.
    std::string app;
    for (int i = 0; i < 60; ++i) {
      app = telemetry_query(prefix_["dn"], "/ferry/app");
      if (json_uint(app, "handshakes") == kLanes) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(json_uint(app, "handshakes"), kLanes) << app;  // one session per lane
    // Each lane's handler is a /ferry/queues source of its own.
    const std::string q = telemetry_query(prefix_["dp"], "/ferry/queues");
    EXPECT_EQ(json_uint(q, "sources"), kLanes) << q;
    EXPECT_NE(q.find("_ch1_"), std::string::npos) << q;
    EXPECT_NE(q.find("_ch2_"), std::string::npos) << q;
    // The same on the device node: a /ferry/queues source per lane.
    const std::string qn = telemetry_query(prefix_["dn"], "/ferry/queues");
    EXPECT_EQ(json_uint(qn, "sources"), kLanes) << qn;
  }

  void TearDown() override {
    // SIGTERM: every lane drains and stops, the port and hugepages are released, exit 0.
    stop_services(dp_, dn_, prefix_);
    if (lab_) {
      struct stat st;
      EXPECT_NE(0, stat(("/dev/hugepages/" + lab_->ns_a + "-lane-region2").c_str(), &st));
      run_cmd("rm -f /dev/hugepages/" + lab_->ns_a + "-lane-region*");
      if (!HasFailure()) run_cmd("rm -rf " + dir_);
    }
  }

  std::unique_ptr<VethLab> lab_;
  std::string dir_;
  std::map<std::string, std::string> prefix_;
  Child dn_, dp_;
};

TEST_F(Lanes, two_guests_on_two_lanes_pass_at_once_over_kernel_udp) {
  up("kernel-udp");
  if (HasFatalFailure() || IsSkipped()) return;
  both_lanes_pass();
  every_lane_counted();
  measure_mmio_read("kernel-udp-2-lanes", dir_ + "/guest1.yaml", dir_ + "/latency.log");
}

TEST_F(Lanes, two_guests_on_two_lanes_pass_at_once_over_kernel_tcp) {
  up("kernel-tcp");
  if (HasFatalFailure() || IsSkipped()) return;
  both_lanes_pass();
  every_lane_counted();
  const std::string dp = telemetry_query(prefix_["dp"], "/ferry/stats");
  EXPECT_EQ(json_uint(dp, "connects"), kLanes) << dp;  // one connection per lane
}

TEST_F(Lanes, two_guests_on_two_lanes_pass_at_once_over_dpdk_rings) {
  up("af_packet");
  if (HasFatalFailure() || IsSkipped()) return;
  both_lanes_pass();
  every_lane_counted();
  const std::string dp = telemetry_query(prefix_["dp"], "/ferry/stats");
  EXPECT_GE(json_uint(dp, "arp_rx"), 1) << dp;  // the port lcore resolved the peer
  EXPECT_EQ(json_uint(dp, "ring_full"), 0) << dp;
  measure_mmio_read("dpdk-af_packet-2-lanes", dir_ + "/guest1.yaml", dir_ + "/latency.log");
}

// Lane i is the port pair (port + i) on the wire, whoever implements it: DPDK rings on the
// data plane's side, one kernel socket per lane on the device node's.
TEST_F(Lanes, two_lanes_pass_with_dpdk_rings_on_one_side_and_kernel_udp_on_the_other) {
  up("af_packet", "kernel-udp");
  if (HasFatalFailure() || IsSkipped()) return;
  both_lanes_pass();
  every_lane_counted();
}

}  // namespace
}  // namespace ferry::testing
