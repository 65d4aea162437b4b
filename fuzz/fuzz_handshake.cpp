// libFuzzer target: handshake traffic from the untrusted data plane. The input is cut into
// 64-byte kHandshake descriptors for HandshakeAssembler; every message it completes goes to
// device_handshake and to a guest's finish(). The raw input is also handed to both directly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "ferry/proto/handshake.h"
#include "fuzz_support.h"

using namespace ferry::proto;

namespace {

// The PSK and device id the seed corpus was made with.
Psk fixed_psk() {
  return ferry::fuzz::fixed_psk(0xa0);
}
constexpr uint32_t kDeviceId = 0xed;
constexpr uint32_t kGuestId = 1;

std::optional<Psk> lookup(uint32_t id, uint32_t guest) {
  if (id == kDeviceId && guest == kGuestId) return fixed_psk();
  return std::nullopt;
}

void feed(std::span<const uint8_t> msg, GuestHandshake &guest) {
  DeviceHandshakeResult r = device_handshake(msg, lookup);
  if (r.answer.empty()) std::abort();  // always an Accept or a Reject to send back
  if (r.secrets && r.secrets->streams.size() != r.secrets->n_streams()) std::abort();
  std::string error;
  std::optional<SessionSecrets> s = guest.finish(msg, error);
  if (s) std::abort();  // nobody without the PSK can make an Accept for this guest's Hello
  if (error.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static GuestHandshake guest(fixed_psk(), SessionParams{}, kDeviceId, kGuestId,
                              DmaGeometry{4096, 1024, 0x1000000});
  HandshakeAssembler assembler;
  for (size_t off = 0; off + kDescriptorSize <= size; off += kDescriptorSize) {
    Descriptor d;
    std::memcpy(&d, data + off, sizeof(d));
    if (assembler.add(d)) {
      std::span<const uint8_t> m = assembler.message();
      if (m.empty() || m.size() > 8 * kHandshakeFragment) std::abort();
      feed(m, guest);
    }
  }
  feed({data, size}, guest);
  return 0;
}
