// Both services for real, end to end: ferry-device-node in one namespace, ferry-dataplane in
// the other, a veth between them, guest regions in hugetlbfs, and the edu example driver (the
// guest C API only) passing over every transport: kernel-udp, kernel-tcp, DPDK af_packet,
// af_xdp and memif, DPDK on one side with kernel-udp on the other; two guests at once; lost
// frames; counters through telemetry; a data plane that cannot read any key. Each transport
// also reports the 8-byte MMIO read round trip (ferry-mmio-latency).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "config_file.h"
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

// How one side of the link is set up.
struct Side {
  std::string kind;  // kernel-udp, kernel-tcp, af_packet, af_xdp, memif
  bool dpdk() const { return kind == "af_packet" || kind == "af_xdp" || kind == "memif"; }
  bool huge() const { return kind == "memif"; }
};

class E2e : public ::testing::Test {
 protected:
  // Makes the lab and starts both services. `dp` runs in namespace a (CVM host, 198.18.0.1),
  // `dn` in namespace b (accelerator host, 198.18.0.2).
  // Each guest region has `queues` queues; guest g's driver uses queue (g - 1) % queues.
  void up(Side dp, Side dn, int guests = 1, const std::map<std::string, std::string> &env = {},
          bool hide_keys_from_dataplane = false, int queues = 1) {
    FERRY_REQUIRE(running_as_root(), "needs root: namespaces, hugepages, DPDK vdevs");
    FERRY_REQUIRE(ensure_hugepages(256), "needs 256 free 2 MiB hugepages on /dev/hugepages");
    ASSERT_TRUE(std::ifstream(bin("guest-shim/examples/ferry-edu-example")).good())
        << "edu example not built";
    lab_ = std::make_unique<VethLab>(!dp.dpdk(), !dn.dpdk(), 1500);
    FERRY_REQUIRE(lab_->ok(), lab_->error());
    dir_ = "/tmp/ferry-e2e-" + lab_->ns_a;
    keys_ = dir_ + "/keys";
    run_cmd("rm -rf " + dir_ + " && mkdir -p " + keys_);
    DeviceNodeYaml dn_yaml;
    set_side(dn_yaml, dn, "dn", lab_->if_b, 1);
    dn_yaml.devices = {{1, {}, "edu", {}}};
    dn_yaml.ready_file = dir_ + "/dn.ready";
    DataplaneYaml dp_yaml;
    set_side(dp_yaml, dp, "dp", lab_->if_a, 0);
    dp_yaml.ready_file = dir_ + "/dp.ready";
    for (int g = 1; g <= guests; ++g) {
      GuestYaml guest;  // each guest its own PSK
      guest.region = "/dev/hugepages/" + lab_->ns_a + "-region" + std::to_string(g);
      guest.queues = queues;
      guest.queue = (g - 1) % queues;
      guest.psk_file = keys_ + "/psk" + std::to_string(g);
      guest.guest_id = g;
      write_random_psk(guest.psk_file);
      ASSERT_TRUE(
          add_guest(guest, dir_ + "/guest" + std::to_string(g) + ".yaml", dn_yaml, dp_yaml));
    }
    write_text(dir_ + "/device-node.yaml", device_node_yaml(dn_yaml));
    write_text(dir_ + "/dataplane.yaml", dataplane_yaml(dp_yaml));

    std::vector<std::string> envp{"env"};
    for (auto &[k, v] : env) envp.push_back(k + "=" + v);
    auto cmd = [&](const std::string &ns, const std::string &service, const std::string &cfg,
                   bool hide) {
      std::vector<std::string> a{"ip", "netns", "exec", ns};
      if (hide) {  // a mount namespace where the key directory is an empty tmpfs
        a.insert(a.end(), {"unshare", "-m", "sh", "-c",
                           "mount -t tmpfs none " + keys_ + " && exec \"$0\" \"$@\""});
      }
      a.insert(a.end(), envp.begin(), envp.end());
      a.insert(a.end(), {bin(ferry::testing::service_path(service)), cfg});
      return a;
    };
    dn_args_ = cmd(lab_->ns_b, "ferry-device-node", dir_ + "/device-node.yaml", false);
    dn_ = Child(dn_args_, dir_ + "/dn.log");
    ASSERT_TRUE(wait_for_file(dir_ + "/dn.ready", dn_, 20000)) << dn_.log_tail();
    dp_args_ =
        cmd(lab_->ns_a, "ferry-dataplane", dir_ + "/dataplane.yaml", hide_keys_from_dataplane);
    dp_ = Child(dp_args_, dir_ + "/dp.log");
    ASSERT_TRUE(wait_for_file(dir_ + "/dp.ready", dp_, 20000)) << dp_.log_tail();
  }

