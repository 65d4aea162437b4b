// Sealing and opening descriptors and DMA chunks with SessionCrypto, at every security level
// and with both AEAD implementations: round trips, and every way a forged, altered or
// misdirected message must fail.
#include <gtest/gtest.h>

#include <cstring>

#include "ferry/proto/session.h"
#include "proto_test_util.h"
#include "require.h"

namespace ferry::proto {
namespace {

using Param = std::tuple<AeadImpl, Security, uint8_t>;

class SessionTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    auto [impl, sec, kb] = GetParam();
    if (impl == AeadImpl::kIpsecMb) FERRY_REQUIRE(ipsecmb_usable(), "CPU lacks AES-NI");
    params_.security = sec;
    params_.key_bytes = kb;
    params_.n_queues = 3;
    params_.channel = 7;
    aead_ = Aead::create(impl);
    secrets_ = test::test_secrets(params_);
    guest_ = std::make_unique<SessionCrypto>(*aead_, secrets_);
    device_ = std::make_unique<SessionCrypto>(*aead_, secrets_);
  }

  Descriptor request(uint16_t queue, uint64_t seq) const {
    Descriptor d{};
    d.hdr.kind = static_cast<uint8_t>(Kind::kMmioWrite);
    d.hdr.queue.set(queue);
    d.hdr.channel.set(params_.channel);
    d.hdr.seq.set(seq);
    d.body.kind = static_cast<uint8_t>(Kind::kMmioWrite);
    d.body.bar = 0;
    d.body.size = 4;
    d.body.offset.set(0x80);
    d.body.value.set(0x1122334455667788ull);
    d.body.addr.set(0xabcdef);
    d.body.len.set(42);
    return d;
  }

  Security sec() const { return params_.security; }

  SessionParams params_;
  std::unique_ptr<Aead> aead_;
  SessionSecrets secrets_;
  std::unique_ptr<SessionCrypto> guest_, device_;
};

// Integrity and confidential: the levels that authenticate.
class AuthenticatedSession : public SessionTest {};

TEST_P(SessionTest, sealed_descriptor_opens_to_the_original) {
  for (uint16_t q = 0; q < params_.n_queues; ++q) {
    Descriptor orig = request(q, 1000 + q);
    Descriptor d = orig;
    ASSERT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kOk);
    EXPECT_EQ(d.hdr.version, kProtoVersion);
    ASSERT_EQ(device_->open(Dir::kGuestToDevice, d), Status::kOk);
    EXPECT_EQ(0, std::memcmp(&d.hdr.kind, &orig.hdr.kind, sizeof(DescHeader) - 1));
    EXPECT_EQ(0, std::memcmp(&d.body, &orig.body, sizeof(DescBody)));
  }
}

TEST_P(SessionTest, body_is_hidden_only_at_confidential) {
  Descriptor orig = request(0, 5);
  Descriptor d = orig;
  ASSERT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kOk);
  bool same = std::memcmp(&d.body, &orig.body, sizeof(DescBody)) == 0;
  EXPECT_EQ(same, sec() != Security::kConfidential);
  uint8_t zero[kTagSize] = {};
  EXPECT_EQ(std::memcmp(d.tag, zero, kTagSize) == 0, sec() == Security::kNone);
}

TEST_P(AuthenticatedSession, any_flipped_bit_in_header_body_or_tag_fails_authentication) {
  Descriptor sealed = request(1, 77);
  ASSERT_EQ(guest_->seal(Dir::kGuestToDevice, sealed), Status::kOk);
  size_t auth_failures = 0, header_rejects = 0;
  for (size_t bit = 0; bit < kDescriptorSize * 8; ++bit) {
    Descriptor d = sealed;
    reinterpret_cast<uint8_t *>(&d)[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    Status st = device_->open(Dir::kGuestToDevice, d);
    ASSERT_NE(st, Status::kOk) << "bit " << bit;
    if (st == Status::kAuthFailed)
      ++auth_failures;
    else
      ++header_rejects;  // version, kind or queue no longer valid: refused before crypto
    DescBody zero{};
    EXPECT_EQ(0, std::memcmp(&d.body, &zero, sizeof(zero))) << "body not zeroed, bit " << bit;
  }
  EXPECT_GT(auth_failures, 400u);
  EXPECT_EQ(auth_failures + header_rejects, kDescriptorSize * 8);
}

TEST_P(AuthenticatedSession, wrong_key_fails) {
  SessionSecrets other = test::test_secrets(params_, 2);
  SessionCrypto stranger(*aead_, other);
  Descriptor d = request(0, 3);
  ASSERT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kOk);
  EXPECT_EQ(stranger.open(Dir::kGuestToDevice, d), Status::kAuthFailed);
}

