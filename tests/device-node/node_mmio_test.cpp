// MMIO through the device node: sealed reads and completions, posted writes, access sizes,
// refused accesses, in-order execution per queue, independent queues, sequence gaps.
#include <gtest/gtest.h>

#include <algorithm>

#include "ferry/device/accel.h"
#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::AccelModel;
using device::EduModel;

TEST(NodeMmio, read_is_answered_by_a_sealed_completion_naming_the_request) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  const uint64_t seq = g.post_read(0, EduModel::kRegId, 4);
  rig.bench.pump();
  const proto::Descriptor *c = g.completion(seq);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->hdr.kind, static_cast<uint8_t>(proto::Kind::kCompletion));
  EXPECT_EQ(c->body.kind, static_cast<uint8_t>(proto::Kind::kCompletion));  // sealed, restored
  EXPECT_EQ(c->body.status, static_cast<uint8_t>(proto::Status::kOk));
  EXPECT_EQ(c->body.value.get(), EduModel::kId);
  EXPECT_EQ(c->body.addr.get(), seq);
  EXPECT_EQ(g.auth_failures, 0u);
  EXPECT_EQ(rig.counters().mmio_reads, 1u);
  EXPECT_EQ(rig.counters().completions, 1u);
}

TEST(NodeMmio, posted_write_is_seen_by_the_next_read) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.post_write(0, EduModel::kRegLiveness, 4, 0xcafe);
  const size_t before = g.received.size();
  rig.bench.pump();
  EXPECT_EQ(g.received.size(), before);  // posted: no completion
  EXPECT_EQ(g.read(0, EduModel::kRegLiveness, 4), ~0xcafeu);
  EXPECT_EQ(rig.counters().mmio_writes, 1u);
}

TEST(NodeMmio, every_access_size_reaches_the_accel_registers) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1, 2));
  ASSERT_TRUE(g.connect());
  EXPECT_EQ(g.read(0, AccelModel::kRegId, 8), AccelModel::kId);
  EXPECT_EQ(g.read(0, AccelModel::kRegId + 1, 1), static_cast<uint64_t>('E'));
  g.write(0, AccelModel::kRegScratch, 8, 0x0102030405060708ull);
  g.write(0, AccelModel::kRegScratch + 2, 2, 0xbeef);
  g.write(0, AccelModel::kRegScratch + 4, 4, 0xa5a5a5a5);
  g.write(0, AccelModel::kRegScratch, 1, 0x11);
  EXPECT_EQ(g.read(0, AccelModel::kRegScratch, 8), 0xa5a5a5a5beef0711ull);
  EXPECT_EQ(g.read(0, AccelModel::kRegScratch + 2, 2), 0xbeefu);
  EXPECT_EQ(g.read(0, AccelModel::kRegScratch + 4, 4), 0xa5a5a5a5u);
}

TEST(NodeMmio, refused_access_completes_with_bad_access_and_all_ones) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  for (auto [bar, off, size] :
       {std::tuple{1u, 0ull, 4u}, std::tuple{0u, 1ull << 20, 4u}, std::tuple{0u, 0ull, 3u}}) {
    const uint64_t seq = g.post_read(bar, off, size);
    rig.bench.pump();
    const proto::Descriptor *c = g.completion(seq);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->body.status, static_cast<uint8_t>(proto::Status::kBadAccess));
    EXPECT_EQ(c->body.value.get(), ~0ull);
  }
  g.write(5, 0, 4, 1);
  EXPECT_EQ(rig.counters().bad_accesses, 4u);
}

TEST(NodeMmio, edu_wrong_size_read_returns_all_ones_for_its_size) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  EXPECT_EQ(g.read(0, EduModel::kRegId, 2), 0xffffu);
  EXPECT_EQ(g.read(0, EduModel::kRegId, 8), ~0ull);
}

TEST(NodeMmio, a_queue_runs_in_sequence_order_when_delivery_reorders) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.post_write(0, EduModel::kRegLiveness, 4, 1);
  const uint64_t read_seq = g.post_read(0, EduModel::kRegLiveness, 4);
  g.post_write(0, EduModel::kRegLiveness, 4, 2);
  auto &q = rig.bench.to_node.raw();
  ASSERT_EQ(q.size(), 3u);
  std::reverse(q.begin(), q.end());  // write 2, read, write 1
  rig.bench.pump();
  const proto::Descriptor *c = g.completion(read_seq);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->body.value.get(), ~1u & 0xffffffffu);  // after write 1, before write 2
  EXPECT_EQ(g.read(0, EduModel::kRegLiveness, 4), ~2u);
  EXPECT_EQ(rig.counters().out_of_order_held, 2u);
}

TEST(NodeMmio, queues_are_independent_and_answer_on_their_own_queue) {
  NodeRig rig;
  TestGuest::Options o = rig.guest_options(1, 2);
  o.n_queues = 3;
  TestGuest g(rig.bench, rig.psk.psk(), o);
  ASSERT_TRUE(g.connect());
  g.write(0, AccelModel::kRegScratch, 8, 77, 2);
  EXPECT_EQ(g.read(0, AccelModel::kRegScratch, 8, 1), 77u);
  EXPECT_EQ(g.read(0, AccelModel::kRegScratch, 8, 0), 77u);
  EXPECT_EQ(g.read(0, AccelModel::kRegScratch, 8, 2), 77u);
  EXPECT_NE(g.completion(1, 1), nullptr);
  EXPECT_NE(g.completion(1, 0), nullptr);
  EXPECT_NE(g.completion(2, 2), nullptr);
}

TEST(NodeMmio, a_dropped_posted_write_fails_the_session_instead_of_being_skipped) {
  device::NodeOptions opts;
  opts.reorder_timeout_ns = 1'000'000;
  NodeRig rig(edu_and_accel(), opts);
  TestGuest::Options o = rig.guest_options(1);
  o.n_queues = 2;
  TestGuest g(rig.bench, rig.psk.psk(), o);
  ASSERT_TRUE(g.connect());
  rig.bench.to_node.drop_next();
  g.post_write(0, EduModel::kRegLiveness, 4, 9);  // the host deletes exactly this write
  const uint64_t seq = g.post_read(0, EduModel::kRegLiveness, 4);
  rig.bench.pump();
  EXPECT_EQ(g.completion(seq), nullptr);  // held behind the gap
  rig.bench.advance(1'000'000);
  rig.bench.pump();
  // The read behind the gap never runs; instead every queue gets a sealed kSeqGap notice.
  EXPECT_EQ(g.completion(seq), nullptr);
  for (uint16_t q = 0; q < 2; ++q) {
    const proto::Descriptor *notice = g.completion(0, q);
    ASSERT_NE(notice, nullptr) << "queue " << q;
    EXPECT_EQ(notice->body.status, static_cast<uint8_t>(proto::Status::kSeqGap));
  }
  EXPECT_EQ(g.auth_failures, 0u);
  EXPECT_EQ(rig.counters().seq_gaps_failed, 1u);
  EXPECT_EQ(rig.counters().mmio_reads, 0u);
  // Nothing runs any more, and a later read on any queue is answered with the error.
  g.post_write(0, EduModel::kRegLiveness, 4, 5, 1);
  const uint64_t later = g.post_read(0, EduModel::kRegLiveness, 4, 1);
  rig.bench.pump();
  const proto::Descriptor *c = g.completion(later, 1);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->body.status, static_cast<uint8_t>(proto::Status::kSeqGap));
  EXPECT_EQ(rig.counters().mmio_writes, 0u);
  EXPECT_EQ(rig.counters().late_dropped, 2u);
}

}  // namespace
}  // namespace ferry::testing
