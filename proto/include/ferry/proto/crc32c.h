// CRC32C (Castagnoli, reflected polynomial 0x82f63b78), as iSCSI, ext4 and NVMe use it: the
// frame check sequence (frame.h) and the accelerator model's job checksum.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry::proto {

// CRC32C of len bytes, continuing from `crc` (0 to start). Uses SSE4.2 when the CPU has it.
uint32_t crc32c(const void *data, size_t len, uint32_t crc = 0);

}  // namespace ferry::proto
