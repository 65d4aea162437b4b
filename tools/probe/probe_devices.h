// What ferry-probe knows of the two device models: how to identify them, which registers to
// time, and short workloads whose every result is checked. Register maps:
// device-node/include/ferry/device/edu.h and accel.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ferry/guest.h"

namespace probe {

inline constexpr uint64_t kNoRegister = ~0ull;
enum class Kind { kUnknown, kEdu, kAccel };

struct Device {
  Kind kind = Kind::kUnknown;
  uint64_t read_offset(uint64_t size) const;  // a register readable with `size` bytes
  uint64_t read_expect(uint64_t size) const;  // what it reads back
  uint64_t scratch_offset() const;            // a register a posted write can target
  uint64_t scratch_expect(uint64_t size, uint64_t last_written) const;
};

// Reads the id registers (and prepares the 8-byte read register on edu).
Device identify(ferry_dev *dev);
uint64_t read(ferry_dev *dev, uint64_t size, uint64_t off);
void write(ferry_dev *dev, uint64_t size, uint64_t off, uint64_t v);

// One edu DMA of len bytes between the buffer at dma_addr and the device buffer, including the
// sync that makes it visible (sync_for_device before, sync_for_cpu after). 0 or -1.
int edu_dma(ferry_dev *dev, uint64_t dma_addr, uint64_t len, bool to_device);
// Puts a known pattern into the device buffer; checks a from-device transfer brought it.
int edu_fill_device(ferry_dev *dev, uint64_t len);
int edu_check_from_device(ferry_dev *dev, const uint8_t *buf, uint64_t dma_addr, uint64_t len);
// n factorials, each waited for by interrupt and checked.
int edu_factorials(ferry_dev *dev, uint64_t n);
// `jobs` CRC32C+copy items of `size` bytes at queue depth `qd`; every CRC and copy checked.
int accel_jobs(ferry_dev *dev, uint64_t jobs, uint32_t qd, uint64_t size, double &jobs_per_s);

}  // namespace probe
