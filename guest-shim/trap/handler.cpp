// The SIGSEGV handler: emulates a faulting access to a trapped range, chains anything else.
#include <signal.h>
#include <sys/ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "trap/trap_internal.h"

namespace ferry::trap::detail {
namespace {

struct sigaction g_previous;  // written once, before our handler can run
bool g_installed = false;     // guarded by the table mutex

uint64_t mask_bytes(uint64_t v, unsigned size) {
  return size == 8 ? v : v & ((uint64_t{1} << (size * 8)) - 1);
}

uint64_t sign_extend(uint64_t v, unsigned size) {
  const unsigned shift = 64 - size * 8;
  return static_cast<uint64_t>(static_cast<int64_t>(v << shift) >> shift);
}

uint64_t read_gpr(const greg_t *gregs, const GprRef &r) {
  const auto v = static_cast<uint64_t>(gregs[r.greg]);
  return r.high8 ? (v >> 8) & 0xff : v;
}

// x86 register-write semantics: a 32-bit write zeroes bits 63:32, 8 and 16-bit writes keep
// the bits they do not cover.
void write_gpr(greg_t *gregs, const GprRef &r, uint64_t v) {
  auto old = static_cast<uint64_t>(gregs[r.greg]);
  uint64_t now;
  if (r.high8) {
    now = (old & ~uint64_t{0xff00}) | ((v & 0xff) << 8);
  } else if (r.width == 8) {
    now = v;
  } else if (r.width == 4) {
    now = v & 0xffffffff;
  } else {
    const uint64_t keep = r.width == 2 ? ~uint64_t{0xffff} : ~uint64_t{0xff};
    now = (old & keep) | (v & ~keep);
  }
  gregs[r.greg] = static_cast<greg_t>(now);
}

[[noreturn]] void die_unsupported(const DecodeFailure &why, uintptr_t rip, uintptr_t addr,
                                  const TrappedRange &r) {
  SignalSafeMessage m;
  if (why.mnemonic != nullptr) {
    m.text("ferry trap: unsupported instruction '").text(why.locked ? "lock " : "");
    m.text(why.mnemonic).text("'");
  } else {
    m.text("ferry trap: undecodable instruction");
  }
  m.text(" at rip 0x").hex(rip).text(" accessing BAR ").dec(r.bar).text(" (fault address 0x");
  m.hex(addr).text("); emulated: mov/movzx/movsx/movsxd with a GPR or an immediate, and ");
  m.text("unlocked add/sub/and/or/xor/cmp/test/inc/dec/not/neg\n").abort_with();
}

[[noreturn]] void die_outside(const DecodedAccess &a, uintptr_t rip, uintptr_t addr,
                              const TrappedRange &r) {
  SignalSafeMessage m;
  m.text("ferry trap: ").dec(a.size).text("-byte access at rip 0x").hex(rip);
  m.text(" to 0x").hex(addr).text(" is not inside BAR ").dec(r.bar).text(" [0x");
  m.hex(r.bar_base).text(", 0x").hex(r.bar_base + r.bar_len).text(")");
  if (addr >= r.bar_base && addr < r.bar_base + r.bar_len) m.text(": it crosses the end");
  m.text("\n").abort_with();
}

uint64_t operand_value(const Operand &op, uint64_t mem, const greg_t *gregs) {
  switch (op.type) {
    case Operand::Type::memory:
      return mem;
    case Operand::Type::gpr:
      return read_gpr(gregs, op.reg);
    case Operand::Type::imm:
      return op.imm;
    case Operand::Type::none:
      break;
  }
  return 0;
}

// A folded read-modify-write (`or [m], imm`), a compare (`test [m], imm`) or an ALU operation
// with a memory source (`add reg, [m]`): one backend read, the operation, then the write-back
// to memory (one backend write) or to the register, and the flags. A volatile `*reg |= 4`
// means exactly this read and this write.
void emulate_alu(const DecodedAccess &a, const TrappedRange &r, uint64_t off, greg_t *gregs) {
  const uint64_t mem = mask_bytes(r.backend->read(r.bar, off, a.size), a.size);
  const AluResult res =
      run_alu(a.alu, a.size, operand_value(a.dst, mem, gregs), operand_value(a.src, mem, gregs));
  if (res.writes_back) {
    if (a.dst.type == Operand::Type::memory) {
      r.backend->write(r.bar, off, a.size, res.value);
    } else {
      write_gpr(gregs, a.dst.reg, res.value);
    }
  }
  const auto efl = static_cast<uint64_t>(gregs[REG_EFL]);
  gregs[REG_EFL] = static_cast<greg_t>((efl & ~res.flags_mask) | (res.flags & res.flags_mask));
}

// Returns false when `addr` is in no trapped range (the fault is someone else's).
bool emulate(uintptr_t addr, ucontext_t *uc) {
  RangeHold hold(find_and_hold(addr));
  if (!hold) return false;
  const TrappedRange &r = *hold;
  greg_t *gregs = uc->uc_mcontext.gregs;
  const auto rip = static_cast<uintptr_t>(gregs[REG_RIP]);

  DecodedAccess a;
  DecodeFailure why;
  if (decode_access(rip, &a, &why) != DecodeStatus::ok) die_unsupported(why, rip, addr, r);
  // With a guard page before the BAR, the fault address is where the access starts.
  if (addr < r.bar_base || a.size > r.bar_len || addr - r.bar_base > r.bar_len - a.size) {
    die_outside(a, rip, addr, r);
  }
  const uint64_t off = addr - r.bar_base;

  switch (a.kind) {
    case DecodedAccess::Kind::load: {
      uint64_t v = mask_bytes(r.backend->read(r.bar, off, a.size), a.size);
      if (a.extend == Extend::sign) v = sign_extend(v, a.size);
      write_gpr(gregs, a.dst.reg, v);
      break;
    }
    case DecodedAccess::Kind::store: {
      const uint64_t v = a.src.type == Operand::Type::imm ? a.src.imm : read_gpr(gregs, a.src.reg);
      r.backend->write(r.bar, off, a.size, mask_bytes(v, a.size));
      break;
    }
    case DecodedAccess::Kind::alu:
      emulate_alu(a, r, off, gregs);
      break;
  }
  gregs[REG_RIP] = static_cast<greg_t>(rip + a.length);
  return true;
}

void chain(int sig, siginfo_t *info, void *ctx) {
  if (g_previous.sa_flags & SA_SIGINFO) {
    g_previous.sa_sigaction(sig, info, ctx);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default action (a SIGSEGV cannot usefully be ignored): restore it; a real fault then
  // recurs on return and kills the process with the original context, a sent one is re-raised.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGSEGV, &dfl, nullptr);
  if (info->si_code <= 0) raise(SIGSEGV);
}

void on_sigsegv(int sig, siginfo_t *info, void *ctx) {
  const int saved_errno = errno;
  // si_code > 0: raised by the kernel for a fault, so si_addr is meaningful.
  const bool handled = info->si_code > 0 && emulate(reinterpret_cast<uintptr_t>(info->si_addr),
                                                    static_cast<ucontext_t *>(ctx));
  if (!handled) chain(sig, info, ctx);
  errno = saved_errno;
}

}  // namespace

int install_handler_once() {
  if (g_installed) return 0;
  init_decoder();
  struct sigaction sa {};
  sa.sa_sigaction = on_sigsegv;
  // SA_NODEFER: a fault inside the backend (or a backend that itself touches another trapped
  // range) re-enters the handler instead of killing the process without a report.
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &g_previous) != 0) return -errno;
  g_installed = true;
  return 0;
}

SignalSafeMessage &SignalSafeMessage::text(const char *s) {
  while (*s != '\0' && len_ < sizeof(buf_)) buf_[len_++] = *s++;
  return *this;
}

SignalSafeMessage &SignalSafeMessage::hex(uint64_t v) {
  char digits[16];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[v & 0xf];
    v >>= 4;
  } while (v != 0);
  while (n > 0 && len_ < sizeof(buf_)) buf_[len_++] = digits[--n];
  return *this;
}

SignalSafeMessage &SignalSafeMessage::dec(uint64_t v) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0 && len_ < sizeof(buf_)) buf_[len_++] = digits[--n];
  return *this;
}

void SignalSafeMessage::abort_with() {
  size_t done = 0;
  while (done < len_) {
    const ssize_t n = ::write(STDERR_FILENO, buf_ + done, len_ - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  abort();
}

}  // namespace ferry::trap::detail
