// Decodes the faulting instruction into an emulatable MMIO access (Zydis).
#include <sys/ucontext.h>
#include <unistd.h>

#include <Zydis/Zydis.h>

#include "trap/trap_internal.h"

namespace ferry::trap::detail {
namespace {

constexpr size_t kMaxInsnLength = 15;  // x86 architectural limit
constexpr uintptr_t kPage = 4096;      // the smallest page: instruction bytes never cross less

ZydisDecoder g_decoder;

// Maps a 64-bit GPR to its mcontext slot, -1 for anything else.
int greg_index(ZydisRegister reg64) {
  switch (reg64) {
    case ZYDIS_REGISTER_RAX:
      return REG_RAX;
    case ZYDIS_REGISTER_RCX:
      return REG_RCX;
    case ZYDIS_REGISTER_RDX:
      return REG_RDX;
    case ZYDIS_REGISTER_RBX:
      return REG_RBX;
    case ZYDIS_REGISTER_RSP:
      return REG_RSP;
    case ZYDIS_REGISTER_RBP:
      return REG_RBP;
    case ZYDIS_REGISTER_RSI:
      return REG_RSI;
    case ZYDIS_REGISTER_RDI:
      return REG_RDI;
    case ZYDIS_REGISTER_R8:
      return REG_R8;
    case ZYDIS_REGISTER_R9:
      return REG_R9;
    case ZYDIS_REGISTER_R10:
      return REG_R10;
    case ZYDIS_REGISTER_R11:
      return REG_R11;
    case ZYDIS_REGISTER_R12:
      return REG_R12;
    case ZYDIS_REGISTER_R13:
      return REG_R13;
    case ZYDIS_REGISTER_R14:
      return REG_R14;
    case ZYDIS_REGISTER_R15:
      return REG_R15;
    default:
      return -1;
  }
}

bool to_gpr(ZydisRegister reg, GprRef *out) {
  const int greg = greg_index(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg));
  if (greg < 0) return false;  // segment, control, vector registers, ...
  out->greg = greg;
  out->width = ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, reg) / 8;
  out->high8 = reg == ZYDIS_REGISTER_AH || reg == ZYDIS_REGISTER_CH || reg == ZYDIS_REGISTER_DH ||
               reg == ZYDIS_REGISTER_BH;
  return out->width == 1 || out->width == 2 || out->width == 4 || out->width == 8;
}

bool is_plain_memory(const ZydisDecodedOperand &op) {
  return op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.type == ZYDIS_MEMOP_TYPE_MEM;
}

uint64_t truncate(uint64_t v, unsigned size) {
  return size == 8 ? v : v & ((uint64_t{1} << (size * 8)) - 1);
}

// The instruction faulted on its data access, so the CPU fetched all of its bytes: they are
// mapped. The 15-byte window past its end may not be, so decode only up to the end of the
// page first and look into the next page only when the instruction continues there.
ZyanStatus decode_at(uintptr_t rip, ZydisDecodedInstruction *insn,
                     ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT]) {
  const size_t to_page_end = kPage - (rip & (kPage - 1));
  const size_t first = to_page_end < kMaxInsnLength ? to_page_end : kMaxInsnLength;
  const void *bytes = reinterpret_cast<const void *>(rip);
  ZyanStatus st = ZydisDecoderDecodeFull(&g_decoder, bytes, first, insn, ops);
  if (st == ZYDIS_STATUS_NO_MORE_DATA && first < kMaxInsnLength) {
    st = ZydisDecoderDecodeFull(&g_decoder, bytes, kMaxInsnLength, insn, ops);
  }
  return st;
}

}  // namespace

void init_decoder() {
  ZydisDecoderInit(&g_decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
}

DecodeStatus decode_access(uintptr_t rip, DecodedAccess *out, const char **mnemonic) {
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(decode_at(rip, &insn, ops))) return DecodeStatus::undecodable;
  *mnemonic = ZydisMnemonicGetString(insn.mnemonic);

  Extend extend;
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
      extend = Extend::none;
      break;
    case ZYDIS_MNEMONIC_MOVZX:
      extend = Extend::zero;
      break;
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD:
      extend = Extend::sign;
      break;
    default:
      return DecodeStatus::unsupported;
  }
  if (insn.operand_count_visible != 2) return DecodeStatus::unsupported;
  const ZydisDecodedOperand &dst = ops[0];
  const ZydisDecodedOperand &src = ops[1];

  DecodedAccess a{};
  a.length = insn.length;
  a.extend = extend;
  if (dst.type == ZYDIS_OPERAND_TYPE_REGISTER && is_plain_memory(src)) {
    a.is_store = false;
    a.size = src.size / 8;
    if (!to_gpr(dst.reg.value, &a.reg)) return DecodeStatus::unsupported;
  } else if (is_plain_memory(dst) && extend == Extend::none) {
    a.is_store = true;
    a.size = dst.size / 8;
    if (src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
      a.store_imm = true;
      // Zydis sign-extends a signed immediate (mov qword [m], imm32) to 64 bits already.
      a.imm = truncate(src.imm.value.u, a.size);
    } else if (src.type != ZYDIS_OPERAND_TYPE_REGISTER || !to_gpr(src.reg.value, &a.reg)) {
      return DecodeStatus::unsupported;  // mov m16, Sreg
    }
  } else {
    return DecodeStatus::unsupported;
  }
  if (a.size != 1 && a.size != 2 && a.size != 4 && a.size != 8) return DecodeStatus::unsupported;
  *out = a;
  return DecodeStatus::ok;
}

}  // namespace ferry::trap::detail
