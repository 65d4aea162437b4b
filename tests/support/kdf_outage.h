// A real failure of the key derivation, for tests of what happens when a rekey step cannot
// run: while a KdfOutage lives, the calling thread's default OpenSSL library context holds
// only the "null" provider, so every new fetch on this thread (HKDF for a rekey step, a new
// OpenSSL cipher context) fails. Contexts set up before keep working; other threads are not
// affected.
#pragma once

#include <openssl/crypto.h>
#include <openssl/provider.h>

#include <stdexcept>

namespace ferry::testing {

class KdfOutage {
 public:
  KdfOutage() : ctx_(OSSL_LIB_CTX_new()), null_(ctx_ ? OSSL_PROVIDER_load(ctx_, "null") : nullptr) {
    if (null_ == nullptr) {
      OSSL_LIB_CTX_free(ctx_);
      throw std::runtime_error("OpenSSL: cannot set up a library context without providers");
    }
    prev_ = OSSL_LIB_CTX_set0_default(ctx_);
  }
  ~KdfOutage() {
    OSSL_LIB_CTX_set0_default(prev_);
    OSSL_PROVIDER_unload(null_);
    OSSL_LIB_CTX_free(ctx_);
  }
  KdfOutage(const KdfOutage &) = delete;
  KdfOutage &operator=(const KdfOutage &) = delete;

 private:
  OSSL_LIB_CTX *ctx_;
  OSSL_PROVIDER *null_;
  OSSL_LIB_CTX *prev_ = nullptr;
};

}  // namespace ferry::testing
