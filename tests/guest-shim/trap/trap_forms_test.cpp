// Every emulated instruction form, with every register and addressing mode it comes in:
// the value that lands in the register (and its extension), what the backend saw, and that
// execution resumed at the next instruction.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "asm_forms.h"
#include "trapped_bar_fixture.h"

namespace ferry::trap::testing {
namespace {

constexpr size_t kBarLen = 0x3000;
// Register contents before the access; every byte differs from the memory patterns.
constexpr uint64_t kPrefill = 0x5a6b7c8d9eafb0c1;
// One pattern with every byte's top bit set (sign extension fills ones), one with none.
constexpr uint64_t kNegativeBytes = 0xf1e2d3c4b5a69788;
constexpr uint64_t kPositiveBytes = 0x0102030405060718;
constexpr uint64_t kCanonicalMask = 0x00007fffffffffff;

uint64_t low_bytes(uint64_t v, unsigned size) {
  return size == 8 ? v : v & ((uint64_t{1} << (size * 8)) - 1);
}

// What x86 leaves in the 64-bit register after the load (the reference semantics).
uint64_t expected_register(const Form &f, uint64_t before, uint64_t mem) {
  uint64_t v = low_bytes(mem, f.size);
  if (f.ext == Ext::sign) {
    const unsigned shift = 64 - f.size * 8;
    v = static_cast<uint64_t>(static_cast<int64_t>(v << shift) >> shift);
  }
  if (f.high8) return (before & ~uint64_t{0xff00}) | ((v & 0xff) << 8);
  switch (f.reg_width) {
    case 8:
      return v;
    case 4:
      return v & 0xffffffff;  // a 32-bit write zeroes the upper half
    case 2:
      return (before & ~uint64_t{0xffff}) | (v & 0xffff);
    default:
      return (before & ~uint64_t{0xff}) | (v & 0xff);
  }
}

uint64_t expected_stored(const Form &f, uint64_t reg) {
  if (f.reg_width == 0) return f.imm;
  return low_bytes(f.high8 ? reg >> 8 : reg, f.size);
}

bool is_rsp_form(const Form &f) {
  return std::string(f.name).find("rsp") != std::string::npos;
}

void check_form(const Form &f, TrappedBar &bar, uint64_t off, uint64_t pattern) {
  // The kernel will not return to user space with a non-canonical stack pointer.
  if (is_rsp_form(f)) pattern &= kCanonicalMask;
  SCOPED_TRACE("offset 0x" + std::to_string(off) + " pattern " + std::to_string(pattern));
  bar.backend.clear_log();
  bar.backend.poke(off & ~uint64_t{7}, 0);
  ferry_trap_marker = 0;
  const uint64_t before = f.is_store ? pattern : kPrefill;
  if (!f.is_store) bar.backend.poke(off, pattern, f.size);

  const uint64_t after = f.fn(bar.base + off, before);

  EXPECT_EQ(ferry_trap_marker, kMarkerDone) << "the next instruction did not run";
  ASSERT_EQ(bar.backend.call_count(), 1u);
  const BackendCall &c = bar.backend.call(0);
  EXPECT_EQ(c.is_write, f.is_store);
  EXPECT_EQ(c.off, off);
  EXPECT_EQ(c.size, f.size);
  EXPECT_EQ(c.bar, 0u);
  if (f.is_store) {
    // rsp: the function returns the stack pointer the store used.
    const uint64_t reg = is_rsp_form(f) ? after : before;
    EXPECT_EQ(c.value, expected_stored(f, reg));
    EXPECT_EQ(bar.backend.peek(off, f.size), expected_stored(f, reg));
    if (reg == before) {
      EXPECT_EQ(after, before) << "a store changed its source register";
    }
  } else {
    EXPECT_EQ(after, expected_register(f, before, pattern))
        << std::hex << "register 0x" << after << ", memory 0x" << pattern;
  }
}

class RegisterForm : public ::testing::TestWithParam<Form> {};

TEST_P(RegisterForm, emulates_access_at_first_middle_and_last_offset_and_resumes_after_it) {
  const Form &f = GetParam();
  TrappedBar bar(kBarLen);
  for (uint64_t off : {uint64_t{0}, uint64_t{0x1235}, uint64_t{kBarLen - f.size}}) {
    for (uint64_t pattern : {kNegativeBytes, kPositiveBytes}) check_form(f, bar, off, pattern);
  }
}

class AddressingForm : public ::testing::TestWithParam<Form> {};

TEST_P(AddressingForm, computes_nothing_from_the_operands_but_decodes_the_length_right) {
  const Form &f = GetParam();
  TrappedBar bar(kBarLen);
  for (uint64_t off : {uint64_t{0x40}, uint64_t{0x2ff0}}) {
    for (uint64_t pattern : {kNegativeBytes, kPositiveBytes}) check_form(f, bar, off, pattern);
  }
}

std::vector<Form> all(const Form *(*list)(unsigned *)) {
  unsigned n = 0;
  const Form *forms = list(&n);
  return std::vector<Form>(forms, forms + n);
}

std::string form_name(const ::testing::TestParamInfo<Form> &info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Trap, RegisterForm, ::testing::ValuesIn(all(register_forms)), form_name);
INSTANTIATE_TEST_SUITE_P(Trap, AddressingForm, ::testing::ValuesIn(all(addressing_forms)),
                         form_name);

}  // namespace
}  // namespace ferry::trap::testing
