// The edu model alone, register by register and rule by rule (QEMU docs/specs/edu.rst).
#include <gtest/gtest.h>

#include <numeric>

#include "ferry/device/edu.h"
#include "flat_dma_context.h"

namespace ferry::device {
namespace {

using testing::FlatDmaContext;
constexpr uint64_t kRam = 0x1000000;

struct Edu {
  explicit Edu(ModelParams p = {{"factorial_delay_ns", 1000}}) : ctx(kRam, 1 << 20), m(ctx, p) {
    ctx.attach(m);
  }
  uint64_t rd(uint64_t off, unsigned size = 4) { return *m.mmio_read(0, off, size); }
  void wr(uint64_t off, uint64_t v, unsigned size = 4) {
    ASSERT_TRUE(m.mmio_write(0, off, size, v));
  }
  FlatDmaContext ctx;
  EduModel m;
};

TEST(EduModel, id_register_reads_0x010000ed) {
  Edu e;
  EXPECT_EQ(e.rd(0x00), 0x010000edu);
  e.wr(0x00, 0x1234);  // read-only
  EXPECT_EQ(e.rd(0x00), 0x010000edu);
}

TEST(EduModel, liveness_register_reads_back_the_inverse) {
  Edu e;
  e.wr(0x04, 0x12345678);
  EXPECT_EQ(e.rd(0x04), 0xedcba987u);
  e.wr(0x04, 0);
  EXPECT_EQ(e.rd(0x04), 0xffffffffu);
}

TEST(EduModel, registers_below_0x80_take_only_4_byte_accesses) {
  Edu e;
  e.wr(0x04, 0x0f0f0f0f);
  for (unsigned size : {1u, 2u, 8u}) {
    const uint64_t ones = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
    EXPECT_EQ(e.rd(0x00, size) & ones, ones) << size;
    EXPECT_EQ(e.rd(0x04, size) & ones, ones) << size;
    e.wr(0x04, 0x1, size);  // ignored
  }
  EXPECT_EQ(e.rd(0x04), 0xf0f0f0f0u);
}

TEST(EduModel, dma_registers_take_4_and_8_byte_accesses_only) {
  Edu e;
  e.wr(0x80, 0x1122334455667788ull, 8);
  EXPECT_EQ(e.rd(0x80, 8), 0x1122334455667788ull);
  EXPECT_EQ(e.rd(0x80, 4), 0x55667788u);
  e.wr(0x88, 0xaabbccdd, 4);
  EXPECT_EQ(e.rd(0x88, 8), 0xaabbccddu);
  e.wr(0x90, 0x77, 2);  // ignored
  e.wr(0x90, 0x77, 1);  // ignored
  EXPECT_EQ(e.rd(0x90, 8), 0u);
  EXPECT_EQ(e.rd(0x90, 2) & 0xffff, 0xffffu);
}

TEST(EduModel, offsets_without_a_register_read_all_ones_and_ignore_writes) {
  Edu e;
  for (uint64_t off : {0x0cull, 0x10ull, 0x28ull, 0x68ull, 0x84ull, 0xa0ull, 0xffffcull}) {
    EXPECT_EQ(e.rd(off), 0xffffffffu) << off;
    e.wr(off, 0);
  }
  EXPECT_EQ(e.rd(0xa0, 8), ~0ull);
}

TEST(EduModel, accesses_outside_bar0_are_refused) {
  Edu e;
  EXPECT_FALSE(e.m.mmio_read(0, EduModel::kBarSize, 4).has_value());
  EXPECT_FALSE(e.m.mmio_read(1, 0, 4).has_value());
  EXPECT_FALSE(e.m.mmio_write(0, EduModel::kBarSize + 4, 4, 1));
  EXPECT_FALSE(e.m.mmio_write(2, 0x04, 4, 1));
}

TEST(EduModel, factorial_runs_asynchronously_with_the_computing_bit_visible) {
  Edu e;
  e.wr(0x08, 5);
  EXPECT_EQ(e.rd(0x20) & EduModel::kStatusComputing, EduModel::kStatusComputing);
  e.ctx.tick(500);  // half the configured delay
  EXPECT_EQ(e.rd(0x20) & EduModel::kStatusComputing, EduModel::kStatusComputing);
  e.ctx.tick(500);
  EXPECT_EQ(e.rd(0x20) & EduModel::kStatusComputing, 0u);
  EXPECT_EQ(e.rd(0x08), 120u);
  EXPECT_EQ(e.m.factorials_started(), 1u);
}

TEST(EduModel, factorial_result_wraps_at_32_bits) {
  Edu e;
  auto fact = [&](uint32_t n) {
    e.wr(0x08, n);
    e.ctx.tick(1000);
    return e.rd(0x08);
  };
  EXPECT_EQ(fact(0), 1u);
  EXPECT_EQ(fact(12), 479001600u);
  EXPECT_EQ(fact(13), static_cast<uint32_t>(6227020800ull));
  EXPECT_EQ(fact(20), static_cast<uint32_t>(2432902008176640000ull));
  uint32_t expect33 = 1;
  for (uint32_t i = 1; i <= 33; ++i) expect33 *= i;
  EXPECT_EQ(fact(33), expect33);
  EXPECT_EQ(fact(34), 0u);
  EXPECT_EQ(fact(0xffffffffu), 0u);  // and it does not take 4 billion steps
}

TEST(EduModel, factorial_write_is_ignored_while_computing) {
  Edu e;
  e.wr(0x08, 4);
  e.wr(0x08, 10);  // ignored
  e.ctx.tick(1000);
  EXPECT_EQ(e.rd(0x08), 24u);
  EXPECT_EQ(e.m.factorials_started(), 1u);
}

TEST(EduModel, factorial_interrupt_only_when_status_bit_0x80_is_set) {
  Edu e;
  e.wr(0x08, 3);
  e.ctx.tick(1000);
  EXPECT_TRUE(e.ctx.irqs.empty());
  EXPECT_EQ(e.rd(0x24), 0u);
  e.wr(0x20, EduModel::kStatusIrqFact);
  e.wr(0x08, 3);
  e.ctx.tick(1000);
  ASSERT_EQ(e.ctx.irqs.size(), 1u);
  EXPECT_EQ(e.ctx.irqs[0], EduModel::kFactIrq);
  EXPECT_EQ(e.rd(0x24), EduModel::kFactIrq);
}

TEST(EduModel, status_computing_bit_is_read_only_and_0x80_read_write) {
  Edu e;
  e.wr(0x20, 0xff);
  EXPECT_EQ(e.rd(0x20), EduModel::kStatusIrqFact);
  e.wr(0x20, 0x01);
  EXPECT_EQ(e.rd(0x20), 0u);
}

TEST(EduModel, raise_register_ors_into_irq_status_and_interrupts) {
  Edu e;
  e.wr(0x60, 0x10);
  e.wr(0x60, 0x02);
  EXPECT_EQ(e.rd(0x24), 0x12u);
  EXPECT_EQ(e.ctx.irqs, (std::vector<uint32_t>{0x10, 0x02}));
  EXPECT_EQ(e.rd(0x60), 0xffffffffu);  // write-only
}

TEST(EduModel, acknowledge_register_clears_irq_status_bits) {
  Edu e;
  e.wr(0x60, 0x13);
  e.wr(0x64, 0x11);
  EXPECT_EQ(e.rd(0x24), 0x02u);
  EXPECT_EQ(e.ctx.irqs.size(), 1u);  // acknowledging raises nothing
}

TEST(EduModel, dma_from_ram_to_device_fills_the_buffer) {
  Edu e;
  std::iota(e.ctx.at(kRam + 0x100), e.ctx.at(kRam + 0x100) + 64, 1);
  e.wr(0x80, kRam + 0x100, 8);
  e.wr(0x88, EduModel::kDmaBufferAddr + 8, 8);
  e.wr(0x90, 64, 8);
  e.wr(0x98, EduModel::kDmaCmdStart | EduModel::kDmaCmdIrq, 8);
  EXPECT_EQ(e.rd(0x98) & EduModel::kDmaCmdStart, EduModel::kDmaCmdStart);
  EXPECT_EQ(e.m.buffer()[8], 0);  // nothing until the DMA completes
  EXPECT_EQ(e.ctx.complete_all(), 1u);
  EXPECT_EQ(e.rd(0x98) & EduModel::kDmaCmdStart, 0u);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(e.m.buffer()[8 + i], i + 1);
  EXPECT_EQ(e.ctx.irqs, std::vector<uint32_t>{EduModel::kDmaIrq});
  EXPECT_EQ(e.rd(0x24), EduModel::kDmaIrq);
}

TEST(EduModel, dma_from_device_to_ram_copies_the_buffer_out) {
  Edu e;
  std::iota(e.ctx.at(kRam), e.ctx.at(kRam) + 4096, 0);
  e.wr(0x80, kRam, 8);
  e.wr(0x88, EduModel::kDmaBufferAddr, 8);
  e.wr(0x90, 4096, 8);
  e.wr(0x98, EduModel::kDmaCmdStart, 8);
  e.ctx.complete_all();
  e.wr(0x80, EduModel::kDmaBufferAddr + 16, 8);
  e.wr(0x88, kRam + 0x8000, 8);
  e.wr(0x90, 100, 8);
  e.wr(0x98, EduModel::kDmaCmdStart | EduModel::kDmaCmdToRam, 8);
  EXPECT_EQ(e.ctx.writes, 1u);
  e.ctx.complete_all();
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(*e.ctx.at(kRam + 0x8000 + i), static_cast<uint8_t>(16 + i));
  EXPECT_TRUE(e.ctx.irqs.empty());  // 0x04 not set
}

TEST(EduModel, dma_registers_ignore_writes_while_a_transfer_runs) {
  Edu e;
  e.wr(0x80, kRam, 8);
  e.wr(0x88, EduModel::kDmaBufferAddr, 8);
  e.wr(0x90, 16, 8);
  e.wr(0x98, EduModel::kDmaCmdStart, 8);
  e.wr(0x80, kRam + 64, 8);
  e.wr(0x90, 32, 8);
  e.wr(0x98, EduModel::kDmaCmdStart | EduModel::kDmaCmdToRam, 8);
  EXPECT_EQ(e.rd(0x80, 8), kRam);
  EXPECT_EQ(e.rd(0x90, 8), 16u);
  EXPECT_EQ(e.m.dma_started(), 1u);
  e.ctx.complete_all();
  e.wr(0x90, 32, 8);
  EXPECT_EQ(e.rd(0x90, 8), 32u);
}

TEST(EduModel, dma_outside_the_device_buffer_is_refused_and_counted) {
  Edu e;
  const uint64_t cases[][2] = {
      {EduModel::kDmaBufferAddr - 1, 8},     // starts before
      {EduModel::kDmaBufferAddr + 4090, 8},  // ends after
      {EduModel::kDmaBufferAddr, 4097},      // too long
      {~0ull - 4, 16},                       // wraps around
  };
  uint64_t refused = 0;
  for (const auto &c : cases) {
    e.wr(0x80, kRam, 8);
    e.wr(0x88, c[0], 8);
    e.wr(0x90, c[1], 8);
    e.wr(0x98, EduModel::kDmaCmdStart | EduModel::kDmaCmdIrq, 8);
    EXPECT_EQ(e.rd(0x98) & EduModel::kDmaCmdStart, 0u);  // done at once, nothing moved
    EXPECT_EQ(e.m.dma_refused(), ++refused);
  }
  EXPECT_EQ(e.ctx.reads + e.ctx.writes, 0u);
  EXPECT_EQ(e.ctx.irqs.size(), 4u);  // the command completes: a driver never hangs
}

TEST(EduModel, failed_dma_leaves_the_buffer_unchanged_and_is_counted) {
  Edu e;
  std::memset(e.ctx.at(kRam), 0xab, 64);
  e.wr(0x80, kRam, 8);
  e.wr(0x88, EduModel::kDmaBufferAddr, 8);
  e.wr(0x90, 64, 8);
  e.ctx.fail_next = 1;
  e.wr(0x98, EduModel::kDmaCmdStart | EduModel::kDmaCmdIrq, 8);
  e.ctx.complete_all();
  EXPECT_EQ(e.m.dma_failed(), 1u);
  EXPECT_EQ(e.m.buffer()[0], 0);
  EXPECT_EQ(e.rd(0x98) & EduModel::kDmaCmdStart, 0u);
  EXPECT_EQ(e.ctx.irqs, std::vector<uint32_t>{EduModel::kDmaIrq});
}

TEST(EduModel, dma_ram_address_is_masked_to_the_dma_mask) {
  Edu e;
  *e.ctx.at(kRam + 5) = 0x5a;
  e.wr(0x80, 0xf0000000ull | (kRam + 5), 8);  // bits above 28 dropped, as in QEMU
  e.wr(0x88, EduModel::kDmaBufferAddr, 8);
  e.wr(0x90, 1, 8);
  e.wr(0x98, EduModel::kDmaCmdStart, 8);
  e.ctx.complete_all();
  EXPECT_EQ(e.m.buffer()[0], 0x5a);
}

TEST(EduModel, dma_buffer_size_is_a_parameter) {
  Edu e({{"dma_buffer_size", 65536}});
  EXPECT_EQ(e.m.buffer().size(), 65536u);
  e.wr(0x80, kRam, 8);
  e.wr(0x88, EduModel::kDmaBufferAddr, 8);
  e.wr(0x90, 65536, 8);
  e.wr(0x98, EduModel::kDmaCmdStart, 8);
  EXPECT_EQ(e.ctx.complete_all(), 1u);
  EXPECT_EQ(e.m.dma_refused(), 0u);
}

TEST(EduModel, factory_rejects_unknown_models_parameters_and_ranges) {
  FlatDmaContext ctx(kRam, 4096);
  EXPECT_NO_THROW(make_model("edu", {}, ctx));
  EXPECT_THROW(make_model("nope", {}, ctx), std::invalid_argument);
  EXPECT_THROW(make_model("edu", {{"dma_bufer_size", 4096}}, ctx), std::invalid_argument);
  EXPECT_THROW(make_model("edu", {{"dma_buffer_size", 1}}, ctx), std::invalid_argument);
  EXPECT_THROW(check_model("edu", {{"dma_mask_bits", 65}}), std::invalid_argument);
}

}  // namespace
}  // namespace ferry::device
