// AES-GCM / AES-GMAC behind one interface, with two implementations: Intel ipsec-mb (the hot
// path) and OpenSSL EVP (the independent reference in tests, and the fallback on CPUs
// without AES-NI). Keys are expanded once, at session set-up; seal/open allocate nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace ferry::proto {

enum class Security : uint8_t {
  kNone = 0,          // baseline only: nothing sealed, nothing checked
  kIntegrity = 1,     // AES-GMAC: everything authenticated, nothing hidden
  kConfidential = 2,  // AES-GCM (default)
};

enum class AeadImpl : uint8_t { kIpsecMb, kOpenSsl };

std::string_view security_name(Security s);
std::string_view impl_name(AeadImpl i);
// True when this CPU runs ipsec-mb's AES-NI code paths.
bool ipsecmb_usable();

// 96-bit GCM nonce: 32-bit salt (big-endian) || 64-bit sequence (big-endian).
struct Nonce {
  uint8_t bytes[12];
  static Nonce make(uint32_t salt, uint64_t seq);
};

// An expanded AES key (16 or 32 bytes of key material). Owned by one session; the
// implementation that expanded it is the only one that may use it. Wipes itself.
class AeadKey {
 public:
  virtual ~AeadKey() = default;
  virtual size_t key_bytes() const = 0;
};

// One per thread (owns ipsec-mb's IMB_MGR, or OpenSSL's contexts). Not thread-safe.
class Aead {
 public:
  virtual ~Aead() = default;
  // Throws std::runtime_error when the implementation cannot run on this machine.
  static std::unique_ptr<Aead> create(AeadImpl impl);
  // The fastest implementation this CPU runs.
  static std::unique_ptr<Aead> create_best();

  virtual AeadImpl impl() const = 0;
  // Expands a 16- or 32-byte key (set-up path; throws std::invalid_argument on other sizes).
  virtual std::unique_ptr<AeadKey> expand(std::span<const uint8_t> key) = 0;

  // AES-GCM encryption of len bytes (in == out allowed) with `aad` authenticated; writes the
  // 16-byte tag. len == 0 gives GMAC over aad.
  virtual void seal(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> aad,
                    const uint8_t *in, uint8_t *out, size_t len, uint8_t *tag) = 0;
  // Decrypts and verifies; returns false if the tag does not verify, and then `out` holds no
  // plaintext (it is zeroed). Tag comparison is constant-time.
  virtual bool open(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> aad,
                    const uint8_t *in, uint8_t *out, size_t len, const uint8_t *tag) = 0;
};

// Overwrites memory in a way the compiler cannot drop.
void secure_wipe(void *p, size_t n);

}  // namespace ferry::proto
