// The table of trapped ranges: map/unmap on the control path (under a mutex), lock-free
// lookup from the SIGSEGV handler.
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "trap/trap_internal.h"

namespace ferry::trap {
namespace detail {
namespace {

RangeSlot g_slots[kMaxTrappedRanges];
std::mutex g_table_mutex;  // serialises map and unmap; the handler never takes it

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace

// Dekker-style pairing with unmap: the handler announces itself (in_flight) before it
// checks `published`, unmap unpublishes before it waits for in_flight to drain, both
// seq_cst, so either the handler sees the slot unpublished or unmap sees the handler.
RangeSlot *find_and_hold(uintptr_t addr) {
  for (RangeSlot &slot : g_slots) {
    if (!slot.published.load(std::memory_order_relaxed)) continue;
    slot.in_flight.fetch_add(1, std::memory_order_seq_cst);
    if (slot.published.load(std::memory_order_seq_cst)) {
      const TrappedRange &r = slot.range;
      if (addr >= r.reserve_start && addr - r.reserve_start < r.reserve_len) return &slot;
    }
    slot.in_flight.fetch_sub(1, std::memory_order_release);
  }
  return nullptr;
}

}  // namespace detail

int map_trapped_range(MmioBackend *backend, unsigned bar, size_t len, volatile void **addr) {
  using namespace detail;
  if (backend == nullptr || addr == nullptr || len == 0) return -EINVAL;
  const size_t page = page_size();
  if (len > SIZE_MAX / 2) return -ENOMEM;
  const size_t bar_pages_len = (len + page - 1) / page * page;

  std::lock_guard<std::mutex> lock(g_table_mutex);
  if (int rc = install_handler_once(); rc != 0) return rc;
  RangeSlot *free_slot = nullptr;
  for (RangeSlot &slot : g_slots) {
    if (!slot.published.load(std::memory_order_relaxed)) {
      free_slot = &slot;
      break;
    }
  }
  if (free_slot == nullptr) return -ENOSPC;

  // A guard page on each side: an access that starts just before the BAR or runs past its
  // end faults inside our reservation, so the handler reports it instead of touching
  // whatever memory happens to be adjacent.
  const size_t reserve_len = bar_pages_len + 2 * page;
  void *p =
      mmap(nullptr, reserve_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return -ENOMEM;

  // Unpublished and, after the last unmap's drain, not held by any handler: safe to write.
  const auto start = reinterpret_cast<uintptr_t>(p);
  free_slot->range = TrappedRange{start, reserve_len, start + page, len, backend, bar};
  free_slot->published.store(true, std::memory_order_seq_cst);
  *addr = reinterpret_cast<volatile void *>(start + page);
  return 0;
}

int unmap_trapped_range(volatile void *addr) {
  using namespace detail;
  const auto base = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(g_table_mutex);
  for (RangeSlot &slot : g_slots) {
    if (!slot.published.load(std::memory_order_relaxed) || slot.range.bar_base != base) continue;
    slot.published.store(false, std::memory_order_seq_cst);
    // A handler may be inside the backend (a remote read takes microseconds); wait for it.
    while (slot.in_flight.load(std::memory_order_acquire) != 0) sched_yield();
    munmap(reinterpret_cast<void *>(slot.range.reserve_start), slot.range.reserve_len);
    return 0;
  }
  return -EINVAL;
}

}  // namespace ferry::trap
