// ipsec-mb against OpenSSL: the two independent implementations must produce the same
// ciphertext and tag for random keys, nonces and AAD at every length 0..9000, and each must
// open what the other sealed.
#include <gtest/gtest.h>

#include <random>

#include "aead_internal.h"
#include "ferry/proto/aead.h"
#include "proto_test_util.h"
#include "require.h"

namespace ferry::proto {
namespace {

class AeadAgreement : public ::testing::TestWithParam<size_t> {
 protected:
  void SetUp() override {
    FERRY_REQUIRE(ipsecmb_usable(), "CPU lacks AES-NI: nothing to compare OpenSSL with");
    mb_ = Aead::create(AeadImpl::kIpsecMb);
    ossl_ = Aead::create(AeadImpl::kOpenSsl);
  }
  std::unique_ptr<Aead> mb_, ossl_;
};

TEST_P(AeadAgreement, both_implementations_agree_at_every_length_0_to_9000) {
  const size_t key_bytes = GetParam();
  std::mt19937_64 rng(key_bytes);
  std::vector<uint8_t> plain = test::random_bytes(rng, 9000);
  std::vector<uint8_t> c_mb(9000), c_ossl(9000), back(9000);
  auto key = test::random_bytes(rng, key_bytes);
  auto k_mb = mb_->expand(key);
  auto k_ossl = ossl_->expand(key);
  for (size_t len = 0; len <= 9000; ++len) {
    if (len % 512 == 0) {  // fresh key now and then, fresh nonce and AAD always
      key = test::random_bytes(rng, key_bytes);
      k_mb = mb_->expand(key);
      k_ossl = ossl_->expand(key);
    }
    Nonce n = Nonce::make(static_cast<uint32_t>(rng()), rng());
    auto aad = test::random_bytes(rng, rng() % 80);
    uint8_t t_mb[16], t_ossl[16];
    mb_->seal(*k_mb, n, aad, plain.data(), c_mb.data(), len, t_mb);
    ossl_->seal(*k_ossl, n, aad, plain.data(), c_ossl.data(), len, t_ossl);
    ASSERT_EQ(0, std::memcmp(c_mb.data(), c_ossl.data(), len)) << "ciphertext, len " << len;
    ASSERT_EQ(0, std::memcmp(t_mb, t_ossl, 16)) << "tag, len " << len;
    ASSERT_TRUE(ossl_->open(*k_ossl, n, aad, c_mb.data(), back.data(), len, t_mb)) << len;
    ASSERT_EQ(0, std::memcmp(back.data(), plain.data(), len));
    ASSERT_TRUE(mb_->open(*k_mb, n, aad, c_ossl.data(), back.data(), len, t_ossl)) << len;
    ASSERT_EQ(0, std::memcmp(back.data(), plain.data(), len));
  }
}

TEST_P(AeadAgreement, both_implementations_agree_on_long_aad) {
  std::mt19937_64 rng(GetParam() + 7);
  auto key = test::random_bytes(rng, GetParam());
  auto k_mb = mb_->expand(key);
  auto k_ossl = ossl_->expand(key);
  for (size_t aad_len : {0u, 1u, 15u, 16u, 17u, 48u, 255u, 256u, 1000u, 4097u}) {
    auto aad = test::random_bytes(rng, aad_len);
    auto plain = test::random_bytes(rng, 100);
    Nonce n = Nonce::make(1, aad_len);
    std::vector<uint8_t> a(100), b(100);
    uint8_t ta[16], tb[16];
    mb_->seal(*k_mb, n, aad, plain.data(), a.data(), 100, ta);
    ossl_->seal(*k_ossl, n, aad, plain.data(), b.data(), 100, tb);
    EXPECT_EQ(a, b) << aad_len;
    EXPECT_EQ(0, std::memcmp(ta, tb, 16)) << aad_len;
  }
}

TEST_P(AeadAgreement, two_part_gmac_matches_gcm_with_the_parts_concatenated_as_aad) {
  std::mt19937_64 rng(GetParam() + 99);
  auto key = test::random_bytes(rng, GetParam());
  auto &mb = dynamic_cast<detail::AeadMac2 &>(*mb_);
  auto &ossl = dynamic_cast<detail::AeadMac2 &>(*ossl_);
  auto k_mb = mb_->expand(key);
  auto k_ossl = ossl_->expand(key);
  for (size_t alen : {0u, 5u, 32u}) {
    for (size_t blen : {0u, 1u, 31u, 64u, 4096u, 4099u}) {
      auto a = test::random_bytes(rng, alen);
      auto b = test::random_bytes(rng, blen);
      std::vector<uint8_t> ab = a;
      ab.insert(ab.end(), b.begin(), b.end());
      Nonce n = Nonce::make(static_cast<uint32_t>(rng()), rng());
      uint8_t t_ref[16], t_mb[16], t_ossl[16];
      ossl_->seal(*k_ossl, n, ab, nullptr, nullptr, 0, t_ref);
      mb.mac2(*k_mb, n, a, b, t_mb);
      ossl.mac2(*k_ossl, n, a, b, t_ossl);
      EXPECT_EQ(0, std::memcmp(t_ref, t_mb, 16)) << alen << "+" << blen;
      EXPECT_EQ(0, std::memcmp(t_ref, t_ossl, 16)) << alen << "+" << blen;
      EXPECT_TRUE(mb.verify2(*k_mb, n, a, b, t_ref));
      EXPECT_TRUE(ossl.verify2(*k_ossl, n, a, b, t_ref));
      t_ref[15] ^= 1;
      EXPECT_FALSE(mb.verify2(*k_mb, n, a, b, t_ref));
      EXPECT_FALSE(ossl.verify2(*k_ossl, n, a, b, t_ref));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(KeySizes, AeadAgreement, ::testing::Values(16, 32),
                         [](const auto &info) { return "aes" + std::to_string(info.param * 8); });

}  // namespace
}  // namespace ferry::proto
