// The instruction forms of asm_forms.h, generated with file-scope inline assembly.
#include "asm_forms.h"

#include <cstdlib>
#include <cstring>

// Tables of registers and assembly text: kept in hand-made columns.
// clang-format off

// One test function: address into `addr`, `v` into `reg`, the access(es) in `insn`, then the
// marker store and the register as the return value. Callee-saved registers are preserved.
#define FT_FN(name, addr, reg, insn)                                     \
  ".globl ferry_trap_" name "\n"                                         \
  ".type ferry_trap_" name ", @function\n"                               \
  "ferry_trap_" name ":\n"                                               \
  "  push %rbx\n  push %rbp\n  push %r12\n"                              \
  "  push %r13\n  push %r14\n  push %r15\n"                              \
  "  mov %rdi, %" addr "\n"                                              \
  "  mov %rsi, %" reg "\n"                                               \
  "  " insn "\n"                                                         \
  "  movl $0x600dcafe, ferry_trap_marker(%rip)\n"                        \
  "  mov %" reg ", %rax\n"                                               \
  "  pop %r15\n  pop %r14\n  pop %r13\n"                                 \
  "  pop %r12\n  pop %rbp\n  pop %rbx\n"                                 \
  "  ret\n"                                                              \
  ".size ferry_trap_" name ", .-ferry_trap_" name "\n"

// X(r64, r32, r16, r8, addr): `addr` is the base register holding the address (not r64).
#define FT_GPRS(X)                                                                              \
  X(rax, eax, ax, al, r11) X(rcx, ecx, cx, cl, r11) X(rdx, edx, dx, dl, r11)                  \
  X(rbx, ebx, bx, bl, r11) X(rbp, ebp, bp, bpl, r11) X(rsi, esi, si, sil, r11)                \
  X(rdi, edi, di, dil, r11) X(r8, r8d, r8w, r8b, r11) X(r9, r9d, r9w, r9b, r11)               \
  X(r10, r10d, r10w, r10b, r11) X(r11, r11d, r11w, r11b, r10) X(r12, r12d, r12w, r12b, r11)   \
  X(r13, r13d, r13w, r13b, r11) X(r14, r14d, r14w, r14b, r11) X(r15, r15d, r15w, r15b, r11)

// X(r8h, r64): the legacy high-byte registers; they cannot share an instruction with a REX
// prefix, so the address stays in rdi.
#define FT_HIGH8(X) X(ah, rax) X(ch, rcx) X(dh, rdx) X(bh, rbx)

#define FT_MEM(addr) "(%" #addr ")"

