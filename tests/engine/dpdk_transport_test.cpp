// The dpdk transport for real: net_af_packet and net_af_xdp ports on one end of a veth pair
// talking to a kernel-udp engine on the other (ARP answered and resolved by the DPDK side,
// checksums the kernel accepts), and two DPDK processes over net_memif (hugepages) and over
// af_packet with frames lost on purpose. Each DPDK process is a ferry-engine-peer child with
// its own --file-prefix.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <regex>
#include <thread>

#include "engine_test_util.h"
#include "require.h"
#include "seq_handlers.h"

namespace ferry::testing {
namespace {

using Kind = engine::TransportOptions::Kind;

std::string peer_bin() {
  return build_root() + "/tests/engine/ferry-engine-peer";
}

// Value of `key=` in the child's summary line, or -1.
long long summary(const std::string &log, const std::string &key) {
  std::smatch m;
  if (std::regex_search(log, m, std::regex(key + "=(\\d+)"))) return std::stoll(m[1]);
  return -1;
}

std::vector<std::string> dpdk_peer(const std::string &ns, const std::string &mode,
                                   const std::string &vdev, const std::string &local,
                                   const std::string &peer, const std::string &prefix, bool huge,
                                   const std::vector<std::string> &extra = {}) {
  std::vector<std::string> a{"ip",
                             "netns",
                             "exec",
                             ns,
                             peer_bin(),
                             "--mode",
                             mode,
                             "--transport",
                             "dpdk",
                             "--vdev",
                             vdev,
                             "--port",
                             vdev.substr(0, vdev.find(',')),
                             "--local",
                             local,
                             "--peer",
                             peer,
                             "--file-prefix",
                             prefix,
                             "--timeout-ms",
                             "30000"};
  if (huge)
    a.insert(a.end(), {"--memory-mb", "64"});
  else
    a.push_back("--no-huge");
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// DPDK echo in namespace a (port on if_a, no kernel address), kernel-udp source in b.
void dpdk_echo_against_kernel_udp(const std::string &vdev_kind, bool static_peer_mac) {
  FERRY_REQUIRE(running_as_root(), "needs root for namespaces and DPDK vdevs");
  VethLab lab(/*kernel_ip_a=*/false, /*kernel_ip_b=*/true);
  FERRY_REQUIRE(lab.ok(), lab.error());
  const std::string ready = "/tmp/ferry-engine-" + lab.ns_a + ".ready";
  std::remove(ready.c_str());
  std::string vdev = vdev_kind + "0,iface=" + lab.if_a;
  if (vdev_kind == "net_af_xdp") vdev += ",start_queue=0,queue_count=1";
  std::vector<std::string> extra{"--ready", ready};
  std::string peer_mac;
  if (static_peer_mac) {
    FILE *p = popen(
        ("ip netns exec " + lab.ns_b + " cat /sys/class/net/" + lab.if_b + "/address").c_str(),
        "r");
    char buf[64] = {};
    if (p && fgets(buf, sizeof(buf), p)) peer_mac = std::string(buf).substr(0, 17);
    if (p) pclose(p);
    ASSERT_EQ(peer_mac.size(), 17u);
  }
  auto args = dpdk_peer(lab.ns_a, "echo", vdev, std::string(VethLab::kIpA) + ":7000",
                        std::string(VethLab::kIpB) + ":7000", "fe-" + lab.ns_a, false, extra);
  if (static_peer_mac) {
    // ferry-engine-peer takes the MAC as part of --peer: IP:PORT@MAC.
    args[std::find(args.begin(), args.end(), "--peer") - args.begin() + 1] += "@" + peer_mac;
  }
  Child echo(args, "/tmp/ferry-engine-" + lab.ns_a + ".log");
  ASSERT_TRUE(wait_for_file(ready, echo, 20000)) << echo.log_tail();

  auto cb = kernel_cfg(Kind::kKernelUdp, VethLab::kIpB, 7000, VethLab::kIpA, 7000);
  SeqSource src(20000, 9);
  std::atomic<bool> stop{false};
  std::thread t([&] {
    InNetns in(lab.ns_b);
    engine::Engine e(engine::make_transport(cb, engine::Role::kConnect), src, opts(cb));
    e.run(stop);
  });
  const uint64_t end = proto::now_ns() + 20'000'000'000ull;
  while (src.echoes.received < 20000 && proto::now_ns() < end && echo.running())
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  t.join();
  EXPECT_EQ(echo.stop(5000), 0) << echo.log_tail();
  remove_dpdk_runtime("fe-" + lab.ns_a);
  const std::string log = echo.log_tail(100000);
  EXPECT_EQ(src.echoes.received, 20000u) << log;
  EXPECT_TRUE(src.echoes.clean());
  EXPECT_EQ(summary(log, "echoed"), 20000) << log;
  EXPECT_EQ(summary(log, "out_of_order"), 0);
  if (!::testing::Test::HasFailure()) run_cmd("rm -f /tmp/ferry-engine-" + lab.ns_a + ".*");
  if (static_peer_mac) {
    // It never asked: the kernel had to resolve the DPDK port by ARP, and it answered.
    EXPECT_GE(summary(log, "arp_replies_tx"), 1) << log;
  } else {
    EXPECT_GE(summary(log, "arp_rx"), 1) << log;
  }
}

TEST(DpdkTransport, af_packet_port_and_kernel_udp_exchange_frames_on_a_veth) {
  dpdk_echo_against_kernel_udp("net_af_packet", false);
}

TEST(DpdkTransport, af_packet_port_with_a_static_peer_mac_answers_the_kernels_arp) {
  dpdk_echo_against_kernel_udp("net_af_packet", true);
}

TEST(DpdkTransport, af_xdp_port_and_kernel_udp_exchange_frames_on_a_veth) {
  dpdk_echo_against_kernel_udp("net_af_xdp", false);
}

// Two DPDK processes: an echo in namespace a and a source in namespace b.
void dpdk_pair(const std::string &vdev_a, const std::string &vdev_b, bool huge,
               const std::vector<std::string> &extra, int count) {
  FERRY_REQUIRE(running_as_root(), "needs root for namespaces and DPDK vdevs");
  if (huge) FERRY_REQUIRE(ensure_hugepages(256), "needs 256 free 2 MiB hugepages");
  VethLab lab(false, false);
  FERRY_REQUIRE(lab.ok(), lab.error());
  auto fill = [&](std::string v) {
    for (auto [k, r] : {std::pair<std::string, std::string>{"@IF_A@", lab.if_a},
                        {"@IF_B@", lab.if_b},
                        {"@SOCK@", "/tmp/ferry-engine-" + lab.ns_a + ".memif"}})
      for (size_t p; (p = v.find(k)) != std::string::npos;) v.replace(p, k.size(), r);
    return v;
  };
  const std::string a = std::string(VethLab::kIpA) + ":7000",
                    b = std::string(VethLab::kIpB) + ":7000";
  const std::string ready = "/tmp/ferry-engine-" + lab.ns_a + ".ready";
  std::remove(ready.c_str());
  auto ea = extra;
  ea.insert(ea.end(), {"--ready", ready, "--lcore", "0"});
  Child echo(dpdk_peer(lab.ns_a, "echo", fill(vdev_a), a, b, "fe-" + lab.ns_a, huge, ea),
             "/tmp/ferry-engine-" + lab.ns_a + ".log");
  ASSERT_TRUE(wait_for_file(ready, echo, 20000)) << echo.log_tail();
  auto eb = extra;
  eb.insert(eb.end(), {"--count", std::to_string(count), "--lcore", "1"});
  Child source(dpdk_peer(lab.ns_b, "source", fill(vdev_b), b, a, "fe-" + lab.ns_b, huge, eb),
               "/tmp/ferry-engine-" + lab.ns_b + ".log");
  const int rc = source.wait(40000);
  EXPECT_EQ(rc, 0) << source.log_tail();
  EXPECT_EQ(echo.stop(5000), 0) << echo.log_tail();
  remove_dpdk_runtime("fe-" + lab.ns_a);
  remove_dpdk_runtime("fe-" + lab.ns_b);
  const std::string log = source.log_tail(100000);
  EXPECT_EQ(summary(log, "echoes"), count) << log;
  EXPECT_EQ(summary(log, "out_of_order"), 0) << log;
  EXPECT_EQ(summary(log, "corrupt"), 0) << log;
  if (!::testing::Test::HasFailure())
    run_cmd("rm -f /tmp/ferry-engine-" + lab.ns_a + ".* /tmp/ferry-engine-" + lab.ns_b + ".*");
  if (!extra.empty()) {
    EXPECT_GT(summary(log, "test_drops"), 0) << log;
    EXPECT_GT(summary(log, "retransmits"), 0) << log;
  }
}

TEST(DpdkTransport, two_dpdk_processes_over_memif_with_hugepages) {
  dpdk_pair("net_memif0,role=server,socket=@SOCK@,socket-abstract=no",
            "net_memif0,role=client,socket=@SOCK@,socket-abstract=no", true, {}, 20000);
}

TEST(DpdkTransport, two_dpdk_processes_over_af_packet_recover_lost_frames) {
  dpdk_pair("net_af_packet0,iface=@IF_A@", "net_af_packet0,iface=@IF_B@", false,
            {"--drop-permille", "50"}, 10000);
}

}  // namespace
}  // namespace ferry::testing
