// Private to proto/: the factories of the two AEAD implementations, and the one operation
// SessionCrypto needs beyond the public Aead interface.
#pragma once

#include <memory>
#include <span>

#include "ferry/proto/aead.h"

namespace ferry::proto::detail {

// AES-GMAC over two pieces of data, a || b, without copying them together: the tag AES-GCM
// gives for AAD = a || b and an empty plaintext. Integrity-level DMA chunks use it with
// a = ChunkAad and b = the chunk, so nothing is hidden and everything is authenticated.
class AeadMac2 : public Aead {
 public:
  virtual void mac2(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> a,
                    std::span<const uint8_t> b, uint8_t *tag) = 0;
  // Constant-time comparison with `tag`.
  virtual bool verify2(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> a,
                       std::span<const uint8_t> b, const uint8_t *tag) = 0;
};

std::unique_ptr<Aead> make_ipsecmb_aead();
std::unique_ptr<Aead> make_openssl_aead();

}  // namespace ferry::proto::detail
