// Concurrency: threads bound to different queues run side by side, each with its own order.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "edu_ops.h"
#include "guest_fixture.h"

namespace ferry {
namespace {

using testing::EduModel;
using testing::open_guest;
using testing::Responder;
using testing::ResponderOptions;

ResponderOptions two_queues() {
  ResponderOptions o;
  o.region.n_queues = 2;
  return o;
}

TEST(Threads, threads_on_different_queues_each_read_their_own_writes) {
  Responder r(two_queues());
  config::GuestConfig cfg = r.guest_config(5000);
  cfg.n_queues = 2;
  auto dev = open_guest(cfg);
  ASSERT_TRUE(dev);
  std::atomic<int> bad{0};
  auto worker = [&](unsigned queue, uint64_t reg) {
    if (ferry_bind_queue(dev.get(), queue) != 0) ++bad;
    for (uint64_t i = 1; i <= 300; ++i) {
      ferry_iowrite64(dev.get(), 0, reg, i * 2 + queue);
      if (ferry_ioread64(dev.get(), 0, reg) != i * 2 + queue) ++bad;
      if (ferry_last_error(dev.get()) != 0) ++bad;
    }
  };
  std::thread a(worker, 0, EduModel::kRegDmaSrc), b(worker, 1, EduModel::kRegDmaDst);
  a.join();
  b.join();
  EXPECT_EQ(bad.load(), 0);
  r.paused([&] { EXPECT_EQ(r.node().counters().auth_failures, 0u); });
}

TEST(Threads, an_interrupt_reaches_a_thread_waiting_on_another_queue) {
  Responder r(two_queues());
  config::GuestConfig cfg = r.guest_config();
  cfg.n_queues = 2;
  auto dev = open_guest(cfg);
  ASSERT_TRUE(dev);
  uint32_t got = 0;
  int rc = -1;
  std::thread waiter([&] {
    ferry_bind_queue(dev.get(), 1);
    rc = ferry_wait_irq(dev.get(), &got, 3000);
  });
  ferry_iowrite32(dev.get(), 0, EduModel::kRegIrqRaise, 0x10);
  waiter.join();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(got, 0x10u);
}

TEST(Threads, binding_to_a_queue_the_session_does_not_have_is_refused) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  EXPECT_EQ(ferry_bind_queue(dev.get(), 1), -EINVAL);
  EXPECT_EQ(ferry_last_error(dev.get()), -EINVAL);
  EXPECT_EQ(ferry_bind_queue(dev.get(), 0), 0);
  EXPECT_EQ(ferry_bind_queue(nullptr, 0), -EINVAL);
}

}  // namespace
}  // namespace ferry
