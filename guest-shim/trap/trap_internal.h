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

struct DecodedAccess {
  bool is_store;
  unsigned size;    // bytes of the memory access: 1, 2, 4 or 8
  unsigned length;  // instruction length in bytes
  GprRef reg;       // load: destination; store: source unless store_imm
  bool store_imm;
  uint64_t imm;  // store_imm: the value, truncated to `size`
  Extend extend;
};

enum class DecodeStatus { ok, undecodable, unsupported };

// Decodes the instruction at `rip` (which faulted on a data access, so all of its bytes are
// mapped) into an emulatable access. On `unsupported`, *mnemonic names the instruction.
// Async-signal-safe. init_decoder() must have run.
DecodeStatus decode_access(uintptr_t rip, DecodedAccess *out, const char **mnemonic);
void init_decoder();

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