  // Stops the device node (clean shutdown: exit 0) and starts a fresh one (new stream id, keys,
  // sessions) on the same address.
  void restart_device_node() {
    ASSERT_EQ(dn_.stop(5000), 0) << dn_.log_tail();
    dn_ = Child(dn_args_, dir_ + "/dn2.log");
    ASSERT_TRUE(wait_for_file(dir_ + "/dn.ready", dn_, 20000)) << dn_.log_tail();
  }

  void restart_dataplane() {
    ASSERT_EQ(dp_.stop(5000), 0) << dp_.log_tail();
    dp_ = Child(dp_args_, dir_ + "/dp2.log");
    ASSERT_TRUE(wait_for_file(dir_ + "/dp.ready", dp_, 20000)) << dp_.log_tail();
  }

  // The EAL and transport of one side: a DPDK kind drives its vdev on the lab's interface.
  void set_side(ServiceYaml &c, const Side &s, const std::string &who, const std::string &iface,
                unsigned lcore) {
    prefix_[who] = "fe-" + lab_->ns_a + "-" + who;
    c.file_prefix = prefix_[who];
    c.lcores = {lcore};
    c.no_huge = !s.huge();
    c.kind = s.dpdk() ? "dpdk" : s.kind;
    if (s.kind == "af_packet") {
      c.port = "net_af_packet0";
      c.vdevs = {c.port + ",iface=" + iface};
    } else if (s.kind == "af_xdp") {
      c.port = "net_af_xdp0";
      c.vdevs = {c.port + ",iface=" + iface + ",start_queue=0,queue_count=1"};
    } else if (s.kind == "memif") {
      c.port = "net_memif0";
      c.vdevs = {c.port + ",role=" + (who == "dn" ? "server" : "client") + ",socket=" + dir_ +
                 "/memif.sock,socket-abstract=no"};
    }
  }

  // Runs the edu example on guest g; returns its exit status and keeps its output.
  int edu(int g = 1, std::string *out = nullptr) {
    Child c({bin("guest-shim/examples/ferry-edu-example"),
             dir_ + "/guest" + std::to_string(g) + ".yaml"},
            dir_ + "/edu" + std::to_string(g) + ".log");
    int rc = c.wait(60000);
    if (out) *out = c.log_tail();
    return rc;
  }

  void TearDown() override {
    stop_services(dp_, dn_, prefix_);
    if (lab_) {
      // The data plane keeps its regions at exit (a VM may hold one as its BAR).
      struct stat st;
      EXPECT_EQ(0, stat(("/dev/hugepages/" + lab_->ns_a + "-region1").c_str(), &st));
      run_cmd("rm -f /dev/hugepages/" + lab_->ns_a + "-region*");
      if (!HasFailure()) run_cmd("rm -rf " + dir_);
    }
  }

  void edu_passes(const std::string &label) {
    std::string out;
    EXPECT_EQ(edu(1, &out), 0) << out << "\n--- dataplane\n"
                               << dp_.log_tail() << "\n--- device node\n"
                               << dn_.log_tail();
    measure_mmio_read(label, dir_ + "/guest1.yaml", dir_ + "/latency.log");
  }

  std::unique_ptr<VethLab> lab_;
  std::string dir_, keys_;
  std::map<std::string, std::string> prefix_;
  Child dn_, dp_;
  std::vector<std::string> dn_args_, dp_args_;
};

