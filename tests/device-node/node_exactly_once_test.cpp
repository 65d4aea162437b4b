// Exactly once: a request the transport delivers twice runs once; a duplicated read is
// answered with the original sealed completion (same bytes, no new nonce).
#include <gtest/gtest.h>

#include <cstring>

#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::EduModel;
constexpr uint64_t kBase = 0x1000000;

TEST(NodeExactlyOnce, duplicated_factorial_start_runs_once) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  rig.bench.to_node.duplicate_next();
  g.write(0, EduModel::kRegFactorial, 4, 6);
  rig.bench.advance(1000);
  rig.bench.pump();
  // A second start after the first finished would have computed 720! = 0; it never ran.
  rig.bench.to_node.duplicate_next();
  g.write(0, EduModel::kRegLiveness, 4, 1);
  EXPECT_EQ(rig.edu(g)->factorials_started(), 1u);
  EXPECT_EQ(g.read(0, EduModel::kRegFactorial, 4), 720u);
  EXPECT_EQ(rig.counters().replays_dropped, 2u);
  EXPECT_EQ(rig.counters().mmio_writes, 2u);
}

TEST(NodeExactlyOnce, duplicated_dma_start_moves_the_data_once) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  edu_dma(g, EduModel::kDmaBufferAddr, kBase, 64, 0);  // registers only, no start
  rig.bench.to_node.duplicate_next();
  g.write(0, EduModel::kRegDmaCmd, 8, EduModel::kDmaCmdStart | EduModel::kDmaCmdToRam);
  EXPECT_EQ(rig.edu(g)->dma_started(), 1u);
  EXPECT_EQ(rig.counters().dma_chunks_written, 1u);
}

TEST(NodeExactlyOnce, duplicated_read_is_answered_from_the_cache_with_the_same_bytes) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  const size_t before = g.received.size();
  rig.bench.to_node.duplicate_next();
  const uint64_t seq = g.post_read(0, EduModel::kRegId, 4);
  rig.bench.pump();
  ASSERT_EQ(g.received.size(), before + 2);
  EXPECT_EQ(std::memcmp(&g.received[before], &g.received[before + 1], sizeof(proto::Descriptor)),
            0);
  EXPECT_EQ(g.replays, 1u);  // the guest's own window drops the copy
  ASSERT_NE(g.completion(seq), nullptr);
  EXPECT_EQ(rig.counters().mmio_reads, 1u);
  EXPECT_EQ(rig.counters().duplicates_answered_from_cache, 1u);
}

TEST(NodeExactlyOnce, late_retransmission_of_a_read_still_gets_the_cached_answer) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.post_read(0, EduModel::kRegLiveness, 4);
  const std::vector<uint8_t> first_request = rig.bench.to_node.raw().back();
  rig.bench.pump();
  const proto::Descriptor original = g.received.back();
  g.write(0, EduModel::kRegLiveness, 4, 5);  // the state the read saw has changed since
  for (int i = 0; i < 10; ++i) g.read(0, EduModel::kRegId, 4);
  rig.bench.to_node.raw().push_back(first_request);  // the transport retransmits it
  rig.bench.pump();
  EXPECT_EQ(std::memcmp(&g.received.back(), &original, sizeof(original)), 0);
  EXPECT_EQ(rig.counters().duplicates_answered_from_cache, 1u);
  EXPECT_EQ(rig.counters().mmio_reads, 11u);
}

TEST(NodeExactlyOnce, request_older_than_the_reply_cache_is_dropped_not_run_again) {
  TempPsk psk(0x42);
  auto aead = proto::Aead::create_best();
  config::DeviceNodeConfig cfg = node_config(edu_and_accel(), psk);
  cfg.reply_cache = 4;
  device::DeviceNode node(cfg, *aead);
  TestBench bench(node);
  TestGuest g(bench, psk.psk(), TestGuest::Options{});
  ASSERT_TRUE(g.connect());
  g.post_read(0, EduModel::kRegId, 4);
  const std::vector<uint8_t> first_request = bench.to_node.raw().back();
  bench.pump();
  for (int i = 0; i < 8; ++i) g.read(0, EduModel::kRegId, 4);
  const size_t received = g.received.size();
  bench.to_node.raw().push_back(first_request);
  bench.pump();
  EXPECT_EQ(g.received.size(), received);
  EXPECT_EQ(node.counters().replays_dropped, 1u);
  EXPECT_EQ(node.counters().mmio_reads, 9u);
}

}  // namespace
}  // namespace ferry::testing
