// CRC32C with the SSE4.2 instruction when the CPU running it has one (chosen once, at load),
// a table otherwise: the build does not assume the build host's CPU (-Dnative, meson.build).
#include "ferry/proto/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace ferry::proto {

namespace {
constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kTable = make_table();

uint32_t crc32c_table(const uint8_t *p, size_t len, uint32_t crc) {
  while (len-- > 0) crc = kTable[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(const uint8_t *p, size_t len,
                                                        uint32_t crc) {
  while (len >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    crc = static_cast<uint32_t>(_mm_crc32_u64(crc, v));
    p += 8;
    len -= 8;
  }
  while (len-- > 0) crc = _mm_crc32_u8(crc, *p++);
  return crc;
}

bool cpu_has_sse42() {
  __builtin_cpu_init();  // may run before the compiler's own CPU probe (static initialisation)
  return __builtin_cpu_supports("sse4.2");
}
const bool kSse42 = cpu_has_sse42();
#endif
}  // namespace

uint32_t crc32c(const void *data, size_t len, uint32_t crc) {
  const auto *p = static_cast<const uint8_t *>(data);
#if defined(__x86_64__)
  if (kSse42) return ~crc32c_sse42(p, len, ~crc);
#endif
  return ~crc32c_table(p, len, ~crc);
}

}  // namespace ferry::proto