TEST_P(AuthenticatedSession, wrong_sequence_number_fails) {
  Descriptor d = request(0, 3);
  ASSERT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kOk);
  d.hdr.seq.set(4);
  EXPECT_EQ(device_->open(Dir::kGuestToDevice, d), Status::kAuthFailed);
}

TEST_P(AuthenticatedSession, descriptor_moved_to_another_queue_or_direction_fails) {
  Descriptor d = request(0, 3);
  ASSERT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kOk);
  Descriptor moved = d;
  moved.hdr.queue.set(1);
  EXPECT_EQ(device_->open(Dir::kGuestToDevice, moved), Status::kAuthFailed);
  Descriptor reflected = d;
  EXPECT_EQ(device_->open(Dir::kDeviceToGuest, reflected), Status::kAuthFailed);
}

TEST_P(SessionTest, queue_out_of_range_is_refused) {
  Descriptor d = request(params_.n_queues, 1);
  EXPECT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kBadLength);
  d.hdr.version = kProtoVersion;
  d.hdr.kind = static_cast<uint8_t>(Kind::kSealed);
  EXPECT_EQ(device_->open(Dir::kGuestToDevice, d), Status::kBadLength);
}

TEST_P(SessionTest, bad_version_or_kind_is_refused_before_authentication) {
  Descriptor d = request(0, 1);
  ASSERT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kOk);
  Descriptor v = d;
  v.hdr.version = kProtoVersion + 1;
  EXPECT_EQ(device_->open(Dir::kGuestToDevice, v), Status::kBadVersion);
  Descriptor k = d;
  k.hdr.kind = static_cast<uint8_t>(Kind::kKindCount);
  EXPECT_EQ(device_->open(Dir::kGuestToDevice, k), Status::kBadKind);
}

TEST_P(SessionTest, the_wire_header_says_sealed_and_open_restores_the_sealed_kind) {
  for (Kind kind :
       {Kind::kMmioRead, Kind::kMmioWrite, Kind::kCompletion, Kind::kDmaSync, Kind::kInterrupt}) {
    Descriptor d = request(0, 1 + static_cast<uint64_t>(kind));
    d.hdr.kind = static_cast<uint8_t>(kind);
    ASSERT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kOk);
    EXPECT_EQ(d.hdr.kind, static_cast<uint8_t>(Kind::kSealed)) << kind_name(kind);
    ASSERT_EQ(device_->open(Dir::kGuestToDevice, d), Status::kOk);
    EXPECT_EQ(d.hdr.kind, static_cast<uint8_t>(kind));
    EXPECT_EQ(d.body.kind, static_cast<uint8_t>(kind));
  }
}

TEST_P(SessionTest, only_kinds_that_are_sealed_can_be_sealed) {
  for (Kind kind : {Kind::kInvalid, Kind::kHandshake, Kind::kSealed, Kind::kKindCount}) {
    Descriptor d = request(0, 1);
    d.hdr.kind = static_cast<uint8_t>(kind);
    EXPECT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kBadKind) << kind_name(kind);
  }
}

TEST_P(SessionTest, a_handshake_header_is_never_opened_as_sealed) {
  Descriptor d = request(0, 1);
  ASSERT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kOk);
  d.hdr.kind = static_cast<uint8_t>(Kind::kHandshake);
  EXPECT_EQ(device_->open(Dir::kGuestToDevice, d), Status::kBadKind);
}

