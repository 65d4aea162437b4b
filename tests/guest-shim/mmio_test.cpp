// Register access through the shim against the real device node and edu model: every read
// width, posted writes, and the access errors a driver can see.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <thread>

#include "ferry/device/edu.h"
#include "ferry/guest.hpp"
#include "guest_fixture.h"

namespace ferry {
namespace {

using device::EduModel;
using testing::open_guest;
using testing::Responder;

TEST(Mmio, reads_the_edu_identification_register) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegId), EduModel::kId);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

TEST(Mmio, liveness_reads_back_the_inverse_of_what_was_written) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  for (uint32_t v : {0u, 1u, 0x12345678u, 0xffffffffu}) {
    ferry_iowrite32(dev.get(), 0, EduModel::kRegLiveness, v);
    EXPECT_EQ(ferry_last_error(dev.get()), 0);
    EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegLiveness), ~v);
  }
}

TEST(Mmio, eight_byte_registers_round_trip_through_iowrite64_and_ioread64) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  ferry_iowrite64(dev.get(), 0, EduModel::kRegDmaSrc, 0x0123456789abcdefull);
  EXPECT_EQ(ferry_ioread64(dev.get(), 0, EduModel::kRegDmaSrc), 0x0123456789abcdefull);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

TEST(Mmio, a_size_the_device_does_not_decode_reads_all_ones_like_the_hardware) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  // edu decodes only 4-byte accesses below 0x80: the device itself answers all-ones.
  EXPECT_EQ(ferry_ioread8(dev.get(), 0, EduModel::kRegId), 0xff);
  EXPECT_EQ(ferry_ioread16(dev.get(), 0, EduModel::kRegId), 0xffff);
  EXPECT_EQ(ferry_last_error(dev.get()), 0) << "a device answer, not a transport failure";
}

TEST(Mmio, narrow_writes_reach_the_device_which_ignores_sizes_it_does_not_decode) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  ferry_iowrite32(dev.get(), 0, EduModel::kRegLiveness, 0x11111111u);
  ferry_iowrite8(dev.get(), 0, EduModel::kRegLiveness, 0x22);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
  ferry_iowrite16(dev.get(), 0, EduModel::kRegLiveness, 0x3333);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegLiveness), ~0x11111111u);
  uint64_t writes = 0;
  r.paused([&] { writes = r.node().counters().mmio_writes; });
  EXPECT_GE(writes, 3u) << "the narrow writes did not reach the device";
}

TEST(Mmio, a_read_outside_every_bar_fails_with_eio_and_all_ones) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  EXPECT_EQ(ferry_ioread32(dev.get(), 2, 0), 0xffffffffu);
  EXPECT_EQ(ferry_last_error(dev.get()), -EIO);
  // The session is fine afterwards.
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegId), EduModel::kId);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

TEST(Mmio, a_bar_number_above_five_is_refused_without_reaching_the_device) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  EXPECT_EQ(ferry_ioread32(dev.get(), 6, 0), 0xffffffffu);
  EXPECT_EQ(ferry_last_error(dev.get()), -EINVAL);
  ferry_iowrite32(dev.get(), 9, 0, 1);
  EXPECT_EQ(ferry_last_error(dev.get()), -EINVAL);
}

TEST(Mmio, last_error_is_per_call_and_per_thread) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  (void)ferry_ioread32(dev.get(), 6, 0);
  EXPECT_EQ(ferry_last_error(dev.get()), -EINVAL);
  int other = 1;
  std::thread t([&] { other = ferry_last_error(dev.get()); });
  t.join();
  EXPECT_EQ(other, 0) << "another thread's error leaked";
  (void)ferry_ioread32(dev.get(), 0, 0);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

TEST(Mmio, null_device_arguments_are_refused) {
  EXPECT_EQ(ferry_ioread32(nullptr, 0, 0), 0xffffffffu);
  EXPECT_EQ(ferry_last_error(nullptr), -EINVAL);
  ferry_iowrite32(nullptr, 0, 0, 0);  // must not crash
  ferry_close(nullptr);
}

TEST(Mmio, the_cpp_wrapper_reads_and_writes_like_the_c_api) {
  Responder r;
  std::string yaml = r.write_guest_yaml();
  GuestDevice dev(yaml);
  EXPECT_EQ(dev.read32(0, EduModel::kRegId), EduModel::kId);
  dev.write32(0, EduModel::kRegLiveness, 0xf0f0f0f0u);
  EXPECT_EQ(dev.read32(0, EduModel::kRegLiveness), 0x0f0f0f0fu);
  EXPECT_EQ(dev.last_error(), 0);
  std::remove(yaml.c_str());
}

}  // namespace
}  // namespace ferry
