// The queue-driven accelerator alone: register access sizes, CRC32C and copy checked
// against an independent CPU computation for many sizes and queue depths, ring wrap-around,
// interrupt coalescing by count and by time, and its error paths.
#include <gtest/gtest.h>

#include <random>

#include "ferry/device/accel.h"
#include "ferry/proto/crc32c.h"
#include "flat_dma_context.h"
#include "test_guest.h"

namespace ferry::device {
namespace {

using proto::crc32c;
using testing::FlatDmaContext;
using testing::reference_crc32c;
constexpr uint64_t kRam = 0x1000000;
constexpr uint64_t kSq = kRam, kCq = kRam + 0x10000, kData = kRam + 0x100000;
constexpr uint64_t kOut = kRam + 0x300000;

struct Accel {
  explicit Accel(ModelParams p = {}) : ctx(kRam, 6u << 20), m(ctx, p) { ctx.attach(m); }
  uint64_t rd(uint64_t off, unsigned size = 8) { return *m.mmio_read(0, off, size); }
  void wr(uint64_t off, uint64_t v, unsigned size = 8) {
    ASSERT_TRUE(m.mmio_write(0, off, size, v));
  }
  void setup(uint64_t ring, uint64_t desc_size = 32) {
    wr(AccelModel::kRegSqBase, kSq);
    wr(AccelModel::kRegCqBase, kCq);
    wr(AccelModel::kRegRingSize, ring);
    wr(AccelModel::kRegDescSize, desc_size);
    wr(AccelModel::kRegCtrl, AccelModel::kCtrlEnable);
    ring_ = ring;
    desc_size_ = desc_size;
  }
  // Writes descriptor `index` of the ring.
  void post(uint64_t index, uint64_t src, uint32_t len, uint64_t dst, uint64_t cookie,
            uint8_t opcode = 1) {
    AccelDesc d{};
    d.opcode = opcode;
    d.len.set(len);
    d.src.set(src);
    d.dst.set(dst);
    d.cookie.set(cookie);
    std::memcpy(ctx.at(kSq + index * desc_size_), &d, sizeof(d));
  }
  AccelCompletion completion(uint64_t index) {
    AccelCompletion c;
    std::memcpy(&c, ctx.at(kCq + index * sizeof(c)), sizeof(c));
    return c;
  }
  FlatDmaContext ctx;
  AccelModel m;
  uint64_t ring_ = 0, desc_size_ = 32;
};

TEST(AccelModel, id_and_scratch_work_at_every_access_size) {
  Accel a;
  const char id[] = "FERRYACC";
  for (unsigned i = 0; i < 8; ++i) EXPECT_EQ(a.rd(i, 1), static_cast<uint8_t>(id[i])) << i;
  EXPECT_EQ(a.rd(0, 2), 0x4546u);
  EXPECT_EQ(a.rd(4, 4), 0x43434159u);
  EXPECT_EQ(a.rd(0, 8), AccelModel::kId);
  EXPECT_EQ(a.rd(AccelModel::kRegVersion, 4), AccelModel::kVersion);
  a.wr(0x10, 0x1122334455667788ull, 8);
  a.wr(0x10, 0xaa, 1);
  a.wr(0x13, 0xbb, 1);
  a.wr(0x14, 0xcccc, 2);
  EXPECT_EQ(a.rd(0x10), 0x1122ccccbb6677aaull);
  a.wr(0x14, 0xdeadbeef, 4);
  EXPECT_EQ(a.rd(0x10, 4), 0xbb6677aau);
  EXPECT_EQ(a.rd(0x14, 4), 0xdeadbeefu);
  EXPECT_EQ(a.rd(0x16, 2), 0xdeadu);
}

TEST(AccelModel, misaligned_and_unmapped_accesses_read_all_ones) {
  Accel a;
  EXPECT_EQ(a.rd(0x11, 2), 0xffffu);
  EXPECT_EQ(a.rd(0x12, 4), 0xffffffffu);
  EXPECT_EQ(a.rd(0x14, 8), ~0ull);
  EXPECT_EQ(a.rd(0x200, 4), 0xffffffffu);
  a.wr(0x11, 0x55, 2);  // ignored
  EXPECT_EQ(a.rd(0x10), 0u);
  EXPECT_FALSE(a.m.mmio_read(0, AccelModel::kBarSize, 4).has_value());
  EXPECT_FALSE(a.m.mmio_read(1, 0, 4).has_value());
  EXPECT_EQ(a.rd(AccelModel::kRegId, 3), 0xffffffu);  // a size the bus never issues
}

TEST(AccelModel, crc_and_copy_match_the_cpu_for_many_sizes_and_queue_depths) {
  std::mt19937 rng(7);
  const uint32_t sizes[] = {1, 3, 8, 63, 64, 1000, 4095, 4096, 4097, 65536 + 13};
  for (uint64_t depth : {1u, 2u, 5u, 16u, 63u}) {
    Accel a;
    a.setup(64);
    uint64_t src = kData, dst = kOut;
    std::vector<std::pair<uint64_t, uint32_t>> jobs;
    for (uint64_t i = 0; i < depth; ++i) {
      uint32_t len = sizes[(i + depth) % std::size(sizes)];
      for (uint32_t k = 0; k < len; ++k) *a.ctx.at(src + k) = static_cast<uint8_t>(rng());
      a.post(i, src, len, dst, 0xc0de0000 + i);
      jobs.push_back({src, len});
      src += len;
      dst += len;
    }
    a.wr(AccelModel::kRegSqTail, depth);
    a.ctx.complete_all();
    EXPECT_EQ(a.rd(AccelModel::kRegSqHead), depth);
    EXPECT_EQ(a.rd(AccelModel::kRegCompleted), depth);
    dst = kOut;
    for (uint64_t i = 0; i < depth; ++i) {
      const auto [s, len] = jobs[i];
      AccelCompletion c = a.completion(i);
      EXPECT_EQ(c.status.get(), 0u);
      EXPECT_EQ(c.crc.get(), reference_crc32c(a.ctx.at(s), len)) << "depth " << depth << " i " << i;
      EXPECT_EQ(c.len.get(), len);
      EXPECT_EQ(c.cookie.get(), 0xc0de0000 + i);
      EXPECT_EQ(c.seq.get(), i + 1);
      EXPECT_EQ(c.phase.get(), 1u);
      EXPECT_EQ(std::memcmp(a.ctx.at(dst), a.ctx.at(s), len), 0);
      dst += len;
    }
  }
}

TEST(AccelModel, crc32c_matches_the_reference_and_known_vector) {
  EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);  // the standard check value
  std::vector<uint8_t> buf(10000);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 31 + 7);
  for (size_t n : {0u, 1u, 7u, 8u, 9u, 100u, 9999u}) {
    EXPECT_EQ(crc32c(buf.data(), n), reference_crc32c(buf.data(), n)) << n;
  }
}

