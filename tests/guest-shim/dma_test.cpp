// Streaming DMA through the shim, the relay's window and the device node's DMA engine, with
// the edu model moving the bytes: integrity at every size, partial syncs, and the allocator.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "edu_ops.h"
#include "ferry/guest.hpp"
#include "guest_fixture.h"

namespace ferry {
namespace {

using testing::edu_dma;
using testing::EduModel;
using testing::open_guest;
using testing::Responder;
using testing::ResponderOptions;
using testing::with_model;

ResponderOptions edu_with_buffer(uint64_t bytes) {
  ResponderOptions o;
  o.params["dma_buffer_size"] = bytes;
  return o;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto &b : v) b = static_cast<uint8_t>(rng());
  return v;
}

class DmaRoundTrip : public ::testing::TestWithParam<size_t> {};

TEST_P(DmaRoundTrip, bytes_reach_the_device_and_come_back_unchanged) {
  const size_t n = GetParam();
  Responder r(edu_with_buffer(std::max<size_t>(n, 4096)));
  auto dev = open_guest(r.guest_config(5000));
  ASSERT_TRUE(dev);
  const std::vector<uint8_t> data = random_bytes(n, static_cast<uint32_t>(n));

  uint64_t src_dma = 0, dst_dma = 0;
  auto *src = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), n, &src_dma));
  auto *dst = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), n, &dst_dma));
  ASSERT_NE(src, nullptr);
  ASSERT_NE(dst, nullptr);
  std::memcpy(src, data.data(), n);
  ASSERT_EQ(ferry_dma_sync_for_device(dev.get(), src_dma, n), 0);
  ASSERT_EQ(edu_dma(dev.get(), src_dma, EduModel::kDmaBufferAddr, n, false), 0);
  bool same = false;
  ASSERT_TRUE(with_model<EduModel>(r, [&](EduModel &m) {
    same = std::equal(data.begin(), data.end(), m.buffer().begin());
    EXPECT_EQ(m.dma_failed(), 0u);
  }));
  EXPECT_TRUE(same) << "device buffer differs after RAM -> device";

  ASSERT_EQ(edu_dma(dev.get(), EduModel::kDmaBufferAddr, dst_dma, n, true), 0);
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, n), 0);
  EXPECT_EQ(std::memcmp(dst, data.data(), n), 0) << "bytes differ after device -> RAM";
  ferry_dma_free(dev.get(), src, n);
  ferry_dma_free(dev.get(), dst, n);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

INSTANTIATE_TEST_SUITE_P(Sizes, DmaRoundTrip,
                         ::testing::Values(1, 63, 64, 4095, 4096, 4097, 3 * 4096 + 5, 65536,
                                           1 << 20));

TEST(Dma, sync_for_cpu_copies_only_the_bytes_the_device_wrote_inside_the_range) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  // Device buffer <- known pattern.
  const auto pattern = random_bytes(4096, 7);
  uint64_t src_dma = 0, dst_dma = 0;
  auto *src = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), 4096, &src_dma));
  auto *dst = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), 3 * 4096, &dst_dma));
  ASSERT_TRUE(src && dst);
  std::memcpy(src, pattern.data(), 4096);
  ASSERT_EQ(ferry_dma_sync_for_device(dev.get(), src_dma, 4096), 0);
  ASSERT_EQ(edu_dma(dev.get(), src_dma, EduModel::kDmaBufferAddr, 4096, false), 0);
  // The device writes 1000 bytes at offset 4000 of dst: across the first chunk boundary.
  std::memset(dst, 0xee, 3 * 4096);
  ASSERT_EQ(edu_dma(dev.get(), EduModel::kDmaBufferAddr, dst_dma + 4000, 1000, true), 0);

  // A range the device did not write: nothing changes.
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, 3000), 0);
  EXPECT_EQ(std::count(dst, dst + 3 * 4096, 0xee), 3 * 4096);
  // Part of the written range: exactly that part.
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma + 4090, 20), 0);
  EXPECT_EQ(std::memcmp(dst + 4090, pattern.data() + 90, 20), 0);
  EXPECT_EQ(dst[4089], 0xee);
  EXPECT_EQ(dst[4110], 0xee);
  // The whole buffer: the device's 1000 bytes, the rest untouched.
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, 3 * 4096), 0);
  EXPECT_EQ(std::memcmp(dst + 4000, pattern.data(), 1000), 0);
  EXPECT_EQ(std::count(dst, dst + 4000, 0xee), 4000);
  EXPECT_EQ(std::count(dst + 5000, dst + 3 * 4096, 0xee), 3 * 4096 - 5000);
}

