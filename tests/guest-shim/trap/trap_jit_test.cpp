// Forms whose encoding depends on where the code sits: RIP-relative operands (the code must be
// within 2 GiB of the BAR), 64-bit absolute addresses (A0-A3), and instructions placed across
// or right before a page boundary. The code is assembled by hand into a page mapped next to
// the trapped range.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "trapped_bar_fixture.h"

namespace ferry::trap::testing {
namespace {

constexpr size_t kPage = 4096;
constexpr uint32_t kMarker = 0x600dcafe;

// rax and rdx: what a `Pair f(uint64_t v)` returns (SysV).
struct Pair {
  uint64_t rax;
  uint64_t rdx;
};
using JitFn = Pair (*)(uint64_t v);

// Two pages of code (optionally the second inaccessible) within rel32 reach of `near`.
class CodePages {
 public:
  CodePages(uintptr_t near, bool second_page_inaccessible) {
    for (uintptr_t delta = 16 * kPage; delta < (uintptr_t{1} << 30); delta += 16 * kPage) {
      void *hint = reinterpret_cast<void *>(near - delta);
      void *p = mmap(hint, 2 * kPage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      if (p != MAP_FAILED) {
        mem_ = static_cast<uint8_t *>(p);
        break;
      }
    }
    second_inaccessible_ = second_page_inaccessible;
  }
  ~CodePages() {
    if (mem_ != nullptr) munmap(mem_, 2 * kPage);
  }
  bool ok() const { return mem_ != nullptr; }

  // Places `code` at byte `at` and makes the pages executable; returns its address.
  JitFn place(size_t at, const std::vector<uint8_t> &code) {
    return reinterpret_cast<JitFn>(place_raw(at, code));
  }
  void *place_raw(size_t at, const std::vector<uint8_t> &code) {
    mprotect(mem_, 2 * kPage, PROT_READ | PROT_WRITE);
    std::memcpy(mem_ + at, code.data(), code.size());
    mprotect(mem_, kPage, PROT_READ | PROT_EXEC);
    mprotect(mem_ + kPage, kPage, second_inaccessible_ ? PROT_NONE : PROT_READ | PROT_EXEC);
    return mem_ + at;
  }
  uintptr_t addr(size_t at) const { return reinterpret_cast<uintptr_t>(mem_ + at); }

 private:
  uint8_t *mem_ = nullptr;
  bool second_inaccessible_ = false;
};

void put32(std::vector<uint8_t> &c, uint32_t v) {
  for (int i = 0; i < 4; ++i) c.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(std::vector<uint8_t> &c, uint64_t v) {
  for (int i = 0; i < 8; ++i) c.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void bytes(std::vector<uint8_t> &c, std::initializer_list<uint8_t> b) {
  c.insert(c.end(), b);
}
// rel32 from the end of an instruction that ends at code byte `end` (relative to `fn_at`).
uint32_t rel32(const CodePages &pages, size_t fn_at, size_t end, uintptr_t target) {
  return static_cast<uint32_t>(target - pages.addr(fn_at + end));
}
// mov edx, kMarker; ret: proves execution resumed right after the trapped instruction.
void marker_and_ret(std::vector<uint8_t> &c) {
  c.push_back(0xba);
  put32(c, kMarker);
  c.push_back(0xc3);
}

class TrapJit : public ::testing::Test {
 protected:
  TrapJit() : bar_(0x1000), pages_(reinterpret_cast<uintptr_t>(bar_.base), false) {}
  void SetUp() override { ASSERT_TRUE(pages_.ok()) << "no free page within 1 GiB of the BAR"; }
  uintptr_t reg(uint64_t off) const { return reinterpret_cast<uintptr_t>(bar_.base) + off; }

  TrappedBar bar_;
  CodePages pages_;
};

constexpr size_t kAt = 0x100;

TEST_F(TrapJit, rip_relative_load_into_eax) {
  bar_.backend.poke(0x44, 0xa1b2c3d4e5f60718);
  std::vector<uint8_t> c;
  bytes(c, {0x8b, 0x05});  // mov eax, [rip + rel32]
  put32(c, rel32(pages_, kAt, 6, reg(0x44)));
  marker_and_ret(c);
  const Pair r = pages_.place(kAt, c)(0);
  EXPECT_EQ(r.rax, 0xe5f60718u);
  EXPECT_EQ(r.rdx, kMarker);
  EXPECT_EQ(bar_.backend.call(0).off, 0x44u);
}

TEST_F(TrapJit, rip_relative_load_into_r8_with_rex) {
  bar_.backend.poke(0xff8, 0x8000000000000001);
  std::vector<uint8_t> c;
  bytes(c, {0x4c, 0x8b, 0x05});  // mov r8, [rip + rel32]
  put32(c, rel32(pages_, kAt, 7, reg(0xff8)));
  bytes(c, {0x4c, 0x89, 0xc0});  // mov rax, r8
  marker_and_ret(c);
  const Pair r = pages_.place(kAt, c)(0);
  EXPECT_EQ(r.rax, 0x8000000000000001u);
  EXPECT_EQ(r.rdx, kMarker);
}

TEST_F(TrapJit, rip_relative_movzx_word) {
  bar_.backend.poke(0x2, 0xffff, 2);
  std::vector<uint8_t> c;
  bytes(c, {0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff});  // mov rax, -1
  bytes(c, {0x0f, 0xb7, 0x05});                          // movzx eax, word [rip + rel32]
  put32(c, rel32(pages_, kAt, 14, reg(0x2)));
  marker_and_ret(c);
  const Pair r = pages_.place(kAt, c)(0);
  EXPECT_EQ(r.rax, 0xffffu);
  EXPECT_EQ(r.rdx, kMarker);
}

// The displacement is relative to the end of the instruction, after its immediate.
TEST_F(TrapJit, rip_relative_store_of_an_immediate) {
  std::vector<uint8_t> c;
  bytes(c, {0xc7, 0x05});  // mov dword [rip + rel32], imm32
  put32(c, rel32(pages_, kAt, 10, reg(0x80)));
  put32(c, 0xdeadbeef);
  marker_and_ret(c);
  const Pair r = pages_.place(kAt, c)(0);
  EXPECT_EQ(r.rdx, kMarker);
  EXPECT_EQ(bar_.backend.peek(0x80, 4), 0xdeadbeefu);
  EXPECT_EQ(bar_.backend.call(0).off, 0x80u);
  EXPECT_EQ(bar_.backend.call(0).size, 4u);
}

TEST_F(TrapJit, rip_relative_store_of_rdi) {
  std::vector<uint8_t> c;
  bytes(c, {0x48, 0x89, 0x3d});  // mov [rip + rel32], rdi
  put32(c, rel32(pages_, kAt, 7, reg(0x88)));
  marker_and_ret(c);
  const Pair r = pages_.place(kAt, c)(0x0123456789abcdef);
  EXPECT_EQ(r.rdx, kMarker);
  EXPECT_EQ(bar_.backend.peek(0x88), 0x0123456789abcdefu);
}

TEST_F(TrapJit, absolute_64_bit_address_load_into_rax) {
  bar_.backend.poke(0x30, 0x1122334455667788);
  std::vector<uint8_t> c;
  bytes(c, {0x48, 0xa1});  // mov rax, [moffs64]
  put64(c, reg(0x30));
  marker_and_ret(c);
  const Pair r = pages_.place(kAt, c)(0);
  EXPECT_EQ(r.rax, 0x1122334455667788u);
  EXPECT_EQ(r.rdx, kMarker);
}

TEST_F(TrapJit, absolute_64_bit_address_load_into_al_keeps_the_rest_of_rax) {
  bar_.backend.poke(0x31, 0x5e, 1);
  std::vector<uint8_t> c;
  bytes(c, {0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff});  // mov rax, -1
  c.push_back(0xa0);                                     // mov al, [moffs64]
  put64(c, reg(0x31));
  marker_and_ret(c);
  const Pair r = pages_.place(kAt, c)(0);
  EXPECT_EQ(r.rax, 0xffffffffffffff5eu);
  EXPECT_EQ(r.rdx, kMarker);
}

TEST_F(TrapJit, absolute_64_bit_address_store_from_eax) {
  std::vector<uint8_t> c;
  bytes(c, {0x89, 0xf8});  // mov eax, edi
  c.push_back(0xa3);       // mov [moffs64], eax
  put64(c, reg(0x40));
  marker_and_ret(c);
  const Pair r = pages_.place(kAt, c)(0xcafef00d);
  EXPECT_EQ(r.rdx, kMarker);
  EXPECT_EQ(bar_.backend.peek(0x40, 4), 0xcafef00du);
  EXPECT_EQ(bar_.backend.call(0).size, 4u);
}

TEST_F(TrapJit, instruction_that_crosses_a_page_boundary_is_decoded_whole) {
  bar_.backend.poke(0x10, 0x77665544);
  std::vector<uint8_t> c;
  bytes(c, {0x8b, 0x05});  // mov eax, [rip + rel32]: 2 bytes before the boundary, 4 after
  const size_t at = kPage - 2;
  put32(c, rel32(pages_, at, 6, reg(0x10)));
  marker_and_ret(c);
  const Pair r = pages_.place(at, c)(0);
  EXPECT_EQ(r.rax, 0x77665544u);
  EXPECT_EQ(r.rdx, kMarker);
}

// The decoder must not read the 15-byte maximum past a short instruction at the end of the
// last mapped page.
TEST(TrapJitEdge, short_instruction_right_before_an_inaccessible_page_is_decoded) {
  TrappedBar bar(0x1000);
  bar.backend.poke(0x0, 0x5566, 2);
  CodePages pages(reinterpret_cast<uintptr_t>(bar.base), true);
  ASSERT_TRUE(pages.ok());
  // mov ax, [rdi] (3 bytes); ret; the page ends right after the ret.
  const std::vector<uint8_t> c{0x66, 0x8b, 0x07, 0xc3};
  auto fn = reinterpret_cast<uint64_t (*)(volatile void *)>(pages.place_raw(kPage - 4, c));
  EXPECT_EQ(fn(bar.base) & 0xffff, 0x5566u);
}

}  // namespace
}  // namespace ferry::trap::testing
