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
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "lab.h"
#include "require.h"
#include "service_configs.h"
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
    DeviceNodeYaml dn;
    set_service(dn, "dn", dn_kind, lab_->if_b);
    dn.devices = {{1, {}, "edu", {}}};
    DataplaneYaml dp;
    set_service(dp, "dp", kind, lab_->if_a);
    for (int g = 1; g <= kLanes; ++g) {
      GuestYaml guest;  // each guest its own PSK
      guest.region = "/dev/hugepages/" + lab_->ns_a + "-lane-region" + std::to_string(g);
      guest.psk_file = keys + "/psk" + std::to_string(g);
      guest.guest_id = g;
      write_random_psk(guest.psk_file);
      ASSERT_TRUE(add_guest(guest, dir_ + "/guest" + std::to_string(g) + ".yaml", dn, dp, g - 1));
    }
    write_text(dir_ + "/device-node.yaml", device_node_yaml(dn));
    write_text(dir_ + "/dataplane.yaml", dataplane_yaml(dp));
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

  // EAL, transport and lanes of one service. Lcores: kernel transports run lane 0 on the
  // main lcore and lane 1 on a worker; dpdk runs the port on the main lcore and both lanes on
  // workers. The two services start on different CPUs of the two-CPU machine.
  void set_service(ServiceYaml &c, const std::string &who, const std::string &kind,
                   const std::string &iface) {
    prefix_[who] = "fl-" + lab_->ns_a + "-" + who;
    c.file_prefix = prefix_[who];
    c.ready_file = dir_ + "/" + who + ".ready";
    const bool dn = who == "dn";
    if (kind == "af_packet") {
      c.lcores = {0, 1, 2};
      c.cpus = dn ? std::vector<unsigned>{1, 0, 1} : std::vector<unsigned>{0, 1, 0};
      c.kind = "dpdk";
      c.port = "net_af_packet0";
      c.vdevs = {c.port + ",iface=" + iface};
    } else {
      c.lcores = {0, 1};
      c.cpus = dn ? std::vector<unsigned>{1, 0} : std::vector<unsigned>{0, 1};
      c.kind = kind;
    }
    c.udp_port = 7100;
    c.lanes = kLanes;
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
      // The data plane keeps its regions at exit (a VM may hold one as its BAR).
      struct stat st;
      EXPECT_EQ(0, stat(("/dev/hugepages/" + lab_->ns_a + "-lane-region2").c_str(), &st));
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