TEST_F(E2e, edu_example_passes_over_kernel_udp) {
  up({"kernel-udp"}, {"kernel-udp"});
  if (HasFatalFailure() || IsSkipped()) return;
  edu_passes("kernel-udp");
}

TEST_F(E2e, edu_example_passes_over_kernel_tcp) {
  up({"kernel-tcp"}, {"kernel-tcp"});
  if (HasFatalFailure() || IsSkipped()) return;
  edu_passes("kernel-tcp");
}

TEST_F(E2e, edu_example_passes_over_dpdk_af_packet) {
  up({"af_packet"}, {"af_packet"});
  if (HasFatalFailure() || IsSkipped()) return;
  edu_passes("dpdk-af_packet");
}

TEST_F(E2e, edu_example_passes_over_dpdk_af_xdp) {
  up({"af_xdp"}, {"af_xdp"});
  if (HasFatalFailure() || IsSkipped()) return;
  edu_passes("dpdk-af_xdp");
}

TEST_F(E2e, edu_example_passes_over_dpdk_memif) {
  up({"memif"}, {"memif"});
  if (HasFatalFailure() || IsSkipped()) return;
  edu_passes("dpdk-memif");
}

TEST_F(E2e, edu_example_passes_with_dpdk_on_one_side_and_kernel_udp_on_the_other) {
  up({"af_packet"}, {"kernel-udp"});
  if (HasFatalFailure() || IsSkipped()) return;
  edu_passes("dpdk-af_packet-to-kernel-udp");
}

// The data plane outlives a device node restart: it reconnects (kernel-tcp) or resynchronises
// (kernel-udp stream ids), and a driver that opens the device again gets a new session.
TEST_F(E2e, a_restarted_device_node_serves_new_sessions_over_kernel_tcp) {
  up({"kernel-tcp"}, {"kernel-tcp"});
  if (HasFatalFailure() || IsSkipped()) return;
  ASSERT_EQ(edu(), 0);
  restart_device_node();
  if (HasFatalFailure()) return;
  std::string out;
  EXPECT_EQ(edu(1, &out), 0) << out << dp_.log_tail();
  const std::string stats = telemetry_query(prefix_["dp"], "/ferry/stats");
  EXPECT_EQ(json_uint(stats, "connects"), 2) << stats;
  EXPECT_EQ(json_uint(stats, "link_resets"), 1) << stats;
}

TEST_F(E2e, a_restarted_device_node_serves_new_sessions_over_kernel_udp) {
  up({"kernel-udp"}, {"kernel-udp"});
  if (HasFatalFailure() || IsSkipped()) return;
  ASSERT_EQ(edu(), 0);
  restart_device_node();
  if (HasFatalFailure()) return;
  std::string out;
  EXPECT_EQ(edu(1, &out), 0) << out << dp_.log_tail();
  const std::string stats = telemetry_query(prefix_["dp"], "/ferry/stats");
  EXPECT_EQ(json_uint(stats, "peer_restarts"), 1) << stats;
}

TEST_F(E2e, a_restarted_data_plane_is_resynchronised_and_serves_new_sessions) {
  up({"kernel-udp"}, {"kernel-udp"});
  if (HasFatalFailure() || IsSkipped()) return;
  ASSERT_EQ(edu(), 0);
  restart_dataplane();
  if (HasFatalFailure()) return;
  std::string out;
  EXPECT_EQ(edu(1, &out), 0) << out << dn_.log_tail();
  const std::string stats = telemetry_query(prefix_["dn"], "/ferry/stats");
  EXPECT_EQ(json_uint(stats, "peer_restarts"), 1) << stats;
}

