// Trap-and-emulate MMIO: plain loads and stores to a BAR become calls to an MmioBackend.
//
// map_trapped_range() reserves an inaccessible (PROT_NONE) address range that stands for one
// BAR. A load or store to it faults; the SIGSEGV handler decodes the faulting instruction
// (Zydis), calls the backend with the BAR offset and access size, puts a load's result into
// the destination register (zero- or sign-extended as the instruction says) and resumes after
// the instruction. This is what lets an unmodified UIO/VFIO-style driver, which touches its
// registers through a pointer, run against a network-attached device (issue 9).
//
// Emulated instructions (1, 2, 4 and 8-byte accesses, any addressing mode incl. RIP-relative):
//   - mov reg <- mem and mem <- reg (every GPR incl. r8-r15, the 8/16-bit forms, AH/BH/CH/DH),
//     mov mem <- imm, movzx / movsx from a byte or word, movsxd, mov with a 64-bit absolute
//     address (A0-A3);
//   - what compilers fold volatile accesses into (clang does: `orl $4, (%rdi)` for
//     `*reg |= 4`, `testl $1, 0x20(%rdi)` for `if (*reg & 1)`): add, sub, and, or, xor with a
//     memory destination or source, cmp and test, inc, dec, not, neg of memory. A
//     read-modify-write becomes one backend read and one backend write, which is what the
//     volatile expression means; the result and the flags are computed by the CPU itself.
// Anything else that touches a trapped range (a lock prefix, adc, xchg, bt, SSE/AVX loads,
// string instructions, ...) writes "ferry trap: unsupported instruction '<mnemonic>' at rip
// <address> ..." to stderr and aborts: never a silent wrong result. So does an access that
// does not lie entirely inside the BAR (a guard page on each side catches accesses that
// straddle either end).
//
// Signals. The handler is installed once, by the first map_trapped_range(), with sigaction;
// faults outside every trapped range are passed to the handler that was installed before
// (ASan's, a crash reporter's, or the default action). A handler installed later must chain
// to ours for trapped ranges to keep working. Threads must not block SIGSEGV.
//
// Backend contract. The backend runs inside the SIGSEGV handler, on the stack of the thread
// whose instruction faulted, synchronously at that instruction: the thread was executing the
// driver's load or store, not backend code, so the backend may take its own locks as long as
// the driver never touches a trapped range while holding them (and no asynchronous signal
// handler touches a trapped range). It must be thread-safe: several threads may fault on the
// same range at once and each calls the backend concurrently. It must not throw. errno is
// preserved across the handler.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry::trap {

// The device end of a trapped range. `size` is 1, 2, 4 or 8; `off + size` never exceeds the
// range's length.
class MmioBackend {
 public:
  virtual ~MmioBackend() = default;
  // Returns the register value in the low `size` bytes; higher bytes are ignored.
  virtual uint64_t read(unsigned bar, uint64_t off, unsigned size) = 0;
  // `value` holds the stored bytes in its low `size` bytes, the rest is zero.
  virtual void write(unsigned bar, uint64_t off, unsigned size, uint64_t value) = 0;
};

// How many ranges can be trapped at once (process-wide).
inline constexpr unsigned kMaxTrappedRanges = 64;

// Reserves a trapped range of `len` bytes (rounded up to whole pages; accesses beyond `len`
// abort) whose accesses go to `backend` as BAR `bar`, and sets *addr to its start (page
// aligned). The backend is borrowed: it must outlive the range. Returns 0, -EINVAL (null
// backend or addr, len 0), -ENOSPC (kMaxTrappedRanges ranges already mapped), -ENOMEM (no
// address space), or the -errno of a failed sigaction.
int map_trapped_range(MmioBackend *backend, unsigned bar, size_t len, volatile void **addr);

// Releases a range returned by map_trapped_range(): waits until no thread is inside its
// backend, then returns the address space. Returns 0, or -EINVAL if `addr` is not the start
// of a trapped range. Accessing the range afterwards is a use-after-unmap (SIGSEGV).
int unmap_trapped_range(volatile void *addr);

}  // namespace ferry::trap