TEST(AccelModel, ring_wraps_around_and_the_phase_bit_flips) {
  Accel a;
  a.setup(4, 64);  // 64-byte descriptors
  for (uint8_t i = 0; i < 10; ++i) *a.ctx.at(kData + i) = i;
  uint64_t tail = 0, done = 0;
  // Ten one-byte jobs posted three at a time into a ring of four.
  while (done < 10) {
    uint64_t n = std::min<uint64_t>(3, 10 - done);
    for (uint64_t k = 0; k < n; ++k) {
      a.post(tail, kData + done + k, 1, kOut + done + k, done + k);
      tail = (tail + 1) % 4;
    }
    a.wr(AccelModel::kRegSqTail, tail);
    a.ctx.complete_all();
    ASSERT_EQ(a.rd(AccelModel::kRegSqHead), tail);
    for (uint64_t k = 0; k < n; ++k) {
      const uint64_t job = done + k;
      AccelCompletion c = a.completion(job % 4);
      EXPECT_EQ(c.cookie.get(), job);
      EXPECT_EQ(c.crc.get(), reference_crc32c(a.ctx.at(kData + job), 1));
      EXPECT_EQ(c.phase.get(), (job / 4) % 2 == 0 ? 1u : 0u) << job;
      EXPECT_EQ(*a.ctx.at(kOut + job), job);
    }
    done += n;
  }
  EXPECT_EQ(a.rd(AccelModel::kRegCompleted), 10u);
}

