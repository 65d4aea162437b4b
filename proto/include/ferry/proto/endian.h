// Fixed-width integers with their byte order in the type. Wire structs use these, never raw
// integers, so a field cannot be read without the conversion.
#pragma once

#include <bit>
#include <cstdint>

namespace ferry::proto {

template <typename T>
constexpr T byteswap(T v) {
  if constexpr (sizeof(T) == 1) return v;
  if constexpr (sizeof(T) == 2) return static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(v)));
  if constexpr (sizeof(T) == 4) return static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(v)));
  if constexpr (sizeof(T) == 8) return static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(v)));
}

// Stored in `Order`; get() and set() convert to and from host order.
template <typename T, std::endian Order>
struct [[gnu::packed]] Endian {
  T raw;
  constexpr T get() const { return Order == std::endian::native ? raw : byteswap(raw); }
  constexpr void set(T v) { raw = Order == std::endian::native ? v : byteswap(v); }
};

using le16 = Endian<uint16_t, std::endian::little>;
using le32 = Endian<uint32_t, std::endian::little>;
using le64 = Endian<uint64_t, std::endian::little>;
using be16 = Endian<uint16_t, std::endian::big>;
using be32 = Endian<uint32_t, std::endian::big>;
using be64 = Endian<uint64_t, std::endian::big>;

static_assert(sizeof(le64) == 8 && alignof(le64) == 1);

}  // namespace ferry::proto
