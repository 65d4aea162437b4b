// Interrupts: a model's raise_irq becomes a sealed interrupt descriptor carrying the vectors.
#include <gtest/gtest.h>

#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::EduModel;

TEST(NodeInterrupt, edu_raise_register_sends_a_sealed_interrupt_with_the_vectors) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.write(0, EduModel::kRegIrqRaise, 4, 0x8001);
  ASSERT_EQ(g.irqs().size(), 1u);
  EXPECT_EQ(g.irqs()[0], 0x8001u);
  EXPECT_EQ(g.auth_failures, 0u);
  EXPECT_EQ(g.read(0, EduModel::kRegIrqStatus, 4), 0x8001u);
  g.write(0, EduModel::kRegIrqAck, 4, 0x8001);
  EXPECT_EQ(g.read(0, EduModel::kRegIrqStatus, 4), 0u);
  EXPECT_EQ(rig.counters().irqs, 1u);
}

TEST(NodeInterrupt, factorial_completion_interrupts_after_the_device_delay) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.write(0, EduModel::kRegStatus, 4, EduModel::kStatusIrqFact);
  g.write(0, EduModel::kRegFactorial, 4, 10);
  EXPECT_EQ(g.read(0, EduModel::kRegStatus, 4).value() & EduModel::kStatusComputing,
            EduModel::kStatusComputing);
  EXPECT_TRUE(g.irqs().empty());
  rig.bench.advance(1000);
  rig.bench.pump();
  ASSERT_EQ(g.irqs().size(), 1u);
  EXPECT_EQ(g.irqs()[0], EduModel::kFactIrq);
  EXPECT_EQ(g.read(0, EduModel::kRegFactorial, 4), 3628800u);
}

TEST(NodeInterrupt, poll_reports_work_when_a_timer_fires_and_none_when_idle) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.write(0, EduModel::kRegStatus, 4, EduModel::kStatusIrqFact);
  g.write(0, EduModel::kRegFactorial, 4, 3);
  EXPECT_EQ(rig.node.poll(rig.bench.now_ns), 0u);  // computing, nothing to send yet
  rig.bench.advance(1000);
  EXPECT_GT(rig.node.poll(rig.bench.now_ns), 0u);  // the interrupt went out
  rig.bench.pump();
  EXPECT_EQ(g.irqs().size(), 1u);
  EXPECT_EQ(rig.node.poll(rig.bench.now_ns), 0u);
}

}  // namespace
}  // namespace ferry::testing
