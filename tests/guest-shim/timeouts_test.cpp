// Reads never hang: a silent device, a dead data plane and a stalled host each end the read
// within its timeout with all-ones and an error that says which, and the session recovers.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "edu_ops.h"
#include "guest_fixture.h"

namespace ferry {
namespace {

using testing::EduModel;
using testing::open_guest;
using testing::Responder;

struct Timed {
  uint32_t value;
  int error;
  long ms;
};

Timed timed_read(ferry_dev *dev, uint64_t off) {
  auto t0 = std::chrono::steady_clock::now();
  uint32_t v = ferry_ioread32(dev, 0, off);
  int e = ferry_last_error(dev);
  long ms = static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  return {v, e, ms};
}

TEST(Timeouts, a_device_that_never_answers_times_the_read_out) {
  Responder r;
  auto dev = open_guest(r.guest_config(150));
  ASSERT_TRUE(dev);
  r.paused([&] { r.to_device().drop_next(1000000); });  // the network eats every request
  Timed t = timed_read(dev.get(), EduModel::kRegId);
  EXPECT_EQ(t.value, 0xffffffffu);
  EXPECT_EQ(t.error, -ETIMEDOUT);
  EXPECT_GE(t.ms, 150);
  EXPECT_LT(t.ms, 1500);
}

TEST(Timeouts, a_data_plane_that_went_away_gives_enotconn) {
  Responder r;
  auto dev = open_guest(r.guest_config(100));
  ASSERT_TRUE(dev);
  r.kill_relay();
  Timed t = timed_read(dev.get(), EduModel::kRegId);
  EXPECT_EQ(t.value, 0xffffffffu);
  EXPECT_EQ(t.error, -ENOTCONN);
  EXPECT_LT(t.ms, 1500);
  uint32_t v = 0;
  EXPECT_EQ(ferry_wait_irq(dev.get(), &v, 10), -ENOTCONN);
}

TEST(Timeouts, a_host_whose_heartbeat_stopped_gives_enotconn) {
  Responder r;
  auto dev = open_guest(r.guest_config(200));
  ASSERT_TRUE(dev);
  r.stop();  // the data plane hangs: region still marked ready, heartbeat frozen
  Timed t = timed_read(dev.get(), EduModel::kRegId);
  EXPECT_EQ(t.value, 0xffffffffu);
  EXPECT_EQ(t.error, -ENOTCONN);
  EXPECT_GE(t.ms, 200);
  EXPECT_LT(t.ms, 1500);
}

TEST(Timeouts, a_late_answer_to_a_timed_out_read_is_never_taken_for_a_later_one) {
  Responder r;
  auto dev = open_guest(r.guest_config(100));
  ASSERT_TRUE(dev);
  ferry_iowrite32(dev.get(), 0, EduModel::kRegLiveness, 0x1234);
  r.stop();
  Timed t = timed_read(dev.get(), EduModel::kRegLiveness);  // its answer will come late
  EXPECT_NE(t.error, 0);
  r.start();
  // The late completion (~0x1234) arrives first; this read must get the id, not that.
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegId), EduModel::kId);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
  EXPECT_GE(dev->impl->stats().stale, 1u);
}

}  // namespace
}  // namespace ferry