TEST(Dma, the_device_cannot_read_a_chunk_the_guest_did_not_sync) {
  Responder r(edu_with_buffer(8192));
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  uint64_t dma = 0;
  auto *buf = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), 8192, &dma));
  ASSERT_NE(buf, nullptr);
  std::memset(buf, 0x42, 8192);
  ASSERT_EQ(ferry_dma_sync_for_device(dev.get(), dma, 100), 0);  // first chunk only
  ASSERT_EQ(edu_dma(dev.get(), dma, EduModel::kDmaBufferAddr, 8192, false), 0);
  ASSERT_TRUE(with_model<EduModel>(r, [&](EduModel &m) {
    EXPECT_EQ(m.dma_failed(), 1u);
    EXPECT_EQ(m.buffer()[0], 0) << "a failed transfer must not change the device buffer";
  }));
  // Syncing the rest makes the same transfer work.
  ASSERT_EQ(ferry_dma_sync_for_device(dev.get(), dma + 4096, 4096), 0);
  ASSERT_EQ(edu_dma(dev.get(), dma, EduModel::kDmaBufferAddr, 8192, false), 0);
  ASSERT_TRUE(with_model<EduModel>(r, [&](EduModel &m) { EXPECT_EQ(m.buffer()[8191], 0x42); }));
}

TEST(Dma, a_later_sync_for_device_sends_the_new_contents) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  uint64_t dma = 0;
  auto *buf = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), 64, &dma));
  ASSERT_NE(buf, nullptr);
  for (uint8_t round = 1; round <= 3; ++round) {
    std::memset(buf, round, 64);
    ASSERT_EQ(ferry_dma_sync_for_device(dev.get(), dma, 64), 0);
    ASSERT_EQ(edu_dma(dev.get(), dma, EduModel::kDmaBufferAddr, 64, false), 0);
    ASSERT_TRUE(with_model<EduModel>(r, [&](EduModel &m) { EXPECT_EQ(m.buffer()[63], round); }));
  }
}

TEST(Dma, alloc_returns_zeroed_aligned_private_memory_and_chunk_aligned_addresses) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  const proto::ShmGeometry &g = r.region().geometry();
  uint64_t dma = 0;
  auto *p = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), 10000, &dma));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
  EXPECT_EQ(std::count(p, p + 10000, 0), 10000);
  EXPECT_GE(dma, g.dma_base);
  EXPECT_EQ((dma - g.dma_base) % g.chunk_size, 0u);
  EXPECT_LT(dma + 10000, 1ull << 28) << "edu masks DMA addresses to 28 bits";
  // The buffer is private: it is not inside the shared region.
  const uint8_t *lo = r.region().base(), *hi = lo + r.region().size();
  EXPECT_TRUE(p + 10000 <= lo || p >= hi);
  ferry_dma_free(dev.get(), p, 10000);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

TEST(Dma, many_mappings_get_disjoint_device_ranges_and_freed_ones_are_reused) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  struct Map {
    void *p;
    size_t len;
    uint64_t dma;
  };
  std::vector<Map> maps;
  std::mt19937 rng(3);
  for (int i = 0; i < 100; ++i) {
    size_t len = 1 + rng() % 20000;
    uint64_t dma = 0;
    void *p = ferry_dma_alloc(dev.get(), len, &dma);
    ASSERT_NE(p, nullptr) << "allocation " << i;
    maps.push_back({p, len, dma});
  }
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto &m : maps) ranges.emplace_back(m.dma, m.dma + m.len);
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) EXPECT_LE(ranges[i - 1].second, ranges[i].first);
  // Free every other mapping; the same room serves new ones.
  std::set<uint64_t> freed;
  for (size_t i = 0; i < maps.size(); i += 2) {
    ferry_dma_free(dev.get(), maps[i].p, maps[i].len);
    ASSERT_EQ(ferry_last_error(dev.get()), 0);
    freed.insert(maps[i].dma);
  }
  uint64_t dma = 0;
  void *p = ferry_dma_alloc(dev.get(), 1, &dma);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(freed.count(dma)) << "first fit reuses the lowest freed chunk";
  ferry_dma_free(dev.get(), p, 1);
  for (size_t i = 1; i < maps.size(); i += 2) ferry_dma_free(dev.get(), maps[i].p, maps[i].len);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

