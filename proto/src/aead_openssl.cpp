// AES-GCM with OpenSSL EVP: the independent reference the tests check ipsec-mb against, and
// the fallback on CPUs that ipsec-mb cannot serve.
//
// Thread rule: an OpenSslKey owns its EVP_CIPHER_CTXs (the key schedule lives in them and is
// set up once, in expand()), so a key - like the Aead that expanded it - is used by one thread
// at a time. Per message only the IV is set again.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <cstring>
#include <stdexcept>

#include "aead_internal.h"

namespace ferry::proto {
namespace {

constexpr int kTagBytes = 16;
constexpr size_t kMaxUpdate = size_t{1} << 30;  // EVP lengths are int

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX *c) const { EVP_CIPHER_CTX_free(c); }  // cleanses the key
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

CtxPtr make_ctx(const EVP_CIPHER *cipher, std::span<const uint8_t> key, int enc) {
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_CipherInit_ex(ctx.get(), cipher, nullptr, key.data(), nullptr, enc) != 1)
    throw std::runtime_error("OpenSSL: cannot set up an AES-GCM context");
  return ctx;
}

class OpenSslKey final : public AeadKey {
 public:
  OpenSslKey(std::span<const uint8_t> key)
      : bytes_(key.size()),
        enc_(make_ctx(key.size() == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(), key, 1)),
        dec_(make_ctx(key.size() == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(), key, 0)) {}
  size_t key_bytes() const override { return bytes_; }
  EVP_CIPHER_CTX *enc() const { return enc_.get(); }
  EVP_CIPHER_CTX *dec() const { return dec_.get(); }

 private:
  size_t bytes_;
  CtxPtr enc_, dec_;
};

// Feeds len bytes through EVP_CipherUpdate (out == nullptr: as AAD). False on error.
bool update(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len) {
  while (len > 0) {
    size_t n = len < kMaxUpdate ? len : kMaxUpdate;
    int outl = 0;
    if (EVP_CipherUpdate(ctx, out, &outl, in, static_cast<int>(n)) != 1) return false;
    in += n;
    if (out != nullptr) out += n;
    len -= n;
  }
  return true;
}

class OpenSslAead final : public detail::AeadMac2 {
 public:
  AeadImpl impl() const override { return AeadImpl::kOpenSsl; }

  std::unique_ptr<AeadKey> expand(std::span<const uint8_t> key) override {
    if (key.size() != 16 && key.size() != 32)
      throw std::invalid_argument("AES key must be 16 or 32 bytes, got " +
                                  std::to_string(key.size()));
    return std::make_unique<OpenSslKey>(key);
  }

  void seal(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> aad, const uint8_t *in,
            uint8_t *out, size_t len, uint8_t *tag) override {
    EVP_CIPHER_CTX *c = static_cast<const OpenSslKey &>(key).enc();
    int outl = 0;
    uint8_t fin[16];  // GCM's final step writes nothing
    bool ok = EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce.bytes) == 1 &&
              update(c, nullptr, aad.data(), aad.size()) && update(c, out, in, len) &&
              EVP_EncryptFinal_ex(c, fin, &outl) == 1 &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) == 1;
    if (!ok) [[unlikely]] {
      // Cannot happen with a key expand() accepted; leave nothing a receiver would accept.
      if (len != 0) std::memset(out, 0, len);
      std::memset(tag, 0, kTagBytes);
    }
  }

  bool open(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> aad, const uint8_t *in,
            uint8_t *out, size_t len, const uint8_t *tag) override {
    EVP_CIPHER_CTX *c = static_cast<const OpenSslKey &>(key).dec();
    int outl = 0;
    uint8_t fin[16];
    uint8_t expected[kTagBytes];
    std::memcpy(expected, tag, kTagBytes);
    // EVP_DecryptFinal_ex compares the tag with CRYPTO_memcmp.
    bool ok = EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce.bytes) == 1 &&
              update(c, nullptr, aad.data(), aad.size()) && update(c, out, in, len) &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, kTagBytes, expected) == 1 &&
              EVP_DecryptFinal_ex(c, fin, &outl) == 1;
    if (!ok && len != 0) std::memset(out, 0, len);
    return ok;
  }

  void mac2(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> a,
            std::span<const uint8_t> b, uint8_t *tag) override {
    if (!gmac2(key, nonce, a, b, tag)) [[unlikely]]
      std::memset(tag, 0, kTagBytes);
  }

  bool verify2(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> a,
               std::span<const uint8_t> b, const uint8_t *tag) override {
    uint8_t computed[kTagBytes];
    return gmac2(key, nonce, a, b, computed) && CRYPTO_memcmp(computed, tag, kTagBytes) == 0;
  }

 private:
  static bool gmac2(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> a,
                    std::span<const uint8_t> b, uint8_t *tag) {
    EVP_CIPHER_CTX *c = static_cast<const OpenSslKey &>(key).enc();
    int outl = 0;
    uint8_t fin[16];
    return EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce.bytes) == 1 &&
           update(c, nullptr, a.data(), a.size()) && update(c, nullptr, b.data(), b.size()) &&
           EVP_EncryptFinal_ex(c, fin, &outl) == 1 &&
           EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) == 1;
  }
};

}  // namespace

namespace detail {
std::unique_ptr<Aead> make_openssl_aead() {
  return std::make_unique<OpenSslAead>();
}
}  // namespace detail

}  // namespace ferry::proto
