// Posted writes: they return once in the ring, the device runs them before any later read of
// the same queue, and a full ring makes the writer wait instead of dropping.
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
using testing::ResponderOptions;

TEST(Ordering, a_read_after_a_write_sees_the_write) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  for (uint32_t i = 0; i < 200; ++i) {
    ferry_iowrite32(dev.get(), 0, EduModel::kRegLiveness, i);
    ASSERT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegLiveness), ~i) << "iteration " << i;
  }
}

TEST(Ordering, a_burst_of_writes_runs_in_order_before_the_next_read) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  for (uint64_t i = 1; i <= 100; ++i) ferry_iowrite64(dev.get(), 0, EduModel::kRegDmaSrc, i);
  EXPECT_EQ(ferry_ioread64(dev.get(), 0, EduModel::kRegDmaSrc), 100u);
}

TEST(Ordering, the_factorial_write_is_executed_before_the_status_read) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  ferry_iowrite32(dev.get(), 0, EduModel::kRegFactorial, 5);
  // Either still computing or already done: never the value before the write.
  uint32_t status = ferry_ioread32(dev.get(), 0, EduModel::kRegStatus);
  uint32_t fact = ferry_ioread32(dev.get(), 0, EduModel::kRegFactorial);
  EXPECT_TRUE((status & EduModel::kStatusComputing) != 0 || fact == 120u)
      << "status " << status << " fact " << fact;
  while (ferry_ioread32(dev.get(), 0, EduModel::kRegStatus) & EduModel::kStatusComputing) {
  }
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegFactorial), 120u);
}

TEST(Ordering, a_full_ring_makes_writes_wait_and_drops_none) {
  ResponderOptions o;
  o.region.ring_slots = 16;
  Responder r(o);
  auto dev = open_guest(r.guest_config(5000));
  ASSERT_TRUE(dev);
  uint64_t writes_before = 0;
  r.paused([&] { writes_before = r.node().counters().mmio_writes; });
  r.stop();  // nobody drains the SQ now
  std::thread resume([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r.start();
  });
  const uint64_t n = 200;  // far more than the ring holds
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 1; i <= n; ++i) {
    ferry_iowrite64(dev.get(), 0, EduModel::kRegDmaDst, i);
    ASSERT_EQ(ferry_last_error(dev.get()), 0) << "write " << i;
  }
  auto waited = std::chrono::steady_clock::now() - t0;
  resume.join();
  EXPECT_GE(waited, std::chrono::milliseconds(90)) << "writes did not wait for room";
  EXPECT_EQ(ferry_ioread64(dev.get(), 0, EduModel::kRegDmaDst), n);
  r.paused([&] { EXPECT_EQ(r.node().counters().mmio_writes - writes_before, n); });
  EXPECT_GE(dev->impl->stats().ring_full, 1u);
}

TEST(Ordering, a_ring_that_stays_full_fails_the_write_with_etimedout) {
  ResponderOptions o;
  o.region.ring_slots = 4;
  Responder r(o);
  auto dev = open_guest(r.guest_config(100));
  ASSERT_TRUE(dev);
  r.stop();
  int failures = 0;
  for (int i = 0; i < 6; ++i) {
    ferry_iowrite32(dev.get(), 0, EduModel::kRegLiveness, 1);
    failures += ferry_last_error(dev.get()) == -ETIMEDOUT;
  }
  EXPECT_EQ(failures, 2) << "4 fit, the rest time out";
  // Nothing that was accepted is lost: after a restart the ring drains and the device works.
  r.start();
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegLiveness), ~1u);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

TEST(Ordering, a_completion_the_host_drops_fails_the_next_read_instead_of_being_forgotten) {
  Responder r;
  auto dev = open_guest(r.guest_config(300));
  ASSERT_TRUE(dev);
  ferry_iowrite32(dev.get(), 0, EduModel::kRegLiveness, 7);
  ASSERT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegLiveness), ~7u);
  r.paused([&] { r.to_host().drop_next_of_kind(proto::Kind::kSealed); });
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegLiveness), ~0u);
  EXPECT_EQ(ferry_last_error(dev.get()), -ETIMEDOUT);  // its answer never came
  // The next answer is authentic, but its sequence number says one is missing before it.
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegLiveness), ~0u);
  EXPECT_EQ(ferry_last_error(dev.get()), -EPROTO);
  EXPECT_EQ(dev->impl->stats().seq_gaps, 1u);
  ferry_iowrite32(dev.get(), 0, EduModel::kRegLiveness, 8);
  EXPECT_EQ(ferry_last_error(dev.get()), -EPROTO) << "the session failed for good";
}

}  // namespace
}  // namespace ferry