TEST(AccelModel, an_interrupt_per_completion_by_default) {
  Accel a;
  a.setup(8);
  for (uint64_t i = 0; i < 3; ++i) a.post(i, kData, 16, 0, i);
  a.wr(AccelModel::kRegSqTail, 3);
  a.ctx.complete_all();
  EXPECT_EQ(a.ctx.irqs, (std::vector<uint32_t>{1, 1, 1}));
  EXPECT_EQ(a.rd(AccelModel::kRegIrqStatus), AccelModel::kIrqCompletion);
  a.wr(AccelModel::kRegIrqAck, AccelModel::kIrqCompletion, 1);
  EXPECT_EQ(a.rd(AccelModel::kRegIrqStatus), 0u);
}

TEST(AccelModel, interrupts_are_coalesced_by_count) {
  Accel a;
  a.wr(AccelModel::kRegIrqCount, 4, 2);
  a.setup(16);
  for (uint64_t i = 0; i < 10; ++i) a.post(i, kData, 8, 0, i);
  a.wr(AccelModel::kRegSqTail, 10);
  a.ctx.complete_all();
  EXPECT_EQ(a.m.completed(), 10u);
  EXPECT_EQ(a.ctx.irqs.size(), 2u);  // after 4 and 8; two still unsignalled
  EXPECT_EQ(a.m.interrupts(), 2u);
}

TEST(AccelModel, interrupts_are_coalesced_by_time) {
  Accel a;
  a.wr(AccelModel::kRegIrqTimeNs, 5000, 4);
  a.setup(16);
  for (uint64_t i = 0; i < 3; ++i) a.post(i, kData, 8, 0, i);
  a.wr(AccelModel::kRegSqTail, 3);
  a.ctx.complete_all();
  EXPECT_TRUE(a.ctx.irqs.empty());
  a.ctx.tick(4999);
  EXPECT_TRUE(a.ctx.irqs.empty());
  a.ctx.tick(1);
  EXPECT_EQ(a.ctx.irqs, std::vector<uint32_t>{AccelModel::kIrqCompletion});
  a.ctx.tick(100000);
  EXPECT_EQ(a.ctx.irqs.size(), 1u);  // nothing new to signal
}

TEST(AccelModel, count_and_time_coalescing_combine) {
  Accel a;
  a.wr(AccelModel::kRegIrqCount, 2);
  a.wr(AccelModel::kRegIrqTimeNs, 1000);
  a.setup(8);
  for (uint64_t i = 0; i < 3; ++i) a.post(i, kData, 8, 0, i);
  a.wr(AccelModel::kRegSqTail, 3);
  a.ctx.complete_all();
  EXPECT_EQ(a.ctx.irqs.size(), 1u);  // the pair
  a.ctx.tick(1000);
  EXPECT_EQ(a.ctx.irqs.size(), 2u);  // the straggler, by time
}

TEST(AccelModel, bad_descriptors_complete_with_an_error_status) {
  Accel a({{"max_transfer", 4096}});
  a.setup(4);
  a.post(0, kData, 4097, kOut, 1);   // too long
  a.post(1, kData, 16, kOut, 2, 9);  // unknown opcode
  a.post(2, kData, 16, kOut, 3, 0);  // nop
  a.wr(AccelModel::kRegSqTail, 3);
  a.ctx.complete_all();
  EXPECT_EQ(a.completion(0).status.get(), static_cast<uint32_t>(AccelStatus::kBadDescriptor));
  EXPECT_EQ(a.completion(1).status.get(), static_cast<uint32_t>(AccelStatus::kBadDescriptor));
  EXPECT_EQ(a.completion(2).status.get(), static_cast<uint32_t>(AccelStatus::kOk));
  EXPECT_EQ(a.completion(2).cookie.get(), 3u);
  EXPECT_EQ(a.completion(2).len.get(), 0u);  // a nop processes nothing
  EXPECT_EQ(a.rd(AccelModel::kRegSqHead), 3u);
}

TEST(AccelModel, failed_input_dma_completes_with_an_error_and_the_ring_goes_on) {
  Accel a;
  a.setup(4);
  a.post(0, kData, 16, kOut, 1);
  a.post(1, kData, 16, kOut, 2);
  a.wr(AccelModel::kRegSqTail, 2);
  EXPECT_EQ(a.ctx.complete_all(1), 1u);  // the descriptor fetch
  a.ctx.fail_next = 1;                   // the first input read
  a.ctx.complete_all();
  EXPECT_EQ(a.completion(0).status.get(), static_cast<uint32_t>(AccelStatus::kInputFailed));
  EXPECT_EQ(a.completion(1).status.get(), static_cast<uint32_t>(AccelStatus::kOk));
  EXPECT_EQ(a.rd(AccelModel::kRegSqHead), 2u);
}

