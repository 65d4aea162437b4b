// Both services for real under injected faults: ferry-device-node (edu and accel devices) in
// one namespace, ferry-dataplane (two guest regions) in the other, a veth between them, and
// ferry-fault-workload as the guest driving both devices at once. One service's YAML has a
// `faults` section that hits both directions of the link (its tx faults what it sends, its rx
// faults what it receives): 5% drop, 2% duplication, 5% reordering (up to 4 frames), 0.1%
// corruption and 1% delay (up to 2 ms). Every result must be right, every register access
// executed exactly once by the device node (its own mmio_reads/mmio_writes counts against the
// guest's), 1 MiB DMA transfers byte for byte, in bounded time, and the injection counters
// must show each kind at about its rate.
//
// Operations: FERRY_FAULT_OPS (default 100000 over each transport; the ASan/UBSan build
// defaults to a fifth of that).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>

#include "lab.h"
#include "require.h"
#include "service_configs.h"
#include "service_path.h"
#include "services.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERRY_FAULTS_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FERRY_FAULTS_SANITIZED 1
#endif

namespace ferry::testing {
namespace {

std::string bin(const std::string &rel) {
  return build_root() + "/" + rel;
}

uint64_t ops_for(uint64_t full) {
  if (const char *e = std::getenv("FERRY_FAULT_OPS"); e && *e) return std::strtoull(e, nullptr, 0);
#ifdef FERRY_FAULTS_SANITIZED
  return full / 5;
#else
  return full;
#endif
}

constexpr const char *kFaultRates =
    "{drop: 5%, duplicate: 2%, reorder: 5%, reorder_distance: 4, corrupt: 0.1%, delay: 1%, "
    "delay_us: 2000}";

class Faults : public ::testing::Test {
 protected:
  // Guests (one region, channel and device each): odd ones drive an edu, even ones an accel,
  // all at once, so that one's wait for a retransmission overlaps the others' work.
  static constexpr int kGuests = 4;

  // kind: kernel-udp or af_packet (both sides). faulty: "dp" or "dn", the service whose YAML
  // injects the faults.
  void up(const std::string &kind, const std::string &faulty, uint64_t seed) {
    FERRY_REQUIRE(running_as_root(), "needs root: namespaces, hugepages, DPDK vdevs");
    FERRY_REQUIRE(ensure_hugepages(64), "needs 64 free 2 MiB hugepages on /dev/hugepages");
    ASSERT_TRUE(std::ifstream(bin("tests/faults/ferry-fault-workload")).good());
    const bool dpdk = kind == "af_packet";
    lab_ = std::make_unique<VethLab>(!dpdk, !dpdk, 1500);
    FERRY_REQUIRE(lab_->ok(), lab_->error());
    dir_ = "/tmp/ferry-faults-" + lab_->ns_a;
    run_cmd("rm -rf " + dir_ + " && mkdir -p " + dir_);
    write_random_psk(dir_ + "/psk");
    DeviceNodeYaml dn;
    set_service(dn, dpdk, "dn", lab_->if_b, 1);
    dn.dma_timeout_ms = 2000;
    DataplaneYaml dp;
    set_service(dp, dpdk, "dp", lab_->if_a, 0);
    ServiceYaml &with_faults = faulty == "dn" ? static_cast<ServiceYaml &>(dn) : dp;
    with_faults.fault_seed = seed;
    with_faults.faults_tx = with_faults.faults_rx = kFaultRates;
    for (int g = 1; g <= kGuests; ++g) {  // odd: edu, even: accel
      const uint32_t id = g;
      if (g % 2)
        dn.devices.push_back(
            {id, {}, "edu", {{"dma_buffer_size", 1048576}, {"factorial_delay_ns", 0}}});
      else
        dn.devices.push_back({id, {}, "accel", {}});
      GuestYaml guest;
      guest.region = region(g);
      guest.psk_file = dir_ + "/psk";
      guest.device_id = guest.guest_id = id;
      guest.mmio_timeout_ms = 10000;
      guest.handshake_timeout_ms = 20000;
      ASSERT_TRUE(add_guest(guest, dir_ + "/guest" + std::to_string(g) + ".yaml", dn, dp));
    }
    write_text(dir_ + "/device-node.yaml", device_node_yaml(dn));
    write_text(dir_ + "/dataplane.yaml", dataplane_yaml(dp));
    auto cmd = [&](const std::string &ns, const std::string &service, const std::string &cfg) {
      return std::vector<std::string>{
          "ip", "netns", "exec", ns, bin(ferry::testing::service_path(service)), cfg};
    };
    dn_ = Child(cmd(lab_->ns_b, "ferry-device-node", dir_ + "/device-node.yaml"), dir_ + "/dn.log");
    ASSERT_TRUE(wait_for_file(dir_ + "/dn.ready", dn_, 20000)) << dn_.log_tail();
    dp_ = Child(cmd(lab_->ns_a, "ferry-dataplane", dir_ + "/dataplane.yaml"), dir_ + "/dp.log");
    ASSERT_TRUE(wait_for_file(dir_ + "/dp.ready", dp_, 20000)) << dp_.log_tail();
  }

