// Where an access may land, what the engine refuses, and the range table's contract.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "asm_forms.h"
#include "trapped_bar_fixture.h"

namespace ferry::trap::testing {
namespace {

// Death tests use the default "fast" style (fork without exec): the child keeps the parent's
// addresses, so a message can be matched against the address of the faulting instruction. No
// test here leaves a thread running.
class TrapBounds : public ::testing::Test {};

TEST_F(TrapBounds, one_byte_load_at_the_last_byte_of_an_odd_sized_bar_is_emulated) {
  TrappedBar bar(0x1001);
  bar.backend.poke(0x1000, 0x9c, 1);
  EXPECT_EQ(*bar.at<uint8_t>(0x1000), 0x9c);
  ASSERT_EQ(bar.backend.call_count(), 1u);
  EXPECT_EQ(bar.backend.call(0).off, 0x1000u);
  EXPECT_EQ(bar.backend.call(0).size, 1u);
}

TEST_F(TrapBounds, unaligned_eight_byte_store_ending_at_the_last_byte_is_emulated) {
  TrappedBar bar(0x1001);
  *bar.at<uint64_t>(0x1001 - 8) = 0x1122334455667788;
  EXPECT_EQ(bar.backend.peek(0x1001 - 8), 0x1122334455667788u);
  EXPECT_EQ(bar.backend.call(0).off, 0xff9u);
}

TEST_F(TrapBounds, access_crossing_the_end_of_the_bar_dies_with_a_message) {
  TrappedBar bar(0x1000);
  EXPECT_DEATH(form("mov_rax_m64")(bar.base + 0xffc, 0),
               "ferry trap: 8-byte access at rip 0x[0-9a-f]+ to 0x[0-9a-f]+ is not inside BAR 0 "
               "\\[0x[0-9a-f]+, 0x[0-9a-f]+\\): it crosses the end");
}

TEST_F(TrapBounds, access_past_an_odd_sized_bar_in_its_last_page_dies) {
  TrappedBar bar(0x100, 3);
  EXPECT_DEATH(form("mov_ecx_m32")(bar.base + 0x100, 0), "is not inside BAR 3");
}

TEST_F(TrapBounds, access_starting_just_before_the_bar_dies_in_the_guard_page) {
  TrappedBar bar(0x1000);
  EXPECT_DEATH(form("mov_m64_r9")(bar.base - 4, 0), "8-byte access .* is not inside BAR 0");
}

TEST_F(TrapBounds, access_just_past_a_page_sized_bar_dies_in_the_guard_page) {
  TrappedBar bar(0x1000);
  EXPECT_DEATH(form("mov_m8_imm8")(bar.base + 0x1000, 0), "1-byte access .* is not inside BAR 0");
}

std::string rip_of(void (*fn)(volatile void *)) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%lx", reinterpret_cast<unsigned long>(fn));
  return buf;
}

TEST_F(TrapBounds, locked_read_modify_write_dies_naming_the_instruction_and_its_address) {
  TrappedBar bar(0x1000);
  EXPECT_DEATH(ferry_trap_bad_lock_add(bar.base + 8),
               "ferry trap: unsupported instruction 'lock add' at rip " +
                   rip_of(ferry_trap_bad_lock_add) + " accessing BAR 0");
}

TEST_F(TrapBounds, sse_load_dies_naming_the_instruction_and_its_address) {
  TrappedBar bar(0x1000);
  EXPECT_DEATH(ferry_trap_bad_movdqu(bar.base),
               "unsupported instruction 'movdqu' at rip " + rip_of(ferry_trap_bad_movdqu));
}

TEST_F(TrapBounds, add_with_carry_dies) {
  TrappedBar bar(0x1000);
  EXPECT_DEATH(ferry_trap_bad_adc(bar.base),
               "unsupported instruction 'adc' at rip " + rip_of(ferry_trap_bad_adc));
}

TEST_F(TrapBounds, bit_test_with_a_register_offset_dies) {
  TrappedBar bar(0x1000);
  EXPECT_DEATH(ferry_trap_bad_bt(bar.base), "unsupported instruction 'bt' at rip");
}

TEST_F(TrapBounds, xchg_with_memory_dies) {
  TrappedBar bar(0x1000);
  EXPECT_DEATH(ferry_trap_bad_xchg(bar.base), "unsupported instruction 'xchg' at rip");
}

TEST_F(TrapBounds, string_move_dies) {
  TrappedBar bar(0x1000);
  EXPECT_DEATH(ferry_trap_bad_movs(bar.base), "unsupported instruction 'movsb' at rip");
}

TEST_F(TrapBounds, plain_cxx_volatile_accesses_are_emulated) {
  TrappedBar bar(0x100);
  bar.backend.poke(0x10, 0xfedcba9876543210);
  EXPECT_EQ(*bar.at<uint32_t>(0x10), 0x76543210u);
  EXPECT_EQ(*bar.at<int16_t>(0x16), static_cast<int16_t>(0xfedc));
  *bar.at<uint16_t>(0x20) = 0xbeef;
  EXPECT_EQ(bar.backend.peek(0x20, 2), 0xbeefu);
  EXPECT_EQ(bar.backend.call_count(), 3u);
}

TEST_F(TrapBounds, bar_number_reaches_the_backend_and_ranges_stay_apart) {
  TrappedBar bar2(0x1000, 2);
  TrappedBar bar5(0x2000, 5);
  bar2.backend.poke(0x8, 22);
  bar5.backend.poke(0x8, 55);
  EXPECT_EQ(*bar2.at<uint64_t>(0x8), 22u);
  EXPECT_EQ(*bar5.at<uint64_t>(0x8), 55u);
  EXPECT_EQ(bar2.backend.call(0).bar, 2u);
  EXPECT_EQ(bar5.backend.call(0).bar, 5u);
}

TEST_F(TrapBounds, errno_survives_a_trapped_access_whose_backend_changes_it) {
  struct ErrnoBackend : RegisterFileBackend {
    ErrnoBackend() : RegisterFileBackend(0x100) {}
    uint64_t read(unsigned bar, uint64_t off, unsigned size) override {
      errno = EIO;
      return RegisterFileBackend::read(bar, off, size);
    }
  } backend;
  volatile void *p = nullptr;
  ASSERT_EQ(map_trapped_range(&backend, 0, 0x100, &p), 0);
  errno = ENOENT;
  (void)*static_cast<volatile uint32_t *>(p);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(unmap_trapped_range(p), 0);
}

// A backend that itself touches another trapped range (SA_NODEFER lets the fault nest).
TEST_F(TrapBounds, backend_may_access_another_trapped_range) {
  TrappedBar inner(0x100);
  inner.backend.poke(0, 0x4242);
  struct Forwarding : MmioBackend {
    volatile uint32_t *target;
    uint64_t read(unsigned, uint64_t, unsigned) override { return *target + 1; }
    void write(unsigned, uint64_t, unsigned, uint64_t) override {}
  } outer_backend;
  outer_backend.target = inner.at<uint32_t>(0);
  volatile void *p = nullptr;
  ASSERT_EQ(map_trapped_range(&outer_backend, 1, 0x100, &p), 0);
  EXPECT_EQ(*static_cast<volatile uint32_t *>(p), 0x4243u);
  EXPECT_EQ(unmap_trapped_range(p), 0);
}

TEST_F(TrapBounds, map_rejects_bad_arguments) {
  RegisterFileBackend backend(16);
  volatile void *p = nullptr;
  EXPECT_EQ(map_trapped_range(nullptr, 0, 16, &p), -EINVAL);
  EXPECT_EQ(map_trapped_range(&backend, 0, 0, &p), -EINVAL);
  EXPECT_EQ(map_trapped_range(&backend, 0, 16, nullptr), -EINVAL);
}

TEST_F(TrapBounds, unmap_accepts_only_the_start_of_a_live_range_once) {
  RegisterFileBackend backend(0x2000);
  volatile void *p = nullptr;
  ASSERT_EQ(map_trapped_range(&backend, 0, 0x2000, &p), 0);
  EXPECT_EQ(unmap_trapped_range(static_cast<volatile uint8_t *>(p) + 8), -EINVAL);
  EXPECT_EQ(unmap_trapped_range(p), 0);
  EXPECT_EQ(unmap_trapped_range(p), -EINVAL);
  EXPECT_EQ(unmap_trapped_range(nullptr), -EINVAL);
}

TEST_F(TrapBounds, table_holds_kMaxTrappedRanges_and_a_freed_slot_is_reused) {
  RegisterFileBackend backend(0x10);
  std::vector<volatile void *> ranges;
  for (unsigned i = 0; i < kMaxTrappedRanges; ++i) {
    volatile void *p = nullptr;
    ASSERT_EQ(map_trapped_range(&backend, 0, 0x10, &p), 0) << "range " << i;
    ranges.push_back(p);
  }
  volatile void *extra = nullptr;
  EXPECT_EQ(map_trapped_range(&backend, 0, 0x10, &extra), -ENOSPC);
  ASSERT_EQ(unmap_trapped_range(ranges.back()), 0);
  ranges.pop_back();
  ASSERT_EQ(map_trapped_range(&backend, 0, 0x10, &extra), 0);
  backend.poke(0, 0x77, 1);
  EXPECT_EQ(*static_cast<volatile uint8_t *>(extra), 0x77);
  ranges.push_back(extra);
  for (volatile void *p : ranges) EXPECT_EQ(unmap_trapped_range(p), 0);
}

TEST_F(TrapBounds, range_is_page_aligned_and_a_syscall_on_it_fails_with_efault) {
  TrappedBar bar(0x10);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(bar.base) % 4096, 0u);
  // The kernel's own accesses do not fault into the handler: a BAR pointer handed to a
  // system call is not emulated.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_EQ(::write(fds[1], const_cast<uint8_t *>(bar.base), 4), -1);
  EXPECT_EQ(errno, EFAULT);
  close(fds[0]);
  close(fds[1]);
  EXPECT_EQ(bar.backend.call_count(), 0u);
}

}  // namespace
}  // namespace ferry::trap::testing
