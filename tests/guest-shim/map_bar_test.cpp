// ferry_map_bar: a BAR as a trapped pointer range whose loads and stores become the accessor
// calls of the same size, against the real device node and models. The decoder itself is
// tested in tests/guest-shim/trap; here, what the C API promises about the range.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>

#include "ferry/device/accel.h"
#include "ferry/device/edu.h"
#include "guest_fixture.h"
#include "trap/trap.h"

namespace ferry {
namespace {

using device::AccelModel;
using device::EduModel;
using testing::open_guest;
using testing::Responder;
using testing::ResponderOptions;

template <typename T>
volatile T *reg(volatile void *bar, uint64_t off) {
  return reinterpret_cast<volatile T *>(static_cast<volatile uint8_t *>(bar) + off);
}

TEST(MapBar, bar0_defaults_to_one_mebibyte_and_reads_the_device) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  volatile void *bar = nullptr;
  size_t len = 0;
  ASSERT_EQ(ferry_map_bar(dev.get(), 0, &bar, &len), 0);
  EXPECT_EQ(len, size_t{1} << 20);
  EXPECT_EQ(*reg<uint32_t>(bar, EduModel::kRegId), EduModel::kId);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

TEST(MapBar, configured_bar_size_is_the_mapped_length_and_eight_byte_accesses_round_trip) {
  ResponderOptions o;
  o.model = "accel";
  Responder r(o);
  config::GuestConfig cfg = r.guest_config();
  cfg.bar_sizes[0] = 4096;
  auto dev = open_guest(cfg);
  ASSERT_TRUE(dev);
  volatile void *bar = nullptr;
  size_t len = 0;
  ASSERT_EQ(ferry_map_bar(dev.get(), 0, &bar, &len), 0);
  EXPECT_EQ(len, 4096u);
  EXPECT_EQ(*reg<uint64_t>(bar, AccelModel::kRegId), AccelModel::kId);
  *reg<uint64_t>(bar, AccelModel::kRegScratch) = 0x0123456789abcdefull;
  EXPECT_EQ(*reg<uint64_t>(bar, AccelModel::kRegScratch), 0x0123456789abcdefull);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

TEST(MapBar, bad_bar_bar_without_a_size_and_null_arguments_are_refused) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  volatile void *bar = nullptr;
  size_t len = 0;
  EXPECT_EQ(ferry_map_bar(dev.get(), 1, &bar, &len), -EINVAL);  // no bar_size for BAR1
  EXPECT_EQ(ferry_last_error(dev.get()), -EINVAL);
  EXPECT_EQ(ferry_map_bar(dev.get(), 6, &bar, &len), -EINVAL);
  EXPECT_EQ(ferry_map_bar(dev.get(), 0, nullptr, &len), -EINVAL);
  EXPECT_EQ(ferry_map_bar(dev.get(), 0, &bar, nullptr), -EINVAL);
  EXPECT_EQ(ferry_map_bar(nullptr, 0, &bar, &len), -EINVAL);
  EXPECT_EQ(bar, nullptr);
  EXPECT_EQ(len, 0u);
}

TEST(MapBar, mapping_a_bar_again_returns_the_same_range) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  volatile void *first = nullptr, *second = nullptr;
  size_t first_len = 0, second_len = 0;
  ASSERT_EQ(ferry_map_bar(dev.get(), 0, &first, &first_len), 0);
  ASSERT_EQ(ferry_map_bar(dev.get(), 0, &second, &second_len), 0);
  EXPECT_EQ(first, second);
  EXPECT_EQ(first_len, second_len);
}

TEST(MapBar, trapped_and_accessor_accesses_on_one_queue_are_executed_in_call_order) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  volatile void *bar = nullptr;
  size_t len = 0;
  ASSERT_EQ(ferry_map_bar(dev.get(), 0, &bar, &len), 0);
  volatile uint32_t *live = reg<uint32_t>(bar, EduModel::kRegLiveness);
  for (uint32_t v : {1u, 0x12345678u}) {
    *live = v;  // posted, then an accessor read
    EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegLiveness), ~v);
    ferry_iowrite32(dev.get(), 0, EduModel::kRegLiveness, ~v);  // posted, then a trapped read
    EXPECT_EQ(*live, v);
  }
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

TEST(MapBar, trapped_read_without_a_data_plane_loads_all_ones_and_sets_the_error) {
  Responder r;
  auto dev = open_guest(r.guest_config(100));
  ASSERT_TRUE(dev);
  volatile void *bar = nullptr;
  size_t len = 0;
  ASSERT_EQ(ferry_map_bar(dev.get(), 0, &bar, &len), 0);
  r.kill_relay();
  EXPECT_EQ(*reg<uint32_t>(bar, EduModel::kRegId), 0xffffffffu);
  EXPECT_EQ(ferry_last_error(dev.get()), -ENOTCONN);
  EXPECT_EQ(*reg<uint64_t>(bar, 0x80), ~uint64_t{0});
  EXPECT_EQ(*reg<uint8_t>(bar, EduModel::kRegId), 0xffu);
  EXPECT_EQ(ferry_last_error(dev.get()), -ENOTCONN);
}

TEST(MapBar, closing_the_device_unmaps_its_bars) {
  Responder r;
  ferry_dev *dev = ferry_open_config(r.guest_config());
  ASSERT_NE(dev, nullptr) << ferry_open_error();
  volatile void *bar = nullptr;
  size_t len = 0;
  ASSERT_EQ(ferry_map_bar(dev, 0, &bar, &len), 0);
  ferry_close(dev);
  // No longer a trapped range: the engine no longer knows it.
  EXPECT_EQ(trap::unmap_trapped_range(bar), -EINVAL);
}

}  // namespace
}  // namespace ferry