  std::string region(int g) const {
    return "/dev/hugepages/" + lab_->ns_a + "-fault-region" + std::to_string(g);
  }

  // EAL and transport of one side: kernel-udp, or DPDK af_packet on the lab's interface; short
  // retransmission timeouts, for the frames the faults drop.
  void set_service(ServiceYaml &c, bool dpdk, const std::string &who, const std::string &iface,
                   unsigned lcore) {
    prefix_[who] = "fe-" + lab_->ns_a + "-" + who;
    c.file_prefix = prefix_[who];
    c.lcores = {lcore};
    if (dpdk) {
      c.kind = "dpdk";
      c.port = "net_af_packet0";
      c.vdevs = {c.port + ",iface=" + iface};
    }
    c.retransmit_us = 500;
    c.max_retransmit_us = 20000;
    c.ready_file = dir_ + "/" + who + ".ready";
  }

  // Runs the workload; fills result_ with its summary line's fields.
  void workload(uint64_t ops, int big, int timeout_s) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> argv{bin("tests/faults/ferry-fault-workload"), std::to_string(ops),
                                  std::to_string(big)};
    for (int g = 1; g <= kGuests; ++g)
      argv.push_back((g % 2 ? "edu:" : "accel:") + dir_ + "/guest" + std::to_string(g) + ".yaml");
    Child w(argv, dir_ + "/workload.log");
    const int rc = w.wait(timeout_s * 1000);
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rc == -1) w.stop(1000);
    const std::string log = w.log_tail(20000);
    ASSERT_EQ(rc, 0) << "workload failed or did not finish in " << timeout_s << " s (a hang)\n"
                     << log << "\n--- device node /ferry/app\n"
                     << telemetry_query(prefix_["dn"], "/ferry/app")
                     << "\n--- dataplane /ferry/app\n"
                     << telemetry_query(prefix_["dp"], "/ferry/app") << "\n--- dataplane\n"
                     << dp_.log_tail() << "\n--- device node\n"
                     << dn_.log_tail();
    std::smatch m;
    std::string rest = log;
    const std::regex field("(\\w+)=(\\d+)");
    ASSERT_NE(log.find("result "), std::string::npos) << log;
    rest = log.substr(log.find("result "));
    std::printf("[ workload ] %s", rest.c_str());
    while (std::regex_search(rest, m, field)) {
      result_[m[1]] = std::stoull(m[2]);
      rest = m.suffix();
    }
  }

