// Interrupts: sealed kInterrupt descriptors from the device become ferry_wait_irq's vectors.
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>

#include "edu_ops.h"
#include "guest_fixture.h"

namespace ferry {
namespace {

using testing::EduModel;
using testing::open_guest;
using testing::Responder;

TEST(Irq, a_raised_vector_is_returned_by_wait_irq) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  ferry_iowrite32(dev.get(), 0, EduModel::kRegIrqRaise, 0x40);
  uint32_t v = 0;
  ASSERT_EQ(ferry_wait_irq(dev.get(), &v, 2000), 0);
  EXPECT_EQ(v, 0x40u);
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegIrqStatus), 0x40u);
  ferry_iowrite32(dev.get(), 0, EduModel::kRegIrqAck, 0x40);
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegIrqStatus), 0u);
}

TEST(Irq, a_factorial_with_the_interrupt_bit_raises_vector_one) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  ferry_iowrite32(dev.get(), 0, EduModel::kRegStatus, EduModel::kStatusIrqFact);
  ferry_iowrite32(dev.get(), 0, EduModel::kRegFactorial, 10);
  uint32_t v = 0;
  ASSERT_EQ(ferry_wait_irq(dev.get(), &v, 2000), 0);
  EXPECT_EQ(v & EduModel::kFactIrq, EduModel::kFactIrq);
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegFactorial), 3628800u);
}

TEST(Irq, a_dma_with_the_interrupt_bit_raises_vector_0x100) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  uint64_t dma = 0;
  void *buf = ferry_dma_alloc(dev.get(), 64, &dma);
  ASSERT_NE(buf, nullptr);
  ASSERT_EQ(ferry_dma_sync_for_device(dev.get(), dma, 64), 0);
  ASSERT_EQ(testing::edu_dma(dev.get(), dma, EduModel::kDmaBufferAddr, 64, false, true), 0);
  uint32_t v = 0;
  ASSERT_EQ(ferry_wait_irq(dev.get(), &v, 2000), 0);
  EXPECT_EQ(v & EduModel::kDmaIrq, EduModel::kDmaIrq);
}

TEST(Irq, vectors_raised_before_the_wait_are_merged_into_one_answer) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  ferry_iowrite32(dev.get(), 0, EduModel::kRegIrqRaise, 0x2);
  ferry_iowrite32(dev.get(), 0, EduModel::kRegIrqRaise, 0x8);
  // A read after the writes: both interrupts were sent before its completion.
  (void)ferry_ioread32(dev.get(), 0, EduModel::kRegId);
  uint32_t v = 0;
  ASSERT_EQ(ferry_wait_irq(dev.get(), &v, 1000), 0);
  EXPECT_EQ(v, 0xau);
  EXPECT_EQ(ferry_wait_irq(dev.get(), &v, 0), -ETIMEDOUT) << "each vector is reported once";
}

TEST(Irq, no_interrupt_times_out_after_the_given_time) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  uint32_t v = 0;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(ferry_wait_irq(dev.get(), &v, 50), -ETIMEDOUT);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_GE(ms, 50);
  EXPECT_LT(ms, 1000);
  EXPECT_EQ(ferry_last_error(dev.get()), -ETIMEDOUT);
}

TEST(Irq, bad_arguments_are_refused) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  uint32_t v = 0;
  EXPECT_EQ(ferry_wait_irq(dev.get(), nullptr, 10), -EINVAL);
  EXPECT_EQ(ferry_wait_irq(dev.get(), &v, -1), -EINVAL);
  EXPECT_EQ(ferry_wait_irq(nullptr, &v, 10), -EINVAL);
}

}  // namespace
}  // namespace ferry
