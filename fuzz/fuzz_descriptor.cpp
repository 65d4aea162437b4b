// libFuzzer target: a descriptor (and a DMA chunk) read from untrusted shared memory, opened
// with a fixed session key. Input: byte 0 picks the security level, the next 64 bytes are
// the descriptor slot; if at least 48 more bytes follow, they are a ChunkAad (32), a tag (16)
// and the sealed chunk (the rest).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "ferry/proto/descriptor.h"
#include "ferry/proto/session.h"
#include "fuzz_support.h"

using namespace ferry::proto;

namespace {

// The fixed session the seed corpus in fuzz/corpus/fuzz_descriptor/ was sealed with.
SessionSecrets fixed_secrets(Security sec) {
  SessionParams p;
  p.security = sec;
  p.key_bytes = 32;
  p.n_queues = 2;
  p.channel = 1;
  return ferry::fuzz::fixed_secrets(p, 1, 0x40, 1, 0xf0000000u);
}

struct Sessions {
  std::unique_ptr<Aead> aead = Aead::create_best();
  SessionSecrets secrets[3] = {fixed_secrets(Security::kNone), fixed_secrets(Security::kIntegrity),
                               fixed_secrets(Security::kConfidential)};
  SessionCrypto crypto[3] = {{*aead, secrets[0]}, {*aead, secrets[1]}, {*aead, secrets[2]}};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static Sessions s;
  if (size < 1 + kDescriptorSize) return 0;
  SessionCrypto &crypto = s.crypto[data[0] % 3];
  auto dir = static_cast<Dir>((data[0] >> 2) & 1);

  std::vector<uint8_t> slot(data + 1, data + 1 + kDescriptorSize);  // the "shared" slot
  Descriptor d;
  copy_from_untrusted(d, slot.data());
  if (std::memcmp(&d, slot.data(), kDescriptorSize) != 0) std::abort();
  Status hs = check_header(d);
  Status st = crypto.open(dir, d);
  if (hs != Status::kOk && st == Status::kOk) std::abort();  // open checks the header too
  if (st != Status::kOk) {
    static const DescBody zero{};
    if (std::memcmp(&d.body, &zero, sizeof(zero)) != 0) std::abort();  // nothing leaks
  }

  size_t rest = size - 1 - kDescriptorSize;
  if (rest >= sizeof(ChunkAad) + kTagSize) {
    const uint8_t *p = data + 1 + kDescriptorSize;
    ChunkAad aad;
    std::memcpy(&aad, p, sizeof(aad));
    uint8_t tag[kTagSize];
    std::memcpy(tag, p + sizeof(aad), kTagSize);
    size_t len = rest - sizeof(aad) - kTagSize;
    std::vector<uint8_t> sealed(p + sizeof(aad) + kTagSize, p + rest), plain(len, 0xaa);
    Status cs = crypto.open_chunk(dir, aad, sealed.data(), plain.data(), len, tag);
    if (cs != Status::kOk)
      for (uint8_t b : plain)
        if (b != 0) std::abort();
  }
  return 0;
}
