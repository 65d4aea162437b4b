// The dpdk rx / work / tx split over rte_rings, in process on a real DPDK port: net_ring, the
// ring PMD whose TX queue loops back into its RX queue. The port's IP is its own peer, so every
// frame a lane sends comes back to the port lcore (DpdkLaneIo), which must hand it to the lane
// whose UDP port it names. The test thread plays the port lcore and every lane in turn (each
// ring still has one producer and one consumer).
#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ferry/engine/eal.h"
#include "ferry/proto/idle.h"
#include "lab.h"
#include "require.h"
#include "transport/dpdk_lanes.h"

namespace ferry::engine {
namespace {

class EalEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!testing::running_as_root()) return;  // the tests say why they cannot run
    EalOptions eal;
    eal.lcores = {0};
    eal.no_huge = true;
    eal.memory_mb = 64;
    eal.file_prefix = "ferry-lanes-test-" + std::to_string(getpid());
    eal_init(eal);
  }
  void TearDown() override {
    const bool was = eal_ready();
    eal_cleanup();
    if (was) testing::remove_dpdk_runtime("ferry-lanes-test-" + std::to_string(getpid()));
  }
};
const auto *const g_env = ::testing::AddGlobalTestEnvironment(new EalEnv);

constexpr uint16_t kBasePort = 7300;
constexpr uint32_t kMbufs = 1023;

TransportOptions loopback_cfg() {
  TransportOptions c;
  c.kind = TransportOptions::Kind::kDpdk;
  c.port = "net_ring0";  // hot-plugged by the port, removed when it closes
  c.local = {"198.18.0.9", kBasePort};
  c.peer = {"198.18.0.9", kBasePort};  // ourselves: the ring loops every frame back
  c.rx_desc = c.tx_desc = 64;          // rings of 128 (127 usable)
  c.mbufs = kMbufs;
  c.mbuf_cache = 32;
  return c;
}

// Polls the port until it has been idle for a few passes.
void pump(DpdkLaneIo &io) {
  for (int idle = 0; idle < 4;) idle = io.poll() ? 0 : idle + 1;
}

// Brings the port up and lets it resolve its "peer" (itself) by ARP over the loop.
void resolve(DpdkLaneIo &io, Transport &lane) {
  const uint64_t end = proto::now_ns() + 2'000'000'000ull;
  while (!lane.link_up() && proto::now_ns() < end) {
    io.maintain(proto::now_ns());
    pump(io);
  }
}

std::vector<uint8_t> frame_of(uint32_t lane, uint32_t i) {
  std::vector<uint8_t> f(64 + i % 200);
  for (size_t k = 0; k < f.size(); ++k) f[k] = static_cast<uint8_t>(lane * 31 + i + k);
  return f;
}

TEST(DpdkLanes, each_lanes_frames_come_back_to_that_lane_only_and_whole) {
  FERRY_REQUIRE(testing::running_as_root(), "needs root for the EAL");
  constexpr uint32_t kLanes = 3, kPerLane = 50;
  DpdkLaneIo io(loopback_cfg(), kLanes);
  std::vector<std::unique_ptr<Transport>> lanes;
  for (uint32_t l = 0; l < kLanes; ++l) lanes.push_back(io.lane(l));
  EXPECT_THROW(io.lane(1), std::runtime_error);  // a lane's rings have one owner
  resolve(io, *lanes[0]);
  ASSERT_TRUE(lanes[0]->link_up()) << "ARP over the loop did not resolve";
  EXPECT_GE(io.counters().arp_rx.get(), 1u);

  for (uint32_t i = 0; i < kPerLane; ++i) {
    for (uint32_t l = 0; l < kLanes; ++l) {
      const std::vector<uint8_t> f = frame_of(l, i);
      const FrameView v(f.data(), f.size());
      ASSERT_EQ(lanes[l]->send(std::span<const FrameView>(&v, 1)), 1);
    }
  }
  pump(io);
  for (uint32_t l = 0; l < kLanes; ++l) {
    uint32_t got = 0;
    FrameView in[32];
    for (int n; (n = lanes[l]->recv(in)) > 0;) {
      for (int k = 0; k < n; ++k, ++got) {
        const std::vector<uint8_t> want = frame_of(l, got);
        ASSERT_EQ(in[k].size(), want.size()) << "lane " << l << " frame " << got;
        EXPECT_EQ(0, std::memcmp(in[k].data(), want.data(), want.size()))
            << "lane " << l << " frame " << got;
      }
    }
    EXPECT_EQ(got, kPerLane) << "lane " << l;
    EXPECT_EQ(lanes[l]->counters().frames_tx.get(), kPerLane);
    EXPECT_EQ(lanes[l]->counters().frames_rx.get(), kPerLane);
  }
  EXPECT_EQ(io.counters().rx_dropped.get(), 0u);
  EXPECT_EQ(io.counters().ring_full.get(), 0u);
  // Every mbuf is back in the pool (its caches included) once the lanes released theirs.
  lanes[0]->recv(std::span<FrameView>());
  lanes[1]->recv(std::span<FrameView>());
  lanes[2]->recv(std::span<FrameView>());
  EXPECT_EQ(rte_mempool_avail_count(io.port().pool()), kMbufs);
}

