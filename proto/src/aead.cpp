// Names, nonces, wiping and the choice of implementation; the AEADs themselves live in
// aead_ipsecmb.cpp and aead_openssl.cpp.
#include "ferry/proto/aead.h"

#include <openssl/crypto.h>

#include <stdexcept>

#include "aead_internal.h"

namespace ferry::proto {

std::string_view security_name(Security s) {
  switch (s) {
    case Security::kNone:
      return "none";
    case Security::kIntegrity:
      return "integrity";
    case Security::kConfidential:
      return "confidential";
  }
  return "unknown";
}

std::string_view impl_name(AeadImpl i) {
  switch (i) {
    case AeadImpl::kIpsecMb:
      return "ipsecmb";
    case AeadImpl::kOpenSsl:
      return "openssl";
  }
  return "unknown";
}

Nonce Nonce::make(uint32_t salt, uint64_t seq) {
  Nonce n;
  for (int i = 0; i < 4; ++i) n.bytes[i] = static_cast<uint8_t>(salt >> (24 - 8 * i));
  for (int i = 0; i < 8; ++i) n.bytes[4 + i] = static_cast<uint8_t>(seq >> (56 - 8 * i));
  return n;
}

void secure_wipe(void *p, size_t n) {
  if (p != nullptr && n != 0) OPENSSL_cleanse(p, n);
}

std::unique_ptr<Aead> Aead::create(AeadImpl impl) {
  switch (impl) {
    case AeadImpl::kIpsecMb:
      return detail::make_ipsecmb_aead();
    case AeadImpl::kOpenSsl:
      return detail::make_openssl_aead();
  }
  throw std::invalid_argument("unknown AEAD implementation");
}

std::unique_ptr<Aead> Aead::create_best() {
  return create(ipsecmb_usable() ? AeadImpl::kIpsecMb : AeadImpl::kOpenSsl);
}

}  // namespace ferry::proto
