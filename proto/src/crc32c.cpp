// CRC32C with the SSE4.2 instruction when the build targets it, a table otherwise.
#include "ferry/proto/crc32c.h"

#include <array>
#include <cstring>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

namespace ferry::proto {

namespace {
[[maybe_unused]] constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}
[[maybe_unused]] constexpr std::array<uint32_t, 256> kTable = make_table();
}  // namespace

uint32_t crc32c(const void *data, size_t len, uint32_t crc) {
  const auto *p = static_cast<const uint8_t *>(data);
  crc = ~crc;
#if defined(__SSE4_2__)
  while (len >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    crc = static_cast<uint32_t>(_mm_crc32_u64(crc, v));
    p += 8;
    len -= 8;
  }
  while (len-- > 0) crc = _mm_crc32_u8(crc, *p++);
#else
  while (len-- > 0) crc = kTable[(crc ^ *p++) & 0xff] ^ (crc >> 8);
#endif
  return ~crc;
}

}  // namespace ferry::proto