TEST(DpdkLanes, full_rings_are_counted_tx_waits_and_rx_drops_without_losing_mbufs) {
  FERRY_REQUIRE(testing::running_as_root(), "needs root for the EAL");
  DpdkLaneIo io(loopback_cfg(), 2);
  auto lane0 = io.lane(0);
  auto lane1 = io.lane(1);
  resolve(io, *lane0);
  ASSERT_TRUE(lane0->link_up());

  // TX: with the port lcore not draining, the lane's ring takes 127 frames and then refuses
  // the rest (the engine keeps them in its window).
  std::vector<uint8_t> f(100, 0xab);
  std::vector<FrameView> burst(32, FrameView(f.data(), f.size()));
  int taken = 0;
  for (int i = 0; i < 5; ++i) taken += lane0->send(burst);
  EXPECT_EQ(taken, 127);
  EXPECT_GE(lane0->counters().ring_full.get(), 1u);

  // RX: lane 0 does not receive, so after the loop its RX ring holds 127 and the port drops
  // and counts the rest of what arrives for it.
  pump(io);
  for (int i = 0; i < 3; ++i) {
    taken = lane0->send(burst);
    EXPECT_EQ(taken, 32);
    pump(io);
  }
  EXPECT_EQ(io.counters().ring_full.get(), 3u * 32);
  // Lane 1 is not held up by lane 0's full ring.
  const FrameView one(f.data(), f.size());
  ASSERT_EQ(lane1->send(std::span<const FrameView>(&one, 1)), 1);
  pump(io);
  FrameView in[32];
  EXPECT_EQ(lane1->recv(in), 1);
  uint32_t drained = 0;
  for (int n; (n = lane0->recv(in)) > 0;) drained += static_cast<uint32_t>(n);
  EXPECT_EQ(drained, 127u);
  lane1->recv(std::span<FrameView>());
  EXPECT_EQ(rte_mempool_avail_count(io.port().pool()), kMbufs);
}

TEST(DpdkLanes, frames_for_no_lane_or_from_another_lanes_port_are_dropped_and_counted) {
  FERRY_REQUIRE(testing::running_as_root(), "needs root for the EAL");
  DpdkLaneIo io(loopback_cfg(), 2);
  auto lane0 = io.lane(0);
  auto lane1 = io.lane(1);
  resolve(io, *lane0);
  ASSERT_TRUE(lane0->link_up());
  std::vector<uint8_t> f(80, 0x5a);
  // Frames built by hand from and to the given ports, looped through the port.
  auto inject = [&](uint16_t src_port, uint16_t dst_port) {
    rte_mbuf *mb = rte_pktmbuf_alloc(io.port().pool());
    ASSERT_NE(mb, nullptr);
    net::Flow flow = io.port().flow();
    flow.src_port = src_port;
    flow.dst_port = dst_port;
    io.port().build(mb, flow, 1, FrameView(f.data(), f.size()));
    ASSERT_EQ(rte_eth_tx_burst(io.port().port_id(), 0, &mb, 1), 1);
  };
  const uint64_t before = io.counters().rx_dropped.get();
  inject(kBasePort + 2, kBasePort + 2);  // lane 2: this host runs two
  inject(kBasePort + 1, kBasePort + 0);  // lane 0's port from lane 1's peer port
  inject(kBasePort + 1, kBasePort + 1);  // lane 1's flow: delivered
  pump(io);
  EXPECT_EQ(io.counters().rx_dropped.get(), before + 2);
  FrameView in[4];
  EXPECT_EQ(lane0->recv(in), 0);
  ASSERT_EQ(lane1->recv(in), 1);
  EXPECT_EQ(in[0].size(), f.size());
  EXPECT_EQ(io.counters().ring_full.get(), 0u);
}

}  // namespace
}  // namespace ferry::engine