  // A counter from telemetry, waiting (housekeeping publishes /ferry/app) until it reaches
  // `want` or 5 s pass; returns the last value read.
  long long counter(const std::string &who, const std::string &cmd, const std::string &key,
                    long long want = -1) {
    long long v = -1;
    for (int i = 0; i < 250; ++i) {
      v = json_uint(telemetry_query(prefix_[who], cmd), key);
      if (want < 0 ? v >= 0 : v == want) break;
      usleep(20000);
    }
    return v;
  }

  // A /ferry/stats counter once it reaches `want` (or after 3 s).
  long long at_least(const std::string &who, const std::string &key, long long want) {
    long long v = -1;
    for (int i = 0; i < 150; ++i) {
      v = json_uint(telemetry_query(prefix_[who], "/ferry/stats"), key);
      if (v >= want) break;
      usleep(20000);
    }
    return v;
  }

  // Every fault kind at about its rate, in one direction of the faulty service.
  void check_injected(const std::string &who, const std::string &dir) {
    const std::string f = telemetry_query(prefix_[who], "/ferry/faults");
    const double frames = static_cast<double>(json_uint(f, dir + "_frames"));
    ASSERT_GT(frames, 1000) << f;
    auto rate = [&](const char *k) { return json_uint(f, dir + "_" + k) / frames; };
    EXPECT_NEAR(rate("drop"), 0.05, 0.02) << f;
    EXPECT_NEAR(rate("duplicate"), 0.02 * 0.95, 0.01) << f;
    EXPECT_NEAR(rate("reorder"), 0.05 * 0.95, 0.02) << f;
    EXPECT_NEAR(rate("delay"), 0.01 * 0.95, 0.006) << f;
    EXPECT_GT(json_uint(f, dir + "_corrupt"), 0) << f;
    EXPECT_LT(rate("corrupt"), 0.003) << f;
    EXPECT_EQ(json_uint(f, dir + "_lost"), 0) << f;
    std::printf(
        "[ faults   ] %s %s: frames %.0f drop %lld duplicate %lld reorder %lld corrupt "
        "%lld delay %lld\n",
        who.c_str(), dir.c_str(), frames, json_uint(f, dir + "_drop"),
        json_uint(f, dir + "_duplicate"), json_uint(f, dir + "_reorder"),
        json_uint(f, dir + "_corrupt"), json_uint(f, dir + "_delay"));
    for (const char *k : {"drop", "duplicate", "reorder", "corrupt", "delay"})
      RecordProperty(who + "_" + dir + "_" + k, std::to_string(json_uint(f, dir + "_" + k)));
  }

