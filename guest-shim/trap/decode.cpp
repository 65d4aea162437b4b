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

namespace {

// mov reg <- mem (load) or mem <- reg/imm (store); movzx/movsx/movsxd loads.
DecodeStatus decode_mov(const ZydisDecodedOperand &op0, const ZydisDecodedOperand &op1,
                        Extend extend, DecodedAccess *a) {
  if (op0.type == ZYDIS_OPERAND_TYPE_REGISTER && is_plain_memory(op1)) {
    a->kind = DecodedAccess::Kind::load;
    a->size = op1.size / 8;
    a->dst.type = Operand::Type::gpr;
    a->src.type = Operand::Type::memory;
    return to_gpr(op0.reg.value, &a->dst.reg) ? DecodeStatus::ok : DecodeStatus::unsupported;
  }
  if (!is_plain_memory(op0) || extend != Extend::none) return DecodeStatus::unsupported;
  a->kind = DecodedAccess::Kind::store;
  a->size = op0.size / 8;
  a->dst.type = Operand::Type::memory;
  if (op1.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    a->src.type = Operand::Type::imm;
    // Zydis sign-extends a signed immediate (mov qword [m], imm32) to 64 bits already.
    a->src.imm = truncate(op1.imm.value.u, a->size);
    return DecodeStatus::ok;
  }
  a->src.type = Operand::Type::gpr;
  if (op1.type != ZYDIS_OPERAND_TYPE_REGISTER || !to_gpr(op1.reg.value, &a->src.reg)) {
    return DecodeStatus::unsupported;  // mov m16, Sreg
  }
  return DecodeStatus::ok;
}

bool to_operand(const ZydisDecodedOperand &op, Operand *out) {
  if (is_plain_memory(op)) {
    out->type = Operand::Type::memory;
    return true;
  }
  if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    out->type = Operand::Type::imm;
    out->imm = op.imm.value.u;  // sign-extended by Zydis where the encoding says so
    return true;
  }
  out->type = Operand::Type::gpr;
  return op.type == ZYDIS_OPERAND_TYPE_REGISTER && to_gpr(op.reg.value, &out->reg);
}

// add/sub/and/or/xor/cmp/test with one memory operand, inc/dec/not/neg of memory.
DecodeStatus decode_alu(const ZydisDecodedInstruction &insn, const ZydisDecodedOperand *ops,
                        AluOp op, DecodedAccess *a) {
  const bool unary = op == AluOp::inc || op == AluOp::dec || op == AluOp::not_ || op == AluOp::neg;
  // A locked RMW promises atomicity that a read and a write over the network cannot give.
  if ((insn.attributes & ZYDIS_ATTRIB_HAS_LOCK) != 0) return DecodeStatus::unsupported;
  if (insn.operand_count_visible != (unary ? 1 : 2)) return DecodeStatus::unsupported;
  a->kind = DecodedAccess::Kind::alu;
  a->alu = op;
  a->src.type = Operand::Type::none;
  if (!to_operand(ops[0], &a->dst) || a->dst.type == Operand::Type::imm) {
    return DecodeStatus::unsupported;
  }
  if (!unary && !to_operand(ops[1], &a->src)) return DecodeStatus::unsupported;
  const bool dst_mem = a->dst.type == Operand::Type::memory;
  const bool src_mem = a->src.type == Operand::Type::memory;
  if (dst_mem == src_mem) return DecodeStatus::unsupported;  // the fault came from memory
  a->size = (dst_mem ? ops[0] : ops[1]).size / 8;
  const Operand &other = dst_mem ? a->src : a->dst;
  if (other.type == Operand::Type::gpr && other.reg.width != a->size) {
    return DecodeStatus::unsupported;
  }
  if (a->src.type == Operand::Type::imm) a->src.imm = truncate(a->src.imm, a->size);
  return DecodeStatus::ok;
}

}  // namespace

DecodeStatus decode_access(uintptr_t rip, DecodedAccess *out, DecodeFailure *why) {
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(decode_at(rip, &insn, ops))) return DecodeStatus::undecodable;
  why->mnemonic = ZydisMnemonicGetString(insn.mnemonic);
  why->locked = (insn.attributes & ZYDIS_ATTRIB_HAS_LOCK) != 0;

  DecodedAccess a{};
  a.length = insn.length;
  DecodeStatus st;
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD: {
      if (insn.operand_count_visible != 2) return DecodeStatus::unsupported;
      a.extend = insn.mnemonic == ZYDIS_MNEMONIC_MOV     ? Extend::none
                 : insn.mnemonic == ZYDIS_MNEMONIC_MOVZX ? Extend::zero
                                                         : Extend::sign;
      st = decode_mov(ops[0], ops[1], a.extend, &a);
      break;
    }
    case ZYDIS_MNEMONIC_ADD:
      st = decode_alu(insn, ops, AluOp::add, &a);
      break;
    case ZYDIS_MNEMONIC_SUB:
      st = decode_alu(insn, ops, AluOp::sub, &a);
      break;
    case ZYDIS_MNEMONIC_AND:
      st = decode_alu(insn, ops, AluOp::and_, &a);
      break;
    case ZYDIS_MNEMONIC_OR:
      st = decode_alu(insn, ops, AluOp::or_, &a);
      break;
    case ZYDIS_MNEMONIC_XOR:
      st = decode_alu(insn, ops, AluOp::xor_, &a);
      break;
    case ZYDIS_MNEMONIC_CMP:
      st = decode_alu(insn, ops, AluOp::cmp, &a);
      break;
    case ZYDIS_MNEMONIC_TEST:
      st = decode_alu(insn, ops, AluOp::test, &a);
      break;
    case ZYDIS_MNEMONIC_INC:
      st = decode_alu(insn, ops, AluOp::inc, &a);
      break;
    case ZYDIS_MNEMONIC_DEC:
      st = decode_alu(insn, ops, AluOp::dec, &a);
      break;
    case ZYDIS_MNEMONIC_NOT:
      st = decode_alu(insn, ops, AluOp::not_, &a);
      break;
    case ZYDIS_MNEMONIC_NEG:
      st = decode_alu(insn, ops, AluOp::neg, &a);
      break;
    default:
      return DecodeStatus::unsupported;
  }
  if (st != DecodeStatus::ok) return st;
  if (a.size != 1 && a.size != 2 && a.size != 4 && a.size != 8) return DecodeStatus::unsupported;
  *out = a;
  return DecodeStatus::ok;
}

}  // namespace ferry::trap::detail