TEST_P(AuthenticatedSession, a_tampered_sealed_kind_fails_authentication) {
  Descriptor d = request(0, 1);
  d.hdr.kind = static_cast<uint8_t>(Kind::kMmioRead);
  ASSERT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kOk);
  // At `confidential` the kind is ciphertext: flipping bits makes it some other kind.
  d.body.kind ^= static_cast<uint8_t>(Kind::kMmioRead) ^ static_cast<uint8_t>(Kind::kMmioWrite);
  EXPECT_EQ(device_->open(Dir::kGuestToDevice, d), Status::kAuthFailed);
  EXPECT_EQ(d.hdr.kind, static_cast<uint8_t>(Kind::kSealed));
}

// A body of no kind is refused after authentication: at `none` (nothing to authenticate) it
// opens as malformed (kBadKind) and its body is zeroed; where the body is authenticated, a kind
// changed on the way fails the tag first.
TEST_P(SessionTest, a_body_of_unknown_kind_never_opens) {
  for (uint8_t bad : {uint8_t{0}, static_cast<uint8_t>(Kind::kHandshake),
                      static_cast<uint8_t>(Kind::kSealed), uint8_t{200}}) {
    Descriptor d = request(0, 10 + bad);
    ASSERT_EQ(guest_->seal(Dir::kGuestToDevice, d), Status::kOk);
    d.body.kind = bad;
    const Status want = sec() == Security::kNone ? Status::kBadKind : Status::kAuthFailed;
    EXPECT_EQ(device_->open(Dir::kGuestToDevice, d), want) << int(bad);
    EXPECT_EQ(d.hdr.kind, static_cast<uint8_t>(Kind::kSealed));
    EXPECT_EQ(d.body.value.get(), 0u);  // zeroed: nothing of it is used
  }
}

TEST_P(SessionTest, chunk_round_trips_at_every_interesting_length) {
  std::mt19937_64 rng(1);
  for (size_t len : {0u, 1u, 15u, 16u, 64u, 1000u, 4096u, 65536u}) {
    auto plain = test::random_bytes(rng, len);
    std::vector<uint8_t> sealed(len), back(len);
    uint8_t tag[16];
    ChunkAad aad = make_chunk_aad(7, 0x40000, static_cast<uint32_t>(len), Writer::kGuest, 12);
    guest_->seal_chunk(Dir::kGuestToDevice, aad, plain.data(), sealed.data(), len, tag);
    EXPECT_EQ(sealed == plain, sec() != Security::kConfidential || len == 0) << len;
    ASSERT_EQ(device_->open_chunk(Dir::kGuestToDevice, aad, sealed.data(), back.data(), len, tag),
              Status::kOk)
        << len;
    EXPECT_EQ(back, plain) << len;
  }
}

TEST_P(SessionTest, chunk_sealed_in_place_opens_in_place) {
  std::mt19937_64 rng(2);
  auto plain = test::random_bytes(rng, 4096);
  auto buf = plain;
  uint8_t tag[16];
  ChunkAad aad = make_chunk_aad(7, 0x41000, 4096, Writer::kDevice, 3);
  device_->seal_chunk(Dir::kDeviceToGuest, aad, buf.data(), buf.data(), buf.size(), tag);
  ASSERT_EQ(guest_->open_chunk(Dir::kDeviceToGuest, aad, buf.data(), buf.data(), buf.size(), tag),
            Status::kOk);
  EXPECT_EQ(buf, plain);
}

