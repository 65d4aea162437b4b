// Private to guest-shim/trap: the range table, the instruction decoder and the handler.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "trap/trap.h"

namespace ferry::trap::detail {

// ---- range table (range_table.cpp) ----

// One trapped range. The fields are written only while the slot is unpublished and no
// handler holds it, so a handler that holds the slot and saw it published reads them freely.
struct TrappedRange {
  uintptr_t reserve_start;  // the reservation: guard page, BAR pages, guard page
  size_t reserve_len;
  uintptr_t bar_base;  // what map_trapped_range handed out
  size_t bar_len;      // what the caller asked for (accesses beyond it abort)
  MmioBackend *backend;
  unsigned bar;
};

struct RangeSlot {
  std::atomic<bool> published{false};
  std::atomic<unsigned> in_flight{0};  // handlers currently using `range`
  TrappedRange range{};
};

// Lock-free, async-signal-safe: finds the range whose reservation holds `addr` and pins it
// until the returned holder is destroyed (unmap waits for it).
class RangeHold {
 public:
  RangeHold() = default;
  explicit RangeHold(RangeSlot *slot) : slot_(slot) {}
  RangeHold(const RangeHold &) = delete;
  RangeHold &operator=(const RangeHold &) = delete;
  ~RangeHold() {
    if (slot_ != nullptr) slot_->in_flight.fetch_sub(1, std::memory_order_release);
  }
  explicit operator bool() const { return slot_ != nullptr; }
  const TrappedRange &operator*() const { return slot_->range; }
  const TrappedRange *operator->() const { return &slot_->range; }

 private:
  RangeSlot *slot_ = nullptr;
};

RangeSlot *find_and_hold(uintptr_t addr);

// Installs the SIGSEGV handler once (handler.cpp). Called with the table's mutex held.
// Returns 0 or -errno.
int install_handler_once();

// ---- decoder (decode.cpp) ----

// A general-purpose register as the handler sees it in the ucontext.
struct GprRef {
  int greg;        // REG_RAX .. REG_R15 index into mcontext gregs
  unsigned width;  // bytes of the register operand: 1, 2, 4 or 8
  bool high8;      // AH, CH, DH or BH
};

enum class Extend { none, zero, sign };

// Read-modify-write and compare forms that compilers fold volatile accesses into (clang emits
// `orl $4, (%rdi)` for `*reg |= 4` and `testl $1, 0x20(%rdi)` for `if (*reg & 1)`).
enum class AluOp { add, sub, and_, or_, xor_, cmp, test, inc, dec, not_, neg };

struct Operand {
  enum class Type { none, memory, gpr, imm } type;
  GprRef reg;    // type gpr
  uint64_t imm;  // type imm: the value, truncated to the access size
};

struct DecodedAccess {
  enum class Kind { load, store, alu } kind;
  AluOp alu;        // kind alu
  Extend extend;    // kind load
  unsigned size;    // bytes of the memory access (and of an ALU operation): 1, 2, 4 or 8
  unsigned length;  // instruction length in bytes
  Operand dst;      // load: gpr; store: memory; alu: the first operand (memory or gpr)
  Operand src;      // load: memory; store: gpr or imm; alu: the second operand or none
};

enum class DecodeStatus { ok, undecodable, unsupported };

// What a refused instruction was, for the message.
struct DecodeFailure {
  const char *mnemonic = nullptr;  // null when the bytes did not decode at all
  bool locked = false;
};

// Decodes the instruction at `rip` (which faulted on a data access, so all of its bytes are
// mapped) into an emulatable access; otherwise fills *why. Async-signal-safe. init_decoder()
// must have run.
DecodeStatus decode_access(uintptr_t rip, DecodedAccess *out, DecodeFailure *why);
void init_decoder();

// ---- ALU emulation (alu.cpp) ----

struct AluResult {
  uint64_t value;       // the result, truncated to the operation size
  uint64_t flags;       // the arithmetic flags it produced (EFLAGS bit positions)
  uint64_t flags_mask;  // which EFLAGS bits the instruction defines
  bool writes_back;     // false for cmp and test
};

// Runs `op` natively at `size` bytes on a and b (b unused for unary operations), so the flags
// are the CPU's own, including the ones the manual leaves undefined.
AluResult run_alu(AluOp op, unsigned size, uint64_t a, uint64_t b);

// ---- async-signal-safe messages (handler.cpp) ----

// Appends to a fixed buffer and writes it to stderr with write(2).
class SignalSafeMessage {
 public:
  SignalSafeMessage &text(const char *s);
  SignalSafeMessage &hex(uint64_t v);
  SignalSafeMessage &dec(uint64_t v);
  [[noreturn]] void abort_with();

 private:
  char buf_[512];
  size_t len_ = 0;
};

}  // namespace ferry::trap::detail
