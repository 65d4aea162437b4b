// AES-GCM with Intel ipsec-mb's direct API: the hot path of every polling core.
//
// One IMB_MGR per Aead object (so per thread); keys are expanded once (IMB_AES*_GCM_PRE) into
// an aligned gcm_key_data; each call uses a gcm_context_data on the stack. Nothing allocates
// after construction.
#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>

#include <cstring>
#include <stdexcept>

#include "aead_internal.h"

namespace ferry::proto {
namespace {

struct MgrDeleter {
  void operator()(IMB_MGR *m) const { free_mb_mgr(m); }
};
using MgrPtr = std::unique_ptr<IMB_MGR, MgrDeleter>;

// A manager with the best code path this CPU runs, or nullptr when it lacks AES-NI/PCLMUL.
MgrPtr make_mgr() {
  MgrPtr mgr(alloc_mb_mgr(0));
  if (!mgr) return nullptr;
  IMB_ARCH arch = IMB_ARCH_NONE;
  init_mb_mgr_auto(mgr.get(), &arch);
  if (imb_get_errno(mgr.get()) != 0 || arch == IMB_ARCH_NONE || arch == IMB_ARCH_NOAESNI ||
      (mgr->features & IMB_FEATURE_AESNI) == 0)
    return nullptr;
  return mgr;
}

// ipsec-mb checks that pointers are non-null even for zero lengths in some builds.
const uint8_t kEmpty[16] = {};

class IpsecMbKey final : public AeadKey {
 public:
  explicit IpsecMbKey(size_t bytes) : bytes_(bytes) {}
  ~IpsecMbKey() override { secure_wipe(&data_, sizeof(data_)); }
  size_t key_bytes() const override { return bytes_; }
  const gcm_key_data *data() const { return &data_; }
  gcm_key_data *data() { return &data_; }

 private:
  alignas(64) gcm_key_data data_{};
  size_t bytes_;
};

class IpsecMbAead final : public detail::AeadMac2 {
 public:
  explicit IpsecMbAead(MgrPtr mgr) : mgr_(std::move(mgr)) {}

  AeadImpl impl() const override { return AeadImpl::kIpsecMb; }

  std::unique_ptr<AeadKey> expand(std::span<const uint8_t> key) override {
    if (key.size() != 16 && key.size() != 32)
      throw std::invalid_argument("AES key must be 16 or 32 bytes, got " +
                                  std::to_string(key.size()));
    auto k = std::make_unique<IpsecMbKey>(key.size());
    if (key.size() == 16)
      IMB_AES128_GCM_PRE(mgr_.get(), key.data(), k->data());
    else
      IMB_AES256_GCM_PRE(mgr_.get(), key.data(), k->data());
    return k;
  }

  void seal(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> aad, const uint8_t *in,
            uint8_t *out, size_t len, uint8_t *tag) override {
    const auto &k = static_cast<const IpsecMbKey &>(key);
    gcm_context_data ctx;
    const uint8_t *a = aad.empty() ? kEmpty : aad.data();
    if (len == 0) {
      in = kEmpty;
      out = scratch_;
    }
    if (k.key_bytes() == 16)
      IMB_AES128_GCM_ENC(mgr_.get(), k.data(), &ctx, out, in, len, nonce.bytes, a, aad.size(), tag,
                         kTagBytes);
    else
      IMB_AES256_GCM_ENC(mgr_.get(), k.data(), &ctx, out, in, len, nonce.bytes, a, aad.size(), tag,
                         kTagBytes);
  }

  bool open(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> aad, const uint8_t *in,
            uint8_t *out, size_t len, const uint8_t *tag) override {
    const auto &k = static_cast<const IpsecMbKey &>(key);
    gcm_context_data ctx;
    uint8_t computed[kTagBytes];
    const uint8_t *a = aad.empty() ? kEmpty : aad.data();
    uint8_t *dst = out;
    if (len == 0) {
      in = kEmpty;
      dst = scratch_;
    }
    if (k.key_bytes() == 16)
      IMB_AES128_GCM_DEC(mgr_.get(), k.data(), &ctx, dst, in, len, nonce.bytes, a, aad.size(),
                         computed, kTagBytes);
    else
      IMB_AES256_GCM_DEC(mgr_.get(), k.data(), &ctx, dst, in, len, nonce.bytes, a, aad.size(),
                         computed, kTagBytes);
    if (CRYPTO_memcmp(computed, tag, kTagBytes) != 0) [[unlikely]] {
      if (len != 0) std::memset(out, 0, len);
      return false;
    }
    return true;
  }

  void mac2(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> a,
            std::span<const uint8_t> b, uint8_t *tag) override {
    gmac2(static_cast<const IpsecMbKey &>(key), nonce, a, b, tag);
  }

  bool verify2(const AeadKey &key, const Nonce &nonce, std::span<const uint8_t> a,
               std::span<const uint8_t> b, const uint8_t *tag) override {
    uint8_t computed[kTagBytes];
    gmac2(static_cast<const IpsecMbKey &>(key), nonce, a, b, computed);
    return CRYPTO_memcmp(computed, tag, kTagBytes) == 0;
  }

 private:
  static constexpr uint64_t kTagBytes = 16;

  // GMAC update takes any length (partial blocks carry over), verified against OpenSSL's
  // two-part AAD in the agreement test.
  void gmac2(const IpsecMbKey &k, const Nonce &nonce, std::span<const uint8_t> a,
             std::span<const uint8_t> b, uint8_t *tag) {
    gcm_context_data ctx;
    IMB_MGR *m = mgr_.get();
    if (k.key_bytes() == 16) {
      IMB_AES128_GMAC_INIT(m, k.data(), &ctx, nonce.bytes, sizeof(nonce.bytes));
      if (!a.empty()) IMB_AES128_GMAC_UPDATE(m, k.data(), &ctx, a.data(), a.size());
      if (!b.empty()) IMB_AES128_GMAC_UPDATE(m, k.data(), &ctx, b.data(), b.size());
      IMB_AES128_GMAC_FINALIZE(m, k.data(), &ctx, tag, kTagBytes);
    } else {
      IMB_AES256_GMAC_INIT(m, k.data(), &ctx, nonce.bytes, sizeof(nonce.bytes));
      if (!a.empty()) IMB_AES256_GMAC_UPDATE(m, k.data(), &ctx, a.data(), a.size());
      if (!b.empty()) IMB_AES256_GMAC_UPDATE(m, k.data(), &ctx, b.data(), b.size());
      IMB_AES256_GMAC_FINALIZE(m, k.data(), &ctx, tag, kTagBytes);
    }
  }

  MgrPtr mgr_;
  uint8_t scratch_[16] = {};  // output pointer for zero-length calls
};

}  // namespace

bool ipsecmb_usable() {
  static const bool usable = make_mgr() != nullptr;
  return usable;
}

namespace detail {
std::unique_ptr<Aead> make_ipsecmb_aead() {
  MgrPtr mgr = make_mgr();
  if (!mgr)
    throw std::runtime_error(
        "ipsec-mb cannot run here: this CPU lacks AES-NI/PCLMULQDQ (use the openssl AEAD)");
  return std::make_unique<IpsecMbAead>(std::move(mgr));
}
}  // namespace detail

}  // namespace ferry::proto