#define FT_ASM_GPR(r64, r32, r16, r8, addr)                                                    \
  FT_FN("ld64_" #r64, #addr, #r64, "mov " FT_MEM(addr) ", %" #r64)                            \
  FT_FN("ld32_" #r64, #addr, #r64, "mov " FT_MEM(addr) ", %" #r32)                            \
  FT_FN("ld16_" #r64, #addr, #r64, "mov " FT_MEM(addr) ", %" #r16)                            \
  FT_FN("ld8_" #r64, #addr, #r64, "mov " FT_MEM(addr) ", %" #r8)                              \
  FT_FN("st64_" #r64, #addr, #r64, "mov %" #r64 ", " FT_MEM(addr))                            \
  FT_FN("st32_" #r64, #addr, #r64, "mov %" #r32 ", " FT_MEM(addr))                            \
  FT_FN("st16_" #r64, #addr, #r64, "mov %" #r16 ", " FT_MEM(addr))                            \
  FT_FN("st8_" #r64, #addr, #r64, "mov %" #r8 ", " FT_MEM(addr))                              \
  FT_FN("movzbw_" #r64, #addr, #r64, "movzbw " FT_MEM(addr) ", %" #r16)                       \
  FT_FN("movzbl_" #r64, #addr, #r64, "movzbl " FT_MEM(addr) ", %" #r32)                       \
  FT_FN("movzbq_" #r64, #addr, #r64, "movzbq " FT_MEM(addr) ", %" #r64)                       \
  FT_FN("movzwl_" #r64, #addr, #r64, "movzwl " FT_MEM(addr) ", %" #r32)                       \
  FT_FN("movzwq_" #r64, #addr, #r64, "movzwq " FT_MEM(addr) ", %" #r64)                       \
  FT_FN("movsbw_" #r64, #addr, #r64, "movsbw " FT_MEM(addr) ", %" #r16)                       \
  FT_FN("movsbl_" #r64, #addr, #r64, "movsbl " FT_MEM(addr) ", %" #r32)                       \
  FT_FN("movsbq_" #r64, #addr, #r64, "movsbq " FT_MEM(addr) ", %" #r64)                       \
  FT_FN("movswl_" #r64, #addr, #r64, "movswl " FT_MEM(addr) ", %" #r32)                       \
  FT_FN("movswq_" #r64, #addr, #r64, "movswq " FT_MEM(addr) ", %" #r64)                       \
  FT_FN("movslq_" #r64, #addr, #r64, "movslq " FT_MEM(addr) ", %" #r64)

#define FT_ASM_HIGH8(r8h, r64)                                      \
  FT_FN("ld8_" #r8h, "rdi", #r64, "mov (%rdi), %" #r8h)             \
  FT_FN("st8_" #r8h, "rdi", #r64, "mov %" #r8h ", (%rdi)")

// rsp: load it through the trap and put the stack back right away; store the live value.
#define FT_ASM_RSP                                                       \
  ".globl ferry_trap_ld64_rsp\n"                                         \
  "ferry_trap_ld64_rsp:\n"                                               \
  "  mov %rsp, %rdx\n"                                                   \
  "  mov (%rdi), %rsp\n"                                                 \
  "  movl $0x600dcafe, ferry_trap_marker(%rip)\n"                        \
  "  mov %rsp, %rax\n"                                                   \
  "  mov %rdx, %rsp\n"                                                   \
  "  ret\n"                                                              \
  ".globl ferry_trap_st64_rsp\n"                                         \
  "ferry_trap_st64_rsp:\n"                                               \
  "  mov %rsp, (%rdi)\n"                                                 \
  "  movl $0x600dcafe, ferry_trap_marker(%rip)\n"                        \
  "  mov %rsp, %rax\n"                                                   \
  "  ret\n"

#define FT_ASM_IMM                                                              \
  FT_FN("sti8", "r11", "rax", "movb $0xa5, (%r11)")                             \
  FT_FN("sti16", "r11", "rax", "movw $0xa55a, (%r11)")                          \
  FT_FN("sti32", "r11", "rax", "movl $0x89abcdef, (%r11)")                      \
  FT_FN("sti64_pos", "r11", "rax", "movq $0x7edcba98, (%r11)")                  \
  FT_FN("sti64_neg", "r11", "rax", "movq $-0x12345678, (%r11)")                 \
  FT_FN("sti32_r13", "r13", "rax", "movl $0x01020304, (%r13)")

// Addressing modes: each variant computes its base/index from the address in r11 (or rdi).
#define FT_ASM_MODES                                                                           \
  FT_FN("am_disp8", "r11", "rax", "lea -0x10(%r11), %rcx\n  mov 0x10(%rcx), %eax")             \
  FT_FN("am_disp8_neg", "r11", "rax", "lea 0x7f(%r11), %rcx\n  mov -0x7f(%rcx), %eax")         \
  FT_FN("am_disp32", "r11", "rax", "lea -0x12345(%r11), %rcx\n  mov 0x12345(%rcx), %eax")      \
  FT_FN("am_sib", "r11", "rax", "mov $3, %rcx\n  lea -12(%r11), %rdx\n  mov (%rdx,%rcx,4), %eax") \
  FT_FN("am_sib_disp32_rex", "r11", "r9",                                                      \
        "mov $5, %r12\n  lea -0x1028(%r11), %r13\n  mov 0x1000(%r13,%r12,8), %r9")             \
  FT_FN("am_sib_disp8_scale2", "r11", "rbx",                                                   \
        "mov $-4, %r15\n  lea -0x8(%r11), %r14\n  mov 0x10(%r14,%r15,2), %bx")                 \
  FT_FN("am_index_only", "r11", "rax", "lea -0x20(%r11), %rcx\n  mov 0x20(,%rcx,1), %eax")     \
  FT_FN("am_r12_base", "r11", "r10", "mov %r11, %r12\n  mov (%r12), %r10d")                    \
  FT_FN("am_r13_base", "r11", "rbx", "mov %r11, %r13\n  mov (%r13), %ebx")                     \
  FT_FN("am_rbp_base", "r11", "rax", "lea 8(%r11), %rbp\n  mov -8(%rbp), %rax")                \
  FT_FN("am_ds_prefix", "r11", "rax", ".byte 0x3e\n  mov (%r11), %eax")                              \
  FT_FN("am_movzx_sib", "r11", "r8", "mov $1, %rcx\n  lea -0x21(%r11), %rdx\n"                 \
        "  movzbl 0x20(%rdx,%rcx,1), %r8d")                                                    \
  FT_FN("am_movsxd_disp32", "r11", "r15", "lea -0x400(%r11), %rdx\n  movslq 0x400(%rdx), %r15") \
  FT_FN("am_st_sib", "r11", "r14", "mov $4, %rcx\n  lea -11(%r11), %rdx\n"                     \
        "  mov %r14w, 7(%rdx,%rcx,1)")                                                         \
  FT_FN("am_st_disp32_r9", "r11", "r9", "lea -0x2000(%r11), %rdx\n  mov %r9, 0x2000(%rdx)")    \
  FT_FN("am_sti_sib_disp8", "r11", "rax", "mov $2, %rcx\n  lea 0x4(%r11), %rdx\n"             \
        "  movl $0x11223344, -0x8(%rdx,%rcx,2)")                                               \
  FT_FN("am_sti_disp32_rex", "r11", "rax", "lea -0x300(%r11), %r12\n"                          \
        "  movq $-2, 0x300(%r12)")

// An ALU test function: like FT_FN, plus the flags in (rdx, via popf) and out (rdx, pushf).
// `reg` must not be rdx.
#define FT_ALU_FN(name, addr, reg, insn)                                 \
  ".globl ferry_trap_alu_" name "\n"                                     \
  ".type ferry_trap_alu_" name ", @function\n"                           \
  "ferry_trap_alu_" name ":\n"                                           \
  "  push %rbx\n  push %rbp\n  push %r12\n"                              \
  "  push %r13\n  push %r14\n  push %r15\n"                              \
  "  push %rdx\n"                                                        \
  "  mov %rdi, %" addr "\n"                                              \
  "  mov %rsi, %" reg "\n"                                               \
  "  popf\n"                                                             \
  "  " insn "\n"                                                         \
  "  pushf\n  pop %rdx\n"                                                \
  "  movl $0x600dcafe, ferry_trap_marker(%rip)\n"                        \
  "  mov %" reg ", %rax\n"                                               \
  "  pop %r15\n  pop %r14\n  pop %r13\n"                                 \
  "  pop %r12\n  pop %rbp\n  pop %rbx\n"                                 \
  "  ret\n"                                                              \
  ".size ferry_trap_alu_" name ", .-ferry_trap_alu_" name "\n"

// X(name, addr, reg, size, writes_memory, insn)
#define FT_ALUS(X)                                                                        \
  X(add_m32_imm32, r11, rax, 4, true, "addl $0x7fffffff, (%r11)")                          \
  X(add_m8_imm8, r11, rax, 1, true, "addb $0x80, (%r11)")                                  \
  X(add_m64_imm8_sign_extended, r11, rax, 8, true, "addq $-1, (%r11)")                     \
  X(add_m16_r9w, r11, r9, 2, true, "addw %r9w, (%r11)")                                    \
  X(add_m64_rbx, r11, rbx, 8, true, "addq %rbx, (%r11)")                                   \
  X(add_ecx_m32, r11, rcx, 4, false, "addl (%r11), %ecx")                                  \
  X(add_r12w_m16, r11, r12, 2, false, "addw (%r11), %r12w")                                \
  X(add_ah_m8, rdi, rax, 1, false, "addb (%rdi), %ah")                                     \
  X(sub_m32_imm8, r11, rax, 4, true, "subl $1, (%r11)")                                    \
  X(sub_m64_r13, r11, r13, 8, true, "subq %r13, (%r11)")                                   \
  X(sub_r14d_m32, r11, r14, 4, false, "subl (%r11), %r14d")                                \
  X(and_m32_imm8, r11, rax, 4, true, "andl $-5, (%r11)")                                   \
  X(and_m8_cl, r11, rcx, 1, true, "andb %cl, (%r11)")                                      \
  X(and_r8_m64, r11, r8, 8, false, "andq (%r11), %r8")                                     \
  X(or_m32_r10d, r11, r10, 4, true, "orl %r10d, (%r11)")                                   \
  X(or_m16_imm16, r11, rax, 2, true, "orw $0x8000, (%r11)")                                \
  X(or_bh_m8, rdi, rbx, 1, false, "orb (%rdi), %bh")                                       \
  X(xor_m16_imm16, r11, rax, 2, true, "xorw $-32768, (%r11)")                              \
  X(xor_m64_r15, r11, r15, 8, true, "xorq %r15, (%r11)")                                   \
  X(xor_eax_m32, r11, rax, 4, false, "xorl (%r11), %eax")                                  \
  X(cmp_m32_imm8, r11, rax, 4, false, "cmpl $0, (%r11)")                                   \
  X(cmp_m8_imm8, r11, rax, 1, false, "cmpb $3, (%r11)")                                    \
  X(cmp_m64_imm8_sign_extended, r11, rax, 8, false, "cmpq $-1, (%r11)")                    \
  X(cmp_m64_r9, r11, r9, 8, false, "cmpq %r9, (%r11)")                                     \
  X(cmp_ecx_m32, r11, rcx, 4, false, "cmpl (%r11), %ecx")                                  \
  X(cmp_si_m16, r11, rsi, 2, false, "cmpw (%r11), %si")                                    \
  X(test_m32_imm32, r11, rax, 4, false, "testl $0x80, (%r11)")                             \
  X(test_m64_imm32, r11, rax, 8, false, "testq $1, (%r11)")                                \
  X(test_m8_imm8, r11, rax, 1, false, "testb $0x81, (%r11)")                               \
  X(test_m16_r12w, r11, r12, 2, false, "testw %r12w, (%r11)")                              \
  X(inc_m32, r11, rax, 4, true, "incl (%r11)")                                             \
  X(inc_m8, r11, rax, 1, true, "incb (%r11)")                                              \
  X(dec_m64, r11, rax, 8, true, "decq (%r11)")                                             \
  X(dec_m16, r11, rax, 2, true, "decw (%r11)")                                             \
  X(not_m32, r11, rax, 4, true, "notl (%r11)")                                             \
  X(not_m8, r11, rax, 1, true, "notb (%r11)")                                              \
  X(neg_m32, r11, rax, 4, true, "negl (%r11)")                                             \
  X(neg_m64, r11, rax, 8, true, "negq (%r11)")

#define FT_ASM_ALU(name, addr, reg, size, writes, insn) FT_ALU_FN(#name, #addr, #reg, insn)

asm(".data\n"
    ".balign 4\n"
    ".globl ferry_trap_marker\n"
    ".hidden ferry_trap_marker\n"
    "ferry_trap_marker: .long 0\n"
    ".text\n"
    FT_GPRS(FT_ASM_GPR)
    FT_HIGH8(FT_ASM_HIGH8)
    FT_ASM_RSP
    FT_ASM_IMM
    FT_ASM_MODES
    FT_ALUS(FT_ASM_ALU)
    "ferry_trap_bad_lock_add:\n  lock add %eax, (%rdi)\n  ret\n"
    ".globl ferry_trap_bad_lock_add\n"
    "ferry_trap_bad_adc:\n  adc %eax, (%rdi)\n  ret\n"
    ".globl ferry_trap_bad_adc\n"
    "ferry_trap_bad_bt:\n  btl $3, (%rdi)\n  ret\n"
    ".globl ferry_trap_bad_bt\n"
    "ferry_trap_bad_movdqu:\n  movdqu (%rdi), %xmm0\n  ret\n"
    ".globl ferry_trap_bad_movdqu\n"
    "ferry_trap_bad_xchg:\n  xchg %eax, (%rdi)\n  ret\n"
    ".globl ferry_trap_bad_xchg\n"
    "ferry_trap_bad_movs:\n  mov %rdi, %rsi\n  movsb\n  ret\n"
    ".globl ferry_trap_bad_movs\n");

// ---- the C++ view of the functions above ----

#define FT_DECL_GPR(r64, r32, r16, r8, addr)                                           \
  uint64_t ferry_trap_ld64_##r64(volatile void *, uint64_t);                           \
  uint64_t ferry_trap_ld32_##r64(volatile void *, uint64_t);                           \
  uint64_t ferry_trap_ld16_##r64(volatile void *, uint64_t);                           \
  uint64_t ferry_trap_ld8_##r64(volatile void *, uint64_t);                            \
  uint64_t ferry_trap_st64_##r64(volatile void *, uint64_t);                           \
  uint64_t ferry_trap_st32_##r64(volatile void *, uint64_t);                           \
  uint64_t ferry_trap_st16_##r64(volatile void *, uint64_t);                           \
  uint64_t ferry_trap_st8_##r64(volatile void *, uint64_t);                            \
  uint64_t ferry_trap_movzbw_##r64(volatile void *, uint64_t);                         \
  uint64_t ferry_trap_movzbl_##r64(volatile void *, uint64_t);                         \
  uint64_t ferry_trap_movzbq_##r64(volatile void *, uint64_t);                         \
  uint64_t ferry_trap_movzwl_##r64(volatile void *, uint64_t);                         \
  uint64_t ferry_trap_movzwq_##r64(volatile void *, uint64_t);                         \
  uint64_t ferry_trap_movsbw_##r64(volatile void *, uint64_t);                         \
  uint64_t ferry_trap_movsbl_##r64(volatile void *, uint64_t);                         \
  uint64_t ferry_trap_movsbq_##r64(volatile void *, uint64_t);                         \
  uint64_t ferry_trap_movswl_##r64(volatile void *, uint64_t);                         \
  uint64_t ferry_trap_movswq_##r64(volatile void *, uint64_t);                         \
  uint64_t ferry_trap_movslq_##r64(volatile void *, uint64_t);
#define FT_DECL_HIGH8(r8h, r64)                                \
  uint64_t ferry_trap_ld8_##r8h(volatile void *, uint64_t);    \
  uint64_t ferry_trap_st8_##r8h(volatile void *, uint64_t);
#define FT_DECL(name) uint64_t ferry_trap_##name(volatile void *, uint64_t);

extern "C" {
FT_GPRS(FT_DECL_GPR)
FT_HIGH8(FT_DECL_HIGH8)
FT_DECL(ld64_rsp)
FT_DECL(st64_rsp)
FT_DECL(sti8)
FT_DECL(sti16)
FT_DECL(sti32)
FT_DECL(sti64_pos)
FT_DECL(sti64_neg)
FT_DECL(sti32_r13)
FT_DECL(am_disp8)
FT_DECL(am_disp8_neg)
FT_DECL(am_disp32)
FT_DECL(am_sib)
FT_DECL(am_sib_disp32_rex)
FT_DECL(am_sib_disp8_scale2)
FT_DECL(am_index_only)
FT_DECL(am_r12_base)
FT_DECL(am_r13_base)
FT_DECL(am_rbp_base)
FT_DECL(am_ds_prefix)
FT_DECL(am_movzx_sib)
FT_DECL(am_movsxd_disp32)
FT_DECL(am_st_sib)
FT_DECL(am_st_disp32_r9)
FT_DECL(am_sti_sib_disp8)
FT_DECL(am_sti_disp32_rex)
#define FT_DECL_ALU(name, addr, reg, size, writes, insn)                           \
  ferry::trap::testing::AluOut ferry_trap_alu_##name(volatile void *, uint64_t, uint64_t);
FT_ALUS(FT_DECL_ALU)
}

namespace ferry::trap::testing {
namespace {

// Form{name, fn, is_store, size, reg_width, high8, ext, imm}
#define FT_LOAD(n, fn, size, width, ext) Form{n, fn, false, size, width, false, Ext::ext, 0},
#define FT_STORE(n, fn, size) Form{n, fn, true, size, size, false, Ext::none, 0},
#define FT_STORE_IMM(n, fn, size, imm) Form{n, fn, true, size, 0, false, Ext::none, imm},

#define FT_FORMS_GPR(r64, r32, r16, r8, addr)                                   \
  FT_LOAD("mov_" #r64 "_m64", ferry_trap_ld64_##r64, 8, 8, none)                 \
  FT_LOAD("mov_" #r32 "_m32", ferry_trap_ld32_##r64, 4, 4, none)                 \
  FT_LOAD("mov_" #r16 "_m16", ferry_trap_ld16_##r64, 2, 2, none)                 \
  FT_LOAD("mov_" #r8 "_m8", ferry_trap_ld8_##r64, 1, 1, none)                    \
  FT_STORE("mov_m64_" #r64, ferry_trap_st64_##r64, 8)                            \
  FT_STORE("mov_m32_" #r32, ferry_trap_st32_##r64, 4)                            \
  FT_STORE("mov_m16_" #r16, ferry_trap_st16_##r64, 2)                            \
  FT_STORE("mov_m8_" #r8, ferry_trap_st8_##r64, 1)                               \
  FT_LOAD("movzx_" #r16 "_m8", ferry_trap_movzbw_##r64, 1, 2, zero)              \
  FT_LOAD("movzx_" #r32 "_m8", ferry_trap_movzbl_##r64, 1, 4, zero)              \
  FT_LOAD("movzx_" #r64 "_m8", ferry_trap_movzbq_##r64, 1, 8, zero)              \
  FT_LOAD("movzx_" #r32 "_m16", ferry_trap_movzwl_##r64, 2, 4, zero)             \
  FT_LOAD("movzx_" #r64 "_m16", ferry_trap_movzwq_##r64, 2, 8, zero)             \
  FT_LOAD("movsx_" #r16 "_m8", ferry_trap_movsbw_##r64, 1, 2, sign)              \
  FT_LOAD("movsx_" #r32 "_m8", ferry_trap_movsbl_##r64, 1, 4, sign)              \
  FT_LOAD("movsx_" #r64 "_m8", ferry_trap_movsbq_##r64, 1, 8, sign)              \
  FT_LOAD("movsx_" #r32 "_m16", ferry_trap_movswl_##r64, 2, 4, sign)             \
  FT_LOAD("movsx_" #r64 "_m16", ferry_trap_movswq_##r64, 2, 8, sign)             \
  FT_LOAD("movsxd_" #r64 "_m32", ferry_trap_movslq_##r64, 4, 8, sign)

#define FT_FORMS_HIGH8(r8h, r64)                                                       \
  Form{"mov_" #r8h "_m8", ferry_trap_ld8_##r8h, false, 1, 1, true, Ext::none, 0},      \
      Form{"mov_m8_" #r8h, ferry_trap_st8_##r8h, true, 1, 1, true, Ext::none, 0},

const Form kRegisterForms[] = {
    FT_GPRS(FT_FORMS_GPR)
    FT_HIGH8(FT_FORMS_HIGH8)
    FT_LOAD("mov_rsp_m64", ferry_trap_ld64_rsp, 8, 8, none)
    FT_STORE("mov_m64_rsp", ferry_trap_st64_rsp, 8)
    FT_STORE_IMM("mov_m8_imm8", ferry_trap_sti8, 1, 0xa5)
    FT_STORE_IMM("mov_m16_imm16", ferry_trap_sti16, 2, 0xa55a)
    FT_STORE_IMM("mov_m32_imm32", ferry_trap_sti32, 4, 0x89abcdef)
    FT_STORE_IMM("mov_m64_imm32_positive", ferry_trap_sti64_pos, 8, 0x7edcba98)
    FT_STORE_IMM("mov_m64_imm32_sign_extended", ferry_trap_sti64_neg, 8,
                 static_cast<uint64_t>(-0x12345678LL))
    FT_STORE_IMM("mov_m32_imm32_r13_base", ferry_trap_sti32_r13, 4, 0x01020304)
};

const Form kAddressingForms[] = {
    FT_LOAD("disp8", ferry_trap_am_disp8, 4, 4, none)
    FT_LOAD("negative_disp8", ferry_trap_am_disp8_neg, 4, 4, none)
    FT_LOAD("disp32", ferry_trap_am_disp32, 4, 4, none)
    FT_LOAD("base_index_scale4", ferry_trap_am_sib, 4, 4, none)
    FT_LOAD("rex_base_index_scale8_disp32", ferry_trap_am_sib_disp32_rex, 8, 8, none)
    FT_LOAD("negative_index_scale2_disp8_into_bx", ferry_trap_am_sib_disp8_scale2, 2, 2, none)
    FT_LOAD("index_without_base", ferry_trap_am_index_only, 4, 4, none)
    FT_LOAD("r12_base_needs_sib", ferry_trap_am_r12_base, 4, 4, none)
    FT_LOAD("r13_base_needs_disp8", ferry_trap_am_r13_base, 4, 4, none)
    FT_LOAD("rbp_base", ferry_trap_am_rbp_base, 8, 8, none)
    FT_LOAD("ds_segment_prefix", ferry_trap_am_ds_prefix, 4, 4, none)
    FT_LOAD("movzx_base_index_disp8", ferry_trap_am_movzx_sib, 1, 4, zero)
    FT_LOAD("movsxd_disp32", ferry_trap_am_movsxd_disp32, 4, 8, sign)
    FT_STORE("store_r14w_base_index_disp8", ferry_trap_am_st_sib, 2)
    FT_STORE("store_r9_disp32", ferry_trap_am_st_disp32_r9, 8)
    FT_STORE_IMM("store_imm32_base_index_scale2_negative_disp8", ferry_trap_am_sti_sib_disp8, 4,
                 0x11223344)
    FT_STORE_IMM("store_imm32_sign_extended_rex_disp32", ferry_trap_am_sti_disp32_rex, 8,
                 ~uint64_t{1})
};

#define FT_ALU_FORM(name, addr, reg, size, writes, insn) AluForm{#name, ferry_trap_alu_##name, size, writes},
const AluForm kAluForms[] = {FT_ALUS(FT_ALU_FORM)};

}  // namespace
// clang-format on

const Form *register_forms(unsigned *count) {
  *count = sizeof(kRegisterForms) / sizeof(kRegisterForms[0]);
  return kRegisterForms;
}

const Form *addressing_forms(unsigned *count) {
  *count = sizeof(kAddressingForms) / sizeof(kAddressingForms[0]);
  return kAddressingForms;
}

const AluForm *alu_forms(unsigned *count) {
  *count = sizeof(kAluForms) / sizeof(kAluForms[0]);
  return kAluForms;
}

FormFn form(const char *name) {
  for (const Form &f : kRegisterForms) {
    if (std::strcmp(f.name, name) == 0) return f.fn;
  }
  std::abort();
}

}  // namespace ferry::trap::testing
