// The read-modify-write, compare and memory-source ALU forms compilers fold volatile accesses
// into. Each form runs twice, on a trapped range and on ordinary memory: the register, the
// arithmetic flags and the memory afterwards must be the CPU's own.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "asm_forms.h"
#include "trapped_bar_fixture.h"

namespace ferry::trap::testing {
namespace {

constexpr uint64_t kArithFlags = 0x8d5;  // OF SF ZF AF PF CF
constexpr uint64_t kFlagsIn[] = {0x2, 0x2 | kArithFlags};
// Boundary values for every size: zero, one, the signed extremes, all-ones, mixed bytes.
constexpr uint64_t kValues[] = {0,
                                1,
                                3,
                                0x7f,
                                0x80,
                                0x7fff,
                                0x8000,
                                0x7fffffff,
                                0x80000000,
                                0x7fffffffffffffff,
                                0x8000000000000000,
                                ~uint64_t{0},
                                0xf1e2d3c4b5a69788,
                                0x0102030405060718};

uint64_t low_bytes(uint64_t v, unsigned size) {
  return size == 8 ? v : v & ((uint64_t{1} << (size * 8)) - 1);
}

class AluForms : public ::testing::TestWithParam<AluForm> {};

TEST_P(AluForms, trapped_result_flags_and_memory_match_the_cpu_on_ordinary_memory) {
  const AluForm &f = GetParam();
  TrappedBar bar(0x1000);
  constexpr uint64_t kOff = 0x48;
  alignas(16) volatile uint64_t plain[2] = {0, 0};
  for (uint64_t mem : kValues) {
    for (uint64_t reg : kValues) {
      for (uint64_t flags_in : kFlagsIn) {
        SCOPED_TRACE(::testing::Message()
                     << std::hex << "mem 0x" << mem << " reg 0x" << reg << " flags 0x" << flags_in);
        plain[0] = mem;
        const AluOut want = f.fn(plain, reg, flags_in);

        bar.backend.poke(kOff, mem);
        bar.backend.clear_log();
        ferry_trap_marker = 0;
        const AluOut got = f.fn(bar.base + kOff, reg, flags_in);

        EXPECT_EQ(ferry_trap_marker, kMarkerDone);
        EXPECT_EQ(got.reg, want.reg);
        EXPECT_EQ(got.flags & kArithFlags, want.flags & kArithFlags);
        EXPECT_EQ(bar.backend.peek(kOff), plain[0]);
        ASSERT_EQ(bar.backend.call_count(), f.writes_memory ? 2u : 1u);
        EXPECT_FALSE(bar.backend.call(0).is_write);
        EXPECT_EQ(bar.backend.call(0).off, kOff);
        EXPECT_EQ(bar.backend.call(0).size, f.size);
        if (f.writes_memory) {
          EXPECT_TRUE(bar.backend.call(1).is_write);
          EXPECT_EQ(bar.backend.call(1).off, kOff);
          EXPECT_EQ(bar.backend.call(1).size, f.size);
          EXPECT_EQ(bar.backend.call(1).value, low_bytes(plain[0], f.size));
        }
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
}

std::vector<AluForm> all_alu_forms() {
  unsigned n = 0;
  const AluForm *forms = alu_forms(&n);
  return std::vector<AluForm>(forms, forms + n);
}

INSTANTIATE_TEST_SUITE_P(Trap, AluForms, ::testing::ValuesIn(all_alu_forms()),
                         [](const ::testing::TestParamInfo<AluForm> &info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace ferry::trap::testing
