// Emulates the arithmetic of a folded read-modify-write or compare: the handler has the memory
// operand's value from the backend; the CPU computes the result and the flags.
#include <cstdint>

#include "trap/trap_internal.h"

namespace ferry::trap::detail {
namespace {

// EFLAGS bits.
constexpr uint64_t kCF = 1u << 0, kPF = 1u << 2, kAF = 1u << 4, kZF = 1u << 6, kSF = 1u << 7,
                   kOF = 1u << 11;
constexpr uint64_t kArith = kCF | kPF | kAF | kZF | kSF | kOF;

// LAHF puts SF:ZF:0:AF:0:PF:1:CF into AH (EFLAGS bits 7..0) without touching the stack, which a
// pushf in inline assembly could not promise (the red zone); SETO adds OF.
uint64_t flags_of(uint16_t ax, uint8_t of) {
  return (static_cast<uint64_t>(ax >> 8) & (kSF | kZF | kAF | kPF | kCF)) | (of != 0 ? kOF : 0);
}

#define FERRY_ALU_BINARY(fn, insn)               \
  template <typename T>                          \
  uint64_t fn(T a, T b, uint64_t *flags) {       \
    uint16_t ax;                                 \
    uint8_t of;                                  \
    asm(insn " %[b], %[a]\n\tlahf\n\tseto %[of]" \
        : [a] "+r"(a), [of] "=r"(of), "=a"(ax)   \
        : [b] "r"(b)                             \
        : "cc");                                 \
    *flags = flags_of(ax, of);                   \
    return a;                                    \
  }
#define FERRY_ALU_UNARY(fn, insn)                                                            \
  template <typename T>                                                                      \
  uint64_t fn(T a, T, uint64_t *flags) {                                                     \
    uint16_t ax;                                                                             \
    uint8_t of;                                                                              \
    asm(insn " %[a]\n\tlahf\n\tseto %[of]" : [a] "+r"(a), [of] "=r"(of), "=a"(ax) : : "cc"); \
    *flags = flags_of(ax, of);                                                               \
    return a;                                                                                \
  }

FERRY_ALU_BINARY(alu_add, "add")
FERRY_ALU_BINARY(alu_sub, "sub")
FERRY_ALU_BINARY(alu_and, "and")
FERRY_ALU_BINARY(alu_or, "or")
FERRY_ALU_BINARY(alu_xor, "xor")
FERRY_ALU_UNARY(alu_inc, "inc")
FERRY_ALU_UNARY(alu_dec, "dec")
FERRY_ALU_UNARY(alu_neg, "neg")

template <typename T>
uint64_t run_sized(AluOp op, uint64_t a64, uint64_t b64, uint64_t *flags) {
  const T a = static_cast<T>(a64), b = static_cast<T>(b64);
  switch (op) {
    case AluOp::add:
      return alu_add<T>(a, b, flags);
    case AluOp::sub:
    case AluOp::cmp:
      return alu_sub<T>(a, b, flags);
    case AluOp::and_:
    case AluOp::test:
      return alu_and<T>(a, b, flags);
    case AluOp::or_:
      return alu_or<T>(a, b, flags);
    case AluOp::xor_:
      return alu_xor<T>(a, b, flags);
    case AluOp::inc:
      return alu_inc<T>(a, b, flags);
    case AluOp::dec:
      return alu_dec<T>(a, b, flags);
    case AluOp::neg:
      return alu_neg<T>(a, b, flags);
    case AluOp::not_:
      *flags = 0;
      return static_cast<T>(~a);
  }
  return 0;
}

}  // namespace

AluResult run_alu(AluOp op, unsigned size, uint64_t a, uint64_t b) {
  AluResult r{};
  switch (size) {
    case 1:
      r.value = run_sized<uint8_t>(op, a, b, &r.flags);
      break;
    case 2:
      r.value = run_sized<uint16_t>(op, a, b, &r.flags);
      break;
    case 4:
      r.value = run_sized<uint32_t>(op, a, b, &r.flags);
      break;
    default:
      r.value = run_sized<uint64_t>(op, a, b, &r.flags);
      break;
  }
  r.writes_back = op != AluOp::cmp && op != AluOp::test;
  r.flags_mask = op == AluOp::not_                      ? 0
                 : op == AluOp::inc || op == AluOp::dec ? kArith & ~kCF  // CF is kept
                                                        : kArith;
  return r;
}

}  // namespace ferry::trap::detail