TEST_P(AuthenticatedSession, chunk_with_altered_data_aad_or_tag_fails_and_output_is_zeroed) {
  std::mt19937_64 rng(3);
  const size_t len = 256;
  auto plain = test::random_bytes(rng, len);
  std::vector<uint8_t> sealed(len);
  uint8_t tag[16];
  ChunkAad aad = make_chunk_aad(7, 0x40000, len, Writer::kGuest, 5);
  guest_->seal_chunk(Dir::kGuestToDevice, aad, plain.data(), sealed.data(), len, tag);
  auto expect_fail = [&](const ChunkAad &a, const std::vector<uint8_t> &s, const uint8_t *t,
                         const char *what) {
    std::vector<uint8_t> out(len, 0x77);
    EXPECT_EQ(device_->open_chunk(Dir::kGuestToDevice, a, s.data(), out.data(), len, t),
              Status::kAuthFailed)
        << what;
    EXPECT_EQ(out, std::vector<uint8_t>(len, 0)) << what;
  };
  for (size_t bit = 0; bit < len * 8; bit += 13) {
    auto s = sealed;
    s[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    expect_fail(aad, s, tag, "data");
  }
  for (size_t bit = 0; bit < 128; ++bit) {
    uint8_t t[16];
    std::memcpy(t, tag, 16);
    t[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    expect_fail(aad, sealed, t, "tag");
  }
  expect_fail(make_chunk_aad(7, 0x41000, len, Writer::kGuest, 5), sealed, tag, "address");
  expect_fail(make_chunk_aad(8, 0x40000, len, Writer::kGuest, 5), sealed, tag, "channel");
  expect_fail(make_chunk_aad(7, 0x40000, len, Writer::kDevice, 5), sealed, tag, "writer");
  expect_fail(make_chunk_aad(7, 0x40000, len, Writer::kGuest, 4), sealed, tag, "stale version");
}

TEST_P(SessionTest, chunk_length_disagreeing_with_its_aad_is_refused) {
  std::vector<uint8_t> sealed(64), out(64, 1);
  uint8_t tag[16] = {};
  ChunkAad aad = make_chunk_aad(7, 0x40000, 128, Writer::kGuest, 1);
  EXPECT_EQ(device_->open_chunk(Dir::kGuestToDevice, aad, sealed.data(), out.data(), 64, tag),
            Status::kBadLength);
  EXPECT_EQ(out, std::vector<uint8_t>(64, 0));
}

TEST_P(AuthenticatedSession, chunk_opened_with_the_other_directions_stream_fails) {
  std::vector<uint8_t> plain(128, 9), sealed(128), out(128);
  uint8_t tag[16];
  ChunkAad aad = make_chunk_aad(7, 0x40000, 128, Writer::kGuest, 1);
  guest_->seal_chunk(Dir::kGuestToDevice, aad, plain.data(), sealed.data(), 128, tag);
  EXPECT_EQ(device_->open_chunk(Dir::kDeviceToGuest, aad, sealed.data(), out.data(), 128, tag),
            Status::kAuthFailed);
}

std::string session_name(const ::testing::TestParamInfo<Param> &info) {
  auto [impl, sec, kb] = info.param;
  return std::string(impl_name(impl)) + "_" + std::string(security_name(sec)) + "_aes" +
         std::to_string(kb * 8);
}

INSTANTIATE_TEST_SUITE_P(Levels, SessionTest,
                         ::testing::Combine(::testing::Values(AeadImpl::kIpsecMb,
                                                              AeadImpl::kOpenSsl),
                                            ::testing::Values(Security::kNone, Security::kIntegrity,
                                                              Security::kConfidential),
                                            ::testing::Values(uint8_t{16}, uint8_t{32})),
                         session_name);

INSTANTIATE_TEST_SUITE_P(
    Levels, AuthenticatedSession,
    ::testing::Combine(::testing::Values(AeadImpl::kIpsecMb, AeadImpl::kOpenSsl),
                       ::testing::Values(Security::kIntegrity, Security::kConfidential),
                       ::testing::Values(uint8_t{16}, uint8_t{32})),
    session_name);

TEST(SessionNone, none_level_seals_nothing_and_checks_nothing) {
  auto aead = Aead::create(AeadImpl::kOpenSsl);
  SessionParams p;
  p.security = Security::kNone;
  SessionSecrets s = test::test_secrets(p);
  SessionCrypto c(*aead, s);
  Descriptor d{};
  d.hdr.kind = static_cast<uint8_t>(Kind::kMmioWrite);
  d.hdr.seq.set(9);
  d.body.value.set(5);
  std::memset(d.tag, 0xff, kTagSize);
  ASSERT_EQ(c.seal(Dir::kGuestToDevice, d), Status::kOk);
  EXPECT_EQ(d.body.value.get(), 5u);
  d.body.value.set(1);  // altered on the way: nobody notices at this level
  EXPECT_EQ(c.open(Dir::kGuestToDevice, d), Status::kOk);
  EXPECT_EQ(d.body.value.get(), 1u);
}

TEST(SessionCryptoCross, ipsecmb_sealed_descriptors_and_chunks_open_with_openssl) {
  FERRY_REQUIRE(ipsecmb_usable(), "CPU lacks AES-NI");
  auto mb = Aead::create(AeadImpl::kIpsecMb);
  auto ossl = Aead::create(AeadImpl::kOpenSsl);
  for (Security sec : {Security::kIntegrity, Security::kConfidential}) {
    SessionParams p;
    p.security = sec;
    SessionSecrets s = test::test_secrets(p);
    SessionCrypto a(*mb, s), b(*ossl, s);
    Descriptor d{};
    d.hdr.kind = static_cast<uint8_t>(Kind::kMmioRead);
    d.hdr.seq.set(1);
    d.body.offset.set(8);
    ASSERT_EQ(a.seal(Dir::kGuestToDevice, d), Status::kOk);
    ASSERT_EQ(b.open(Dir::kGuestToDevice, d), Status::kOk) << security_name(sec);
    EXPECT_EQ(d.body.offset.get(), 8u);
    std::vector<uint8_t> plain(4096, 3), sealed(4096), out(4096);
    uint8_t tag[16];
    ChunkAad aad = make_chunk_aad(0, 0x40000, 4096, Writer::kDevice, 9);
    b.seal_chunk(Dir::kDeviceToGuest, aad, plain.data(), sealed.data(), 4096, tag);
    ASSERT_EQ(a.open_chunk(Dir::kDeviceToGuest, aad, sealed.data(), out.data(), 4096, tag),
              Status::kOk)
        << security_name(sec);
    EXPECT_EQ(out, plain);
  }
}

TEST(SessionCryptoSetup, refuses_inconsistent_secrets) {
  auto aead = Aead::create(AeadImpl::kOpenSsl);
  SessionParams p;
  p.n_queues = 2;
  SessionSecrets s = test::test_secrets(p);
  s.streams.pop_back();
  EXPECT_THROW(SessionCrypto(*aead, s), std::invalid_argument);
  SessionSecrets bad_key = test::test_secrets(p);
  bad_key.params.key_bytes = 24;
  EXPECT_THROW(SessionCrypto(*aead, bad_key), std::invalid_argument);
  p.n_queues = 0;
  SessionSecrets no_queues = test::test_secrets(p);
  EXPECT_THROW(SessionCrypto(*aead, no_queues), std::invalid_argument);
}

TEST(SessionSecretsLayout, stream_index_puts_the_dma_stream_after_the_queues) {
  SessionParams p;
  p.n_queues = 4;
  EXPECT_EQ(SessionSecrets::stream_index(p, Dir::kGuestToDevice, 0), 0u);
  EXPECT_EQ(SessionSecrets::stream_index(p, Dir::kGuestToDevice, 4), 4u);
  EXPECT_EQ(SessionSecrets::stream_index(p, Dir::kDeviceToGuest, 0), 5u);
  EXPECT_EQ(SessionSecrets::stream_index(p, Dir::kDeviceToGuest, 4), 9u);
}

TEST(ChunkAadLayout, fields_are_little_endian_at_fixed_offsets) {
  ChunkAad a = make_chunk_aad(0x01020304, 0x1122334455667788ull, 0x1000, Writer::kDevice, 9);
  const auto *b = reinterpret_cast<const uint8_t *>(&a);
  EXPECT_EQ(std::memcmp(b, "FDMA", 4), 0);
  EXPECT_EQ(b[4], 0x04);
  EXPECT_EQ(b[8], 0x88);
  EXPECT_EQ(b[16], 0x00);
  EXPECT_EQ(b[17], 0x10);
  EXPECT_EQ(b[20], 1);
  EXPECT_EQ(b[24], 9);
}

}  // namespace
}  // namespace ferry::proto
