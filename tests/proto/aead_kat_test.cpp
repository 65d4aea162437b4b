// AES-GCM known-answer tests: the McGrew-Viega GCM specification's test cases 1-4 (AES-128)
// and 13-16 (AES-256), which NIST SP 800-38D's validation uses, plus NIST CAVS vectors with
// AAD only and with neither plaintext nor AAD. Every case runs against both implementations:
// seal must give the published ciphertext and tag, open must accept them and reject any
// single flipped bit.
#include <gtest/gtest.h>

#include <cstring>

#include "ferry/proto/aead.h"
#include "proto_test_util.h"
#include "require.h"

namespace ferry::proto {
namespace {

using test::hex;

struct Kat {
  const char *name;
  const char *key, *iv, *plain, *aad, *cipher, *tag;
};

constexpr const char *kP3 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
constexpr const char *kP4 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
constexpr const char *kA4 = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr const char *kK128 = "feffe9928665731c6d6a8f9467308308";
constexpr const char *kK256 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr const char *kIv = "cafebabefacedbaddecaf888";

const Kat kKats[] = {
    {"gcm_spec_case1_aes128_empty", "00000000000000000000000000000000", "000000000000000000000000",
     "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"},
    {"gcm_spec_case2_aes128_zero_block", "00000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000", "",
     "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
    {"gcm_spec_case3_aes128_64_bytes", kK128, kIv, kP3, "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"gcm_spec_case4_aes128_60_bytes_with_aad", kK128, kIv, kP4, kA4,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"gcm_spec_case13_aes256_empty",
     "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"gcm_spec_case14_aes256_zero_block",
     "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    {"gcm_spec_case15_aes256_64_bytes", kK256, kIv, kP3, "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"gcm_spec_case16_aes256_60_bytes_with_aad", kK256, kIv, kP4, kA4,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    // NIST CAVS gcmEncryptExtIV128.rsp, PTlen = 0, AADlen = 128, Count = 0 (AES-GMAC).
    {"cavs_aes128_aad_only", "77be63708971c4e240d1cb79e8d77feb", "e0e00f19fed7ba0136a797f3", "",
     "7a43ec1d9c0a5a78a0b16533a6213cab", "", "209fcc8d3675ed938e9c7166709dd946"},
    // NIST CAVS gcmEncryptExtIV256.rsp, PTlen = 0, AADlen = 128, Count = 0 (AES-GMAC).
    {"cavs_aes256_aad_only", "78dc4e0aaf52d935c3c01eea57428f00ca1fd475f5da86a49c8dd73d68c8e223",
     "d79cf22d504cc793c3fb6c8a", "", "b96baa8c1c75a671bfb2d08d06be5f36", "",
     "3e5d486aa2e30b22e040b85723a06e76"},
    // NIST CAVS gcmEncryptExtIV256.rsp, PTlen = 0, AADlen = 0, Count = 0.
    {"cavs_aes256_empty", "b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4",
     "516c33929df5a3284ff463d7", "", "", "", "bdc1ac884d332457a1d2664f168c76f0"},
};

class AeadKat : public ::testing::TestWithParam<std::tuple<AeadImpl, Kat>> {
 protected:
  void SetUp() override {
    impl_ = std::get<0>(GetParam());
    if (impl_ == AeadImpl::kIpsecMb) FERRY_REQUIRE(ipsecmb_usable(), "CPU lacks AES-NI");
    const Kat &k = std::get<1>(GetParam());
    key_ = hex(k.key);
    auto iv = hex(k.iv);
    std::memcpy(nonce_.bytes, iv.data(), 12);
    plain_ = hex(k.plain);
    aad_ = hex(k.aad);
    cipher_ = hex(k.cipher);
    tag_ = hex(k.tag);
    aead_ = Aead::create(impl_);
    ekey_ = aead_->expand(key_);
  }
  AeadImpl impl_{};
  std::vector<uint8_t> key_, plain_, aad_, cipher_, tag_;
  Nonce nonce_{};
  std::unique_ptr<Aead> aead_;
  std::unique_ptr<AeadKey> ekey_;
};

TEST_P(AeadKat, seal_gives_the_published_ciphertext_and_tag) {
  std::vector<uint8_t> out(plain_.size() + 1, 0xee);
  uint8_t tag[16];
  aead_->seal(*ekey_, nonce_, aad_, plain_.data(), out.data(), plain_.size(), tag);
  out.pop_back();
  EXPECT_EQ(out, cipher_);
  EXPECT_EQ(std::vector<uint8_t>(tag, tag + 16), tag_);
  EXPECT_EQ(ekey_->key_bytes(), key_.size());
}

TEST_P(AeadKat, seal_in_place_gives_the_published_ciphertext) {
  std::vector<uint8_t> buf = plain_;
  uint8_t tag[16];
  aead_->seal(*ekey_, nonce_, aad_, buf.data(), buf.data(), buf.size(), tag);
  EXPECT_EQ(buf, cipher_);
  EXPECT_EQ(std::vector<uint8_t>(tag, tag + 16), tag_);
}

TEST_P(AeadKat, open_recovers_the_published_plaintext) {
  std::vector<uint8_t> out(cipher_.size());
  ASSERT_TRUE(
      aead_->open(*ekey_, nonce_, aad_, cipher_.data(), out.data(), cipher_.size(), tag_.data()));
  EXPECT_EQ(out, plain_);
}

TEST_P(AeadKat, open_rejects_every_single_bit_flip_and_zeroes_the_output) {
  auto try_open = [&](const std::vector<uint8_t> &c, const std::vector<uint8_t> &a,
                      const std::vector<uint8_t> &t, const Nonce &n) {
    std::vector<uint8_t> out(c.size(), 0x5a);
    bool ok = aead_->open(*ekey_, n, a, c.data(), out.data(), c.size(), t.data());
    if (!ok) {
      EXPECT_EQ(out, std::vector<uint8_t>(c.size(), 0)) << "output not zeroed";
    }
    return ok;
  };
  for (size_t bit = 0; bit < cipher_.size() * 8; ++bit) {
    auto c = cipher_;
    c[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(try_open(c, aad_, tag_, nonce_)) << "ciphertext bit " << bit;
  }
  for (size_t bit = 0; bit < aad_.size() * 8; ++bit) {
    auto a = aad_;
    a[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(try_open(cipher_, a, tag_, nonce_)) << "aad bit " << bit;
  }
  for (size_t bit = 0; bit < 128; ++bit) {
    auto t = tag_;
    t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(try_open(cipher_, aad_, t, nonce_)) << "tag bit " << bit;
  }
  for (size_t bit = 0; bit < 96; ++bit) {
    Nonce n = nonce_;
    n.bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(try_open(cipher_, aad_, tag_, n)) << "nonce bit " << bit;
  }
  EXPECT_TRUE(try_open(cipher_, aad_, tag_, nonce_));
}

std::string kat_name(const ::testing::TestParamInfo<AeadKat::ParamType> &info) {
  return std::string(impl_name(std::get<0>(info.param))) + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Kats, AeadKat,
                         ::testing::Combine(::testing::Values(AeadImpl::kIpsecMb,
                                                              AeadImpl::kOpenSsl),
                                            ::testing::ValuesIn(kKats)),
                         kat_name);

TEST(Aead, expand_rejects_keys_that_are_not_16_or_32_bytes) {
  for (AeadImpl impl : test::available_impls()) {
    auto aead = Aead::create(impl);
    std::vector<uint8_t> k24(24), k0;
    EXPECT_THROW(aead->expand(k24), std::invalid_argument);
    EXPECT_THROW(aead->expand(k0), std::invalid_argument);
  }
}

TEST(Aead, create_best_picks_ipsecmb_when_the_cpu_has_aesni) {
  auto best = Aead::create_best();
  EXPECT_EQ(best->impl(), ipsecmb_usable() ? AeadImpl::kIpsecMb : AeadImpl::kOpenSsl);
}

TEST(Aead, nonce_is_big_endian_salt_then_sequence) {
  Nonce n = Nonce::make(0x01020304u, 0x05060708090a0b0cull);
  std::vector<uint8_t> want = hex("0102030405060708090a0b0c");
  EXPECT_EQ(std::vector<uint8_t>(n.bytes, n.bytes + 12), want);
}

TEST(Aead, names_are_stable) {
  EXPECT_EQ(security_name(Security::kNone), "none");
  EXPECT_EQ(security_name(Security::kIntegrity), "integrity");
  EXPECT_EQ(security_name(Security::kConfidential), "confidential");
  EXPECT_EQ(impl_name(AeadImpl::kIpsecMb), "ipsecmb");
  EXPECT_EQ(impl_name(AeadImpl::kOpenSsl), "openssl");
}

TEST(Aead, secure_wipe_zeroes_memory) {
  std::vector<uint8_t> v(100, 0xab);
  secure_wipe(v.data(), v.size());
  EXPECT_EQ(v, std::vector<uint8_t>(100, 0));
  secure_wipe(nullptr, 0);  // allowed
}

}  // namespace
}  // namespace ferry::proto