TEST(AccelModel, input_outside_guest_memory_is_an_input_failure) {
  Accel a;
  a.setup(4);
  a.post(0, 0x10, 16, kOut, 1);  // the DMA engine refuses it
  a.wr(AccelModel::kRegSqTail, 1);
  a.ctx.complete_all();
  EXPECT_EQ(a.completion(0).status.get(), static_cast<uint32_t>(AccelStatus::kInputFailed));
}

TEST(AccelModel, a_failed_descriptor_fetch_halts_until_reset) {
  Accel a;
  a.setup(4);
  a.post(0, kData, 16, 0, 1);
  a.ctx.fail_next = 1;
  a.wr(AccelModel::kRegSqTail, 1);
  a.ctx.complete_all();
  EXPECT_EQ(a.rd(AccelModel::kRegStatus) & AccelModel::kStatusHalted, AccelModel::kStatusHalted);
  EXPECT_EQ(a.ctx.irqs, std::vector<uint32_t>{AccelModel::kIrqError});
  a.wr(AccelModel::kRegSqTail, 1);  // ignored while halted
  EXPECT_EQ(a.ctx.pending(), 0u);
  a.wr(AccelModel::kRegCtrl, AccelModel::kCtrlReset, 1);
  EXPECT_EQ(a.rd(AccelModel::kRegStatus), 0u);
  EXPECT_EQ(a.rd(AccelModel::kRegSqHead), 0u);
  a.setup(4);
  a.wr(AccelModel::kRegSqTail, 1);
  a.ctx.complete_all();
  EXPECT_EQ(a.rd(AccelModel::kRegCompleted), 1u);
}

TEST(AccelModel, disabling_lets_the_descriptor_in_hand_finish_and_fetches_no_more) {
  Accel a;
  a.setup(8);
  for (uint64_t i = 0; i < 3; ++i) a.post(i, kData, 32, 0, i);
  a.wr(AccelModel::kRegSqTail, 3);
  EXPECT_EQ(a.ctx.complete_all(1), 1u);  // the descriptors are fetched
  a.wr(AccelModel::kRegCtrl, 0);
  a.ctx.complete_all();
  EXPECT_EQ(a.rd(AccelModel::kRegSqHead), 1u);
  EXPECT_EQ(a.rd(AccelModel::kRegStatus), 0u);
  a.wr(AccelModel::kRegCtrl, AccelModel::kCtrlEnable);
  a.ctx.complete_all();
  EXPECT_EQ(a.rd(AccelModel::kRegSqHead), 3u);
  EXPECT_EQ(a.completion(2).cookie.get(), 2u);
}

TEST(AccelModel, enabling_with_a_bad_ring_configuration_halts) {
  Accel a;
  a.wr(AccelModel::kRegRingSize, 3);  // not a power of two
  a.wr(AccelModel::kRegCtrl, AccelModel::kCtrlEnable);
  EXPECT_NE(a.rd(AccelModel::kRegStatus) & AccelModel::kStatusHalted, 0u);
  EXPECT_EQ(a.rd(AccelModel::kRegIrqStatus), AccelModel::kIrqError);
}

TEST(AccelModel, doorbell_beyond_the_ring_is_ignored_and_counted) {
  Accel a;
  a.setup(4);
  a.wr(AccelModel::kRegSqTail, 4);
  EXPECT_EQ(a.m.bad_doorbells(), 1u);
  EXPECT_EQ(a.rd(AccelModel::kRegSqTail), 0u);
  EXPECT_EQ(a.ctx.pending(), 0u);
}

TEST(AccelModel, ring_registers_ignore_writes_while_enabled) {
  Accel a;
  a.setup(8);
  a.wr(AccelModel::kRegRingSize, 16);
  a.wr(AccelModel::kRegSqBase, 0x5000);
  EXPECT_EQ(a.rd(AccelModel::kRegRingSize), 8u);
  EXPECT_EQ(a.rd(AccelModel::kRegSqBase), kSq);
  EXPECT_EQ(a.rd(AccelModel::kRegStatus), AccelModel::kStatusEnabled);
}

}  // namespace
}  // namespace ferry::device
