// Isolation: every session has its own model, keys and view of guest memory; a session can
// never reach another's device state or DMA chunks, even with the host's help.
#include <gtest/gtest.h>

#include <cstring>

#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::EduModel;
constexpr uint64_t kBase = 0x1000000;

TEST(NodeIsolation, two_channels_have_separate_device_instances) {
  NodeRig rig;
  TestGuest a(rig.bench, rig.psk.psk(), rig.guest_options(1));
  TestGuest b(rig.bench, rig.psk.psk(), rig.guest_options(2));
  ASSERT_TRUE(a.connect());
  ASSERT_TRUE(b.connect());
  a.write(0, EduModel::kRegLiveness, 4, 0x1111);
  b.write(0, EduModel::kRegLiveness, 4, 0x2222);
  b.write(0, EduModel::kRegIrqRaise, 4, 0x4);
  EXPECT_EQ(a.read(0, EduModel::kRegLiveness, 4), ~0x1111u);
  EXPECT_EQ(b.read(0, EduModel::kRegLiveness, 4), ~0x2222u);
  EXPECT_TRUE(a.irqs().empty());
  EXPECT_EQ(b.irqs().size(), 1u);
  EXPECT_NE(rig.edu(a), rig.edu(b));
  EXPECT_EQ(rig.node.session_count(), 2u);
}

TEST(NodeIsolation, a_chunk_of_one_session_does_not_open_in_another) {
  NodeRig rig;
  TestGuest a(rig.bench, rig.psk.psk(), rig.guest_options(1));
  TestGuest b(rig.bench, rig.psk.psk(), rig.guest_options(2));
  ASSERT_TRUE(a.connect());
  ASSERT_TRUE(b.connect());
  std::memset(a.mem(kBase), 0xaa, 4096);
  a.sync_for_device(kBase, 4096);
  std::memset(b.mem(kBase), 0xbb, 4096);
  b.sync_for_device(kBase, 4096);  // same address, same version number, other session
  rig.bench.pump();
  b.window[kBase] = a.window[kBase];  // the host serves A's chunk to B
  edu_dma(b, kBase, EduModel::kDmaBufferAddr, 64, EduModel::kDmaCmdStart);
  EXPECT_EQ(rig.edu(b)->dma_failed(), 1u);
  EXPECT_EQ(rig.edu(b)->buffer()[0], 0);
  edu_dma(a, kBase, EduModel::kDmaBufferAddr, 64, EduModel::kDmaCmdStart);
  EXPECT_EQ(rig.edu(a)->buffer()[0], 0xaa);  // A's own read still works
}

TEST(NodeIsolation, a_chunk_announced_by_one_session_is_unknown_to_another) {
  NodeRig rig;
  TestGuest a(rig.bench, rig.psk.psk(), rig.guest_options(1));
  TestGuest b(rig.bench, rig.psk.psk(), rig.guest_options(2));
  ASSERT_TRUE(a.connect());
  ASSERT_TRUE(b.connect());
  a.sync_for_device(kBase, 4096);
  b.window[kBase] = a.window[kBase];
  edu_dma(b, kBase, EduModel::kDmaBufferAddr, 64, EduModel::kDmaCmdStart);
  EXPECT_EQ(rig.edu(b)->dma_failed(), 1u);
}

TEST(NodeIsolation, the_same_channel_from_two_peers_is_two_sessions) {
  TempPsk psk(0x42);
  auto aead = proto::Aead::create_best();
  device::DeviceNode node(node_config(edu_and_accel(), psk), *aead);
  TestBench bench1(node), bench2(node);
  TestGuest a(bench1, psk.psk(), TestGuest::Options{});
  TestGuest b(bench2, psk.psk(), TestGuest::Options{});
  ASSERT_TRUE(a.connect());
  ASSERT_TRUE(b.connect());
  a.write(0, EduModel::kRegLiveness, 4, 1);
  b.write(0, EduModel::kRegLiveness, 4, 2);
  EXPECT_EQ(a.read(0, EduModel::kRegLiveness, 4), ~1u);
  EXPECT_EQ(b.read(0, EduModel::kRegLiveness, 4), ~2u);
  EXPECT_EQ(node.session_count(), 2u);
  node.drop_peer(bench1.from_node);
  EXPECT_EQ(node.session_count(), 1u);
  EXPECT_EQ(node.model(bench1.from_node, 1), nullptr);
  EXPECT_EQ(b.read(0, EduModel::kRegLiveness, 4), ~2u);
  EXPECT_GT(node.counters().mmio_writes, 1u);  // counters of the ended session are kept
}

TEST(NodeIsolation, counters_are_kept_per_session) {
  NodeRig rig;
  TestGuest a(rig.bench, rig.psk.psk(), rig.guest_options(1));
  TestGuest b(rig.bench, rig.psk.psk(), rig.guest_options(2));
  ASSERT_TRUE(a.connect());
  ASSERT_TRUE(b.connect());
  for (int i = 0; i < 3; ++i) a.read(0, EduModel::kRegId, 4);
  b.read(0, EduModel::kRegId, 4);
  for (const device::SessionInfo &s : rig.node.sessions()) {
    EXPECT_EQ(s.counters.mmio_reads, s.channel == 1 ? 3u : 1u);
  }
  EXPECT_EQ(rig.counters().mmio_reads, 4u);
}

}  // namespace
}  // namespace ferry::testing
