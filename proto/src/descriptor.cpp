// Checks and copies of descriptors that come from untrusted memory.
#include "ferry/proto/descriptor.h"

#include <cstring>

namespace ferry::proto {

Status check_header(const Descriptor &d) {
  if (d.hdr.version != kProtoVersion) [[unlikely]]
    return Status::kBadVersion;
  if (d.hdr.kind != static_cast<uint8_t>(Kind::kSealed) &&
      d.hdr.kind != static_cast<uint8_t>(Kind::kHandshake)) [[unlikely]]
    return Status::kBadKind;
  return Status::kOk;
}

void copy_from_untrusted(Descriptor &dst, const volatile void *src) {
  // Each byte of the shared slot is read exactly once; every later check looks at dst only.
  auto addr = reinterpret_cast<uintptr_t>(src);
  if ((addr & 7) == 0) [[likely]] {
    const volatile uint64_t *s = static_cast<const volatile uint64_t *>(src);
    uint64_t words[kDescriptorSize / 8];
    for (size_t i = 0; i < kDescriptorSize / 8; ++i) words[i] = s[i];
    std::memcpy(&dst, words, kDescriptorSize);
  } else {
    const volatile uint8_t *s = static_cast<const volatile uint8_t *>(src);
    uint8_t bytes[kDescriptorSize];
    for (size_t i = 0; i < kDescriptorSize; ++i) bytes[i] = s[i];
    std::memcpy(&dst, bytes, kDescriptorSize);
  }
}

}  // namespace ferry::proto
