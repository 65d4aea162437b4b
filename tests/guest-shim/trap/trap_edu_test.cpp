// End to end without the network: the pointer-access edu driver (guest-shim/examples/
// edu-mapped) on the BAR0 ferry_map_bar() hands out, against the real relay, device node and
// edu model of tests/support's in-process responder.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "edu_exercise.h"
#include "edu_hw.h"
#include "guest_fixture.h"

namespace ferry::trap::testing {
namespace {

class TrapEdu : public ::testing::Test {
 protected:
  void SetUp() override {
    dev_ = ferry::testing::open_guest(responder_.guest_config());
    ASSERT_TRUE(dev_);
    volatile void *p = nullptr;
    size_t len = 0;
    ASSERT_EQ(ferry_map_bar(dev_.get(), 0, &p, &len), 0);
    ASSERT_EQ(len, size_t{1} << 20);  // edu's BAR0, the default
    bar0_ = static_cast<volatile uint8_t *>(p);
  }

  ferry::testing::Responder responder_;
  ferry::testing::DevPtr dev_;  // ferry_close unmaps BAR0
  volatile uint8_t *bar0_ = nullptr;
};

TEST_F(TrapEdu, pointer_access_driver_passes_id_liveness_factorial_irq_and_dma) {
  EXPECT_EQ(edu_exercise(dev_.get(), bar0_, 4096, nullptr), 0);
  EXPECT_EQ(ferry_last_error(dev_.get()), 0);
}

TEST_F(TrapEdu, device_answer_to_an_undecoded_size_reaches_the_register_as_all_ones) {
  // edu decodes only 4-byte accesses below 0x80; a byte load gets the device's all-ones.
  EXPECT_EQ(bar0_[EDU_REG_ID], 0xff);
  EXPECT_EQ(*reinterpret_cast<volatile uint32_t *>(bar0_ + EDU_REG_ID), EDU_ID);
}

TEST_F(TrapEdu, threads_reading_through_the_trapped_bar_all_see_the_device) {
  std::atomic<unsigned> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (edu_check_id(bar0_) != 0) wrong.fetch_add(1);
      }
    });
  }
  for (auto &th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0u);
}

}  // namespace
}  // namespace ferry::trap::testing
