// ferry-device-node's log of the node's events (device-node/service/node_log.cpp) over the
// real device node and a test guest: a rejected handshake names the device, the guest and
// why; a guest attaching and a DMA read timing out are said; a flood of rejects is held to
// the log's burst with the rest counted. Read back from rte_log's stream (no EAL needed).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "ferry/engine/log.h"
#include "log_capture.h"
#include "node_log.h"
#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::EduModel;

struct LoggedRig {
  static device::NodeOptions with_log(services::NodeLog &log) {
    device::NodeOptions o;
    o.events = &log;
    o.handshakes_per_s = 1'000'000;  // the rejects are what is limited here, not the work
    o.handshake_burst = 1000;
    return o;
  }
  LogCapture cap;  // first: it sees everything the rig logs
  services::NodeLog log{0};
  NodeRig rig{edu_and_accel(), with_log(log)};
};

TEST(NodeLog, a_handshake_with_the_wrong_psk_is_logged_with_device_guest_and_reason) {
  LoggedRig r;
  TempPsk other(0x99);
  TestGuest g(r.rig.bench, other.psk(), r.rig.guest_options(1));
  ASSERT_FALSE(g.connect());
  EXPECT_EQ(r.cap.count("ferry.node: lane 0 channel 1: handshake rejected: device 1 guest 1: "
                        "hello did not authenticate: wrong PSK or tampered message\n"),
            1u)
      << r.cap.text();
}

TEST(NodeLog, a_handshake_for_an_unknown_device_is_logged_with_its_id) {
  LoggedRig r;
  TestGuest g(r.rig.bench, r.rig.psk.psk(), r.rig.guest_options(3, 77));
  ASSERT_FALSE(g.connect());
  EXPECT_EQ(r.cap.count("channel 3: handshake rejected: device 77 guest 1: hello for unknown "
                        "device id 77"),
            1u)
      << r.cap.text();
}

TEST(NodeLog, a_guest_attaching_and_a_dma_timeout_are_logged) {
  LoggedRig r;
  TestGuest g(r.rig.bench, r.rig.psk.psk(), r.rig.guest_options(1));
  ASSERT_TRUE(g.connect()) << g.error();
  EXPECT_EQ(r.cap.count("ferry.node: lane 0 channel 1: guest 1 attached to device 1\n"), 1u)
      << r.cap.text();
  constexpr uint64_t kBase = 0x1000000;
  std::memset(g.mem(kBase), 0x5a, 4096);
  g.sync_for_device(kBase, 4096);
  r.rig.bench.serve_reads = false;
  edu_dma(g, kBase, EduModel::kDmaBufferAddr, 64, EduModel::kDmaCmdStart);
  r.rig.bench.advance(device::NodeOptions{}.dma_timeout_ns);
  r.rig.bench.pump();
  ASSERT_EQ(r.rig.counters().dma_timeouts, 1u);
  EXPECT_EQ(r.cap.count("ferry.node: lane 0 channel 1: guest 1 device 1: DMA read of chunk "
                        "0x1000000 timed out\n"),
            1u)
      << r.cap.text();
}

TEST(NodeLog, a_flood_of_rejected_handshakes_logs_a_bounded_number_of_lines_and_the_count) {
  LoggedRig r;
  TempPsk other(0x99);
  constexpr int kFlood = 200;
  TestGuest g(r.rig.bench, other.psk(), r.rig.guest_options(1));
  for (int i = 0; i < kFlood; ++i) ASSERT_FALSE(g.connect());  // a fresh Hello each time
  EXPECT_EQ(r.rig.counters().handshake_failures, uint64_t{kFlood});
  // The bucket is the call site's, for the whole process (earlier tests may have taken a
  // token): at most a burst of lines, at least one.
  const size_t lines = r.cap.count("handshake rejected");
  EXPECT_GE(lines, 1u);
  EXPECT_LE(lines, size_t{engine::LogLimit::kDefaultBurst});
  std::this_thread::sleep_for(
      std::chrono::nanoseconds(engine::LogLimit::kDefaultIntervalNs + 50'000'000));
  ASSERT_FALSE(g.connect());
  EXPECT_EQ(r.cap.count("handshake rejected"), lines + 1);
  // The next line written counts every one held back.
  EXPECT_EQ(r.cap.count("wrong PSK or tampered message (" + std::to_string(kFlood - lines) +
                        " similar messages suppressed)\n"),
            1u)
      << r.cap.text();
}

}  // namespace
}  // namespace ferry::testing