  void check_all(const std::string &faulty, const std::string &label, uint64_t ops) {
    EXPECT_EQ(result_["failures"], 0u);
    EXPECT_GE(result_["ops"], ops);
    EXPECT_GE(result_["dma_bytes"], uint64_t{4} << 20);  // the 1 MiB transfers happened
    // Exactly once, counted by the device node: every register access the guest made.
    EXPECT_EQ(counter("dn", "/ferry/app", "mmio_writes", result_["writes"]),
              static_cast<long long>(result_["writes"]));
    EXPECT_EQ(counter("dn", "/ferry/app", "mmio_reads", result_["reads"]),
              static_cast<long long>(result_["reads"]));
    EXPECT_EQ(counter("dn", "/ferry/app", "auth_failures"), 0);
    EXPECT_EQ(counter("dn", "/ferry/app", "dma_failures"), 0);
    check_injected(faulty, "tx");
    check_injected(faulty, "rx");
    // The engines saw what was done to them: corrupted frames failed their FCS, lost ones
    // were sent again, duplicates were dropped.
    const std::string other = faulty == "dp" ? "dn" : "dp";
    // A frame counted as corrupted may still be held (delay) or on its way: wait for it.
    const std::string f = telemetry_query(prefix_[faulty], "/ferry/faults");
    const long long tx_corrupt = json_uint(f, "tx_corrupt"),
                    rx_corrupt = json_uint(f, "rx_corrupt");
    const long long other_bad = at_least(other, "bad_fcs", tx_corrupt);
    const long long own_bad = at_least(faulty, "bad_fcs", rx_corrupt);
    const std::string f2 = telemetry_query(prefix_[faulty], "/ferry/faults");
    // The link itself may lose a frame (an af_packet ring under load): those are the frames
    // the sender's port sent that the receiver's port never saw.
    const long long link_lost = std::max(
        0LL, json_uint(telemetry_query(prefix_[faulty], "/ferry/stats"), "port_frames_tx") -
                 json_uint(telemetry_query(prefix_[other], "/ferry/stats"), "port_frames_rx"));
    EXPECT_GE(other_bad + link_lost, tx_corrupt);
    EXPECT_LE(other_bad, 2 * json_uint(f2, "tx_corrupt"));  // a corrupted frame duplicated
    EXPECT_GE(own_bad, rx_corrupt);
    EXPECT_LE(own_bad, 2 * json_uint(f2, "rx_corrupt"));
    const std::string s_f = telemetry_query(prefix_[faulty], "/ferry/stats");
    const std::string s_o = telemetry_query(prefix_[other], "/ferry/stats");
    EXPECT_GT(json_uint(s_f, "retransmits") + json_uint(s_o, "retransmits"), 0);
    EXPECT_GT(json_uint(s_f, "duplicates") + json_uint(s_o, "duplicates"), 0);
    std::printf(
        "[ faults   ] %s: %llu operations (%llu reads, %llu writes, %llu descriptors, "
        "%llu DMA transfers, %llu DMA bytes) in %.1f s, all verified; bad_fcs dp %lld "
        "dn %lld, retransmits dp %lld dn %lld\n",
        label.c_str(), (unsigned long long)result_["ops"], (unsigned long long)result_["reads"],
        (unsigned long long)result_["writes"], (unsigned long long)result_["descriptors"],
        (unsigned long long)result_["dma_transfers"], (unsigned long long)result_["dma_bytes"],
        seconds_, json_uint(telemetry_query(prefix_["dp"], "/ferry/stats"), "bad_fcs"),
        json_uint(telemetry_query(prefix_["dn"], "/ferry/stats"), "bad_fcs"),
        json_uint(telemetry_query(prefix_["dp"], "/ferry/stats"), "retransmits"),
        json_uint(telemetry_query(prefix_["dn"], "/ferry/stats"), "retransmits"));
    RecordProperty(label + "_operations", std::to_string(result_["ops"]));
    RecordProperty(label + "_seconds", std::to_string(seconds_));
  }

  void TearDown() override {
    stop_services(dp_, dn_, prefix_);
    if (lab_) {
      run_cmd("rm -f /dev/hugepages/" + lab_->ns_a + "-fault-region*");
      if (!HasFailure()) run_cmd("rm -rf " + dir_);
    }
  }

  std::unique_ptr<VethLab> lab_;
  std::string dir_;
  std::map<std::string, std::string> prefix_;
  Child dn_, dp_;
  std::map<std::string, uint64_t> result_;
  double seconds_ = 0;
};

TEST_F(Faults, every_operation_completes_exactly_once_under_faults_over_kernel_udp) {
  up("kernel-udp", "dp", 11);
  if (HasFatalFailure() || IsSkipped()) return;
  const uint64_t ops = ops_for(100000);
  workload(ops, 2, 240);
  if (HasFatalFailure()) return;
  check_all("dp", "kernel-udp", ops);
}

TEST_F(Faults, every_operation_completes_exactly_once_under_faults_over_dpdk_af_packet) {
  up("af_packet", "dn", 12);
  if (HasFatalFailure() || IsSkipped()) return;
  const uint64_t ops = ops_for(100000);
  workload(ops, 1, 240);
  if (HasFatalFailure()) return;
  check_all("dn", "dpdk-af_packet", ops);
}

}  // namespace
}  // namespace ferry::testing
