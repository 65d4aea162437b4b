// ferry_map_bar's side of the trap engine (guest-shim/trap): the backend that turns a trapped
// load or store into the accessor call of the same size, and the set of a device's trapped
// BARs, released by ferry_close.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "ferry/guest.h"
#include "trap/trap.h"

namespace ferry::guest {

// Each access becomes ferry_ioreadN / ferry_iowriteN of the same size, called on the faulting
// thread: it goes on that thread's queue and sets its ferry_last_error(), so posted writes,
// ordering and errors (a failed read gives all-ones) are the accessor API's, unchanged.
class AccessorBackend final : public trap::MmioBackend {
 public:
  explicit AccessorBackend(ferry_dev *dev) : dev_(dev) {}
  uint64_t read(unsigned bar, uint64_t off, unsigned size) override;
  void write(unsigned bar, uint64_t off, unsigned size, uint64_t value) override;

 private:
  ferry_dev *dev_;
};

// A device's trapped BARs: each mapped at most once, all unmapped on destruction (which waits
// for threads still inside the backend).
class TrappedBars {
 public:
  static constexpr unsigned kBars = 6;

  explicit TrappedBars(ferry_dev *dev) : backend_(dev) {}
  ~TrappedBars();
  TrappedBars(const TrappedBars &) = delete;
  TrappedBars &operator=(const TrappedBars &) = delete;

  // Maps BAR `bar` (< kBars) as a trapped range of `len` bytes, or hands out the range it
  // already has (whose length is the one it was first mapped with). 0 or the -errno of
  // trap::map_trapped_range.
  int map(unsigned bar, size_t len, volatile void *&addr, size_t &mapped_len);

 private:
  struct Mapping {
    volatile void *addr = nullptr;
    size_t len = 0;
  };
  AccessorBackend backend_;
  std::mutex mutex_;
  std::array<Mapping, kBars> bars_{};
};

}  // namespace ferry::guest