TEST_F(E2e, two_guests_with_two_queues_each_run_the_edu_example_at_once) {
  up({"kernel-udp"}, {"kernel-udp"}, 2, {}, false, /*queues=*/2);  // guest 2 drives queue 1
  if (HasFatalFailure() || IsSkipped()) return;
  int rc2 = -1;
  std::string out2;
  std::thread second([&] { rc2 = edu(2, &out2); });
  std::string out1;
  EXPECT_EQ(edu(1, &out1), 0) << out1;
  second.join();
  EXPECT_EQ(rc2, 0) << out2;
  const std::string ch = telemetry_query(prefix_["dp"], "/ferry/channels");
  EXPECT_NE(ch.find("channel_1"), std::string::npos) << ch;
  EXPECT_NE(ch.find("channel_2"), std::string::npos) << ch;
}

TEST_F(E2e, lost_frames_are_retransmitted_and_the_edu_example_still_passes) {
  up({"kernel-udp"}, {"kernel-udp"}, 1, {{"FERRY_TEST_TX_DROP", "permille=100,seed=7"}});
  if (HasFatalFailure() || IsSkipped()) return;
  std::string out;
  EXPECT_EQ(edu(1, &out), 0) << out;
  const std::string dp = telemetry_query(prefix_["dp"], "/ferry/stats");
  const std::string dn = telemetry_query(prefix_["dn"], "/ferry/stats");
  EXPECT_GT(json_uint(dp, "test_drops"), 0) << dp;
  EXPECT_GT(json_uint(dp, "retransmits") + json_uint(dn, "retransmits"), 0) << dp << dn;
}

TEST_F(E2e, counters_are_readable_through_dpdk_telemetry) {
  up({"kernel-udp"}, {"kernel-udp"});
  if (HasFatalFailure() || IsSkipped()) return;
  ASSERT_EQ(edu(1), 0);
  const std::string stats = telemetry_query(prefix_["dp"], "/ferry/stats");
  const std::string info = telemetry_query(prefix_["dn"], "/ferry/info");
  const std::string app = telemetry_query(prefix_["dn"], "/ferry/app");
  const std::string lat = telemetry_query(prefix_["dp"], "/ferry/latency");
  EXPECT_GT(json_uint(stats, "descriptors_tx"), 0) << stats;
  EXPECT_GT(json_uint(stats, "frames_rx"), 0) << stats;
  EXPECT_NE(info.find("device-node"), std::string::npos) << info;
  EXPECT_GT(json_uint(app, "mmio_reads"), 0) << app;
  EXPECT_GT(json_uint(lat, "count"), 0) << lat;
  const std::string relay = telemetry_query(prefix_["dp"], "/ferry/app");
  EXPECT_GT(json_uint(relay, "sq_descriptors"), 0) << relay;
}

TEST_F(E2e, the_data_plane_serves_without_any_key_it_could_read) {
  up({"kernel-udp"}, {"kernel-udp"}, 1, {}, /*hide_keys_from_dataplane=*/true);
  if (HasFatalFailure() || IsSkipped()) return;
  // Inside the data plane's mount namespace the key directory is empty.
  Child probe({"nsenter", "-t", std::to_string(dp_.pid()), "-m", "ls", "-A", keys_},
              dir_ + "/probe.log");
  EXPECT_EQ(probe.wait(5000), 0);
  EXPECT_EQ(probe.log_tail(), "");
  std::string out;
  EXPECT_EQ(edu(1, &out), 0) << out;
}

TEST(E2eConfig, a_bad_configuration_exits_2_naming_file_key_and_line) {
  const TempYaml yaml("eal: {lcores: [0]}\ntransport:\n  kind: carrier-pigeon\n");
  const std::string &path = yaml.path();
  for (const char *service : {"ferry-dataplane", "ferry-device-node"}) {
    Child c({bin(ferry::testing::service_path(service)), path}, path + ".log");
    EXPECT_EQ(c.wait(10000), 2) << service;
    const std::string log = c.log_tail();
    EXPECT_NE(log.find(path), std::string::npos) << log;
    EXPECT_NE(log.find("kind"), std::string::npos) << log;
    EXPECT_NE(log.find(":3"), std::string::npos) << log;
  }
  std::remove((path + ".log").c_str());
}

}  // namespace
}  // namespace ferry::testing
