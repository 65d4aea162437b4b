// ferry-device-node's handler (device-node/service): what the engine's idle policy sees of the
// device node's work.
#include <gtest/gtest.h>

#include "device_node_handler.h"
#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::EduModel;

TEST(DeviceNodeHandler, poll_returns_the_nodes_work_so_the_idle_policy_sees_a_timer_fire) {
  NodeRig rig;
  services::DeviceNodeHandler handler(rig.node);
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.write(0, EduModel::kRegStatus, 4, EduModel::kStatusIrqFact);
  g.write(0, EduModel::kRegFactorial, 4, 3);
  EXPECT_EQ(handler.poll(rig.bench.from_node, rig.bench.now_ns), 0);  // still computing
  rig.bench.advance(1000);
  EXPECT_GT(handler.poll(rig.bench.from_node, rig.bench.now_ns), 0);  // the interrupt went out
  rig.bench.pump();
  EXPECT_EQ(g.irqs().size(), 1u);
  EXPECT_EQ(handler.poll(rig.bench.from_node, rig.bench.now_ns), 0);
}

}  // namespace
}  // namespace ferry::testing
