// Backpressure: when the peer's sink refuses records, the node keeps them and sends them
// later, in order; nothing is lost and nothing overtakes.
#include <gtest/gtest.h>

#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::EduModel;

TEST(NodeBackpressure, refused_records_are_retried_in_order_and_none_is_lost) {
  NodeRig rig(edu_and_accel(), {}, 3);  // the node's sink takes three records at a time
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect()) << g.error();
  std::vector<uint64_t> seqs;
  for (uint32_t i = 0; i < 12; ++i) {
    g.post_write(0, EduModel::kRegLiveness, 4, i);
    seqs.push_back(g.post_read(0, EduModel::kRegLiveness, 4));
    if (i % 2 == 0) g.post_write(0, EduModel::kRegIrqRaise, 4, 1u << i);
  }
  rig.bench.pump();
  for (uint32_t i = 0; i < seqs.size(); ++i) {
    const proto::Descriptor *c = g.completion(seqs[i]);
    ASSERT_NE(c, nullptr) << i;
    EXPECT_EQ(c->body.value.get(), ~i & 0xffffffffu);
  }
  uint64_t vectors = 0;
  for (uint64_t v : g.irqs()) vectors |= v;
  EXPECT_EQ(vectors, 0x555u);
  EXPECT_GT(rig.counters().tx_deferred, 0u);
  EXPECT_EQ(rig.counters().tx_dropped, 0u);
  EXPECT_EQ(g.replays, 0u);  // in order: the guest's window never saw one go backwards
}

}  // namespace
}  // namespace ferry::testing
