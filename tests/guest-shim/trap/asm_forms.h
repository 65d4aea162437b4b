// Every instruction form the trap engine emulates, as tiny assembly functions (asm_forms.cpp).
//
// Each function is `uint64_t f(volatile void *addr, uint64_t v)`: it sets the register under
// test to `v` (so a test can see which of its bits an access keeps), executes exactly one
// access to `addr` with the form under test, then stores kMarkerDone to ferry_trap_marker
// (proving that execution resumed at the next instruction) and returns the full 64-bit
// register. Stores therefore write (part of) `v`.
#pragma once

#include <cstdint>

extern "C" {
extern volatile uint32_t ferry_trap_marker;
}

namespace ferry::trap::testing {

inline constexpr uint32_t kMarkerDone = 0x600dcafe;

using FormFn = uint64_t (*)(volatile void *addr, uint64_t v);

enum class Ext { none, zero, sign };

struct Form {
  const char *name;
  FormFn fn;
  bool is_store;
  unsigned size;       // bytes of the memory access
  unsigned reg_width;  // bytes of the register operand (0: immediate store)
  bool high8;          // AH, BH, CH or DH
  Ext ext;
  uint64_t imm;  // immediate stores: the value the backend must see
};

// All forms with one register operand per GPR (rsp included where it makes sense) and the
// immediate stores, each accessing the address in a base register.
const Form *register_forms(unsigned *count);
// Addressing-mode variants (disp8/disp32, SIB with scale, index without base, r12/r13/rbp
// bases, REX index/base, segment prefix), each computing `addr` in its own way.
const Form *addressing_forms(unsigned *count);
// The function of the register form called `name` (e.g. "mov_rax_m64"); aborts if none.
FormFn form(const char *name);

// ALU forms (read-modify-write, compare, memory source): `AluResult f(addr, v, flags_in)` sets
// the register under test to `v` and the arithmetic flags to `flags_in`, executes the one
// instruction on `addr`, stores the marker, and returns the register and the flags after it.
// Tests run each form on a trapped range and on ordinary memory and compare: the CPU is the
// reference.
struct AluOut {
  uint64_t reg;
  uint64_t flags;
};
using AluFn = AluOut (*)(volatile void *addr, uint64_t v, uint64_t flags_in);
struct AluForm {
  const char *name;
  AluFn fn;
  unsigned size;       // bytes of the memory operand
  bool writes_memory;  // a read-modify-write (else only a read)
};
const AluForm *alu_forms(unsigned *count);

}  // namespace ferry::trap::testing

// Instructions the engine must refuse (each label is the faulting instruction itself).
extern "C" {
void ferry_trap_bad_lock_add(volatile void *addr);  // lock add %eax, (%rdi)
void ferry_trap_bad_adc(volatile void *addr);       // adc %eax, (%rdi)
void ferry_trap_bad_movdqu(volatile void *addr);    // movdqu (%rdi), %xmm0
void ferry_trap_bad_xchg(volatile void *addr);      // xchg %eax, (%rdi)
void ferry_trap_bad_bt(volatile void *addr);        // btl $3, (%rdi)
void ferry_trap_bad_movs(volatile void *addr);      // movsb (%rsi), (%rdi) with rsi = addr
}