TEST(Dma, an_exhausted_window_fails_with_enomem_until_a_buffer_is_freed) {
  ResponderOptions o;
  o.region.n_chunks = 8;
  Responder r(o);
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  std::vector<void *> bufs;
  for (int i = 0; i < 8; ++i) {
    uint64_t dma = 0;
    bufs.push_back(ferry_dma_alloc(dev.get(), 4096, &dma));
    ASSERT_NE(bufs.back(), nullptr);
  }
  uint64_t dma = 0;
  EXPECT_EQ(ferry_dma_alloc(dev.get(), 1, &dma), nullptr);
  EXPECT_EQ(ferry_last_error(dev.get()), -ENOMEM);
  ferry_dma_free(dev.get(), bufs[3], 4096);
  void *again = ferry_dma_alloc(dev.get(), 4096, &dma);
  EXPECT_NE(again, nullptr);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
}

TEST(Dma, a_fragmented_window_refuses_a_buffer_larger_than_any_free_run) {
  ResponderOptions o;
  o.region.n_chunks = 8;
  Responder r(o);
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  std::vector<void *> bufs;
  for (int i = 0; i < 8; ++i) {
    uint64_t dma = 0;
    bufs.push_back(ferry_dma_alloc(dev.get(), 4096, &dma));
  }
  for (int i = 0; i < 8; i += 2) ferry_dma_free(dev.get(), bufs[i], 4096);  // 4 free, apart
  uint64_t dma = 0;
  EXPECT_EQ(ferry_dma_alloc(dev.get(), 2 * 4096, &dma), nullptr);
  EXPECT_EQ(ferry_last_error(dev.get()), -ENOMEM);
  EXPECT_NE(ferry_dma_alloc(dev.get(), 4096, &dma), nullptr);
}

TEST(Dma, bad_arguments_are_refused_with_einval) {
  Responder r;
  auto dev = open_guest(r.guest_config());
  ASSERT_TRUE(dev);
  uint64_t dma = 0;
  EXPECT_EQ(ferry_dma_alloc(dev.get(), 0, &dma), nullptr);
  EXPECT_EQ(ferry_last_error(dev.get()), -EINVAL);
  EXPECT_EQ(ferry_dma_alloc(dev.get(), 16, nullptr), nullptr);
  EXPECT_EQ(ferry_last_error(dev.get()), -EINVAL);

  void *p = ferry_dma_alloc(dev.get(), 5000, &dma);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(ferry_dma_sync_for_device(dev.get(), dma, 5001), -EINVAL) << "past the mapping";
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev.get(), dma - 1, 10), -EINVAL) << "before the mapping";
  EXPECT_EQ(ferry_dma_sync_for_device(dev.get(), 0x10, 1), -EINVAL) << "not a mapping";
  EXPECT_EQ(ferry_last_error(dev.get()), -EINVAL);
  int on_stack = 0;
  ferry_dma_free(dev.get(), &on_stack, 4);
  EXPECT_EQ(ferry_last_error(dev.get()), -EINVAL);
  ferry_dma_free(dev.get(), p, 4999);
  EXPECT_EQ(ferry_last_error(dev.get()), -EINVAL) << "length must match the allocation";
  ferry_dma_free(dev.get(), p, 5000);
  EXPECT_EQ(ferry_last_error(dev.get()), 0);
  ferry_dma_free(dev.get(), p, 5000);
  EXPECT_EQ(ferry_last_error(dev.get()), -EINVAL) << "double free";
}

TEST(Dma, the_cpp_wrapper_frees_its_buffers) {
  Responder r;
  std::string yaml = r.write_guest_yaml();
  GuestDevice dev(yaml);
  {
    DmaBuffer a = dev.dma_alloc(4096 * 4);
    ASSERT_TRUE(a);
    a.bytes()[0] = 1;
    EXPECT_EQ(a.sync_for_device(), 0);
    DmaBuffer moved = std::move(a);
    EXPECT_FALSE(a);
    EXPECT_TRUE(moved);
  }
  // Everything was freed: the whole window is available again.
  DmaBuffer all = dev.dma_alloc(size_t{r.region().geometry().n_chunks} * 4096);
  EXPECT_TRUE(all);
  std::remove(yaml.c_str());
}

}  // namespace
}  // namespace ferry
