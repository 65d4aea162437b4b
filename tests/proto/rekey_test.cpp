// Rekeying of descriptor streams (session.h, docs/protocol.md "Rekeying"): the ratchet step
// against an independent RFC 5869 computation, the sender's switch by count and by time, the
// receiver at the boundary (just before and after, reordered across it, replayed after it),
// the overlap and the wiping of the old key, forged and far-future epochs, following the
// peer, the 16-bit epoch wrapping, and chains that both handshake sides derive alike.
#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <cstring>
#include <set>
#include <thread>

#include "ferry/proto/handshake.h"
#include "ferry/proto/replay_window.h"
#include "ferry/proto/session.h"
#include "proto_test_util.h"
#include "require.h"

namespace ferry::proto {
namespace {

// HKDF-Expand (RFC 5869, section 2.3) with HMAC-SHA256, written out here.
std::vector<uint8_t> rfc5869_expand(std::span<const uint8_t> prk, std::span<const uint8_t> info,
                                    size_t len) {
  std::vector<uint8_t> out, t;
  for (uint8_t i = 1; out.size() < len; ++i) {
    std::vector<uint8_t> msg(t);
    msg.insert(msg.end(), info.begin(), info.end());
    msg.push_back(i);
    uint8_t mac[32];
    unsigned n = 0;
    HMAC(EVP_sha256(), prk.data(), static_cast<int>(prk.size()), msg.data(), msg.size(), mac, &n);
    t.assign(mac, mac + n);
    out.insert(out.end(), t.begin(), t.end());
  }
  out.resize(len);
  return out;
}

using Param = std::tuple<AeadImpl, Security>;

class Rekey : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    auto [impl, sec] = GetParam();
    if (impl == AeadImpl::kIpsecMb) FERRY_REQUIRE(ipsecmb_usable(), "CPU lacks AES-NI");
    params_.security = sec;
    params_.n_queues = 2;
    params_.channel = 9;
    aead_ = Aead::create(impl);
    secrets_ = test::test_secrets(params_);
    for (size_t i = 0; i < secrets_.streams.size(); ++i)
      for (size_t j = 0; j < 32; ++j)
        secrets_.streams[i].chain[j] = static_cast<uint8_t>(i * 13 + j);
  }

  std::unique_ptr<SessionCrypto> make(const RekeyPolicy &p = {}) {
    auto c = std::make_unique<SessionCrypto>(*aead_, secrets_);
    c->set_rekey(p);
    return c;
  }

  // A write on queue q with counter `counter`, sealed by `c` in direction `dir`.
  Descriptor sealed(SessionCrypto &c, uint64_t counter, uint16_t q = 0,
                    Dir dir = Dir::kGuestToDevice) {
    Descriptor d{};
    d.hdr.kind = static_cast<uint8_t>(Kind::kMmioWrite);
    d.hdr.queue.set(q);
    d.hdr.channel.set(params_.channel);
    d.hdr.seq.set(counter);
    d.body.kind = static_cast<uint8_t>(Kind::kMmioWrite);
    d.body.size = 4;
    d.body.value.set(counter * 3 + 1);
    EXPECT_EQ(c.seal(dir, d), Status::kOk);
    return d;
  }

  // Opens a copy; true when it authenticated and carries the value sealed() put in it.
  bool opens(SessionCrypto &c, Descriptor d, Dir dir = Dir::kGuestToDevice) {
    if (c.open(dir, d) != Status::kOk) return false;
    return d.body.value.get() == seq_counter(d.hdr.seq.get()) * 3 + 1;
  }

  SessionParams params_;
  std::unique_ptr<Aead> aead_;
  SessionSecrets secrets_;
};

TEST(RekeyStep, matches_hkdf_expand_computed_independently) {
  std::array<uint8_t, 32> chain;
  for (size_t i = 0; i < chain.size(); ++i) chain[i] = static_cast<uint8_t>(0x40 + i);
  const uint64_t epoch = 0x0102030405060708ull;
  StreamSecret out;
  rekey_step(chain, epoch, out);
  std::vector<uint8_t> info{'f', 'e', 'r', 'r', 'y', ' ', 'r', 'e', 'k', 'e', 'y'};
  for (int i = 0; i < 8; ++i) info.push_back(static_cast<uint8_t>(epoch >> (56 - 8 * i)));
  const std::vector<uint8_t> okm = rfc5869_expand(chain, info, 68);
  EXPECT_EQ(0, std::memcmp(out.chain.data(), okm.data(), 32));
  EXPECT_EQ(0, std::memcmp(out.key.data(), okm.data() + 32, 32));
  EXPECT_EQ(out.salt,
            uint32_t{okm[64]} << 24 | uint32_t{okm[65]} << 16 | uint32_t{okm[66]} << 8 | okm[67]);
}

TEST(RekeyStep, every_epoch_has_its_own_key_salt_and_chain) {
  std::array<uint8_t, 32> chain{};
  chain[0] = 1;
  std::set<std::vector<uint8_t>> keys, chains;
  std::set<uint32_t> salts;
  for (uint64_t e = 1; e <= 200; ++e) {
    StreamSecret next;
    rekey_step(chain, e, next);
    keys.emplace(next.key.begin(), next.key.end());
    chains.emplace(next.chain.begin(), next.chain.end());
    salts.insert(next.salt);
    EXPECT_NE(next.chain, chain);
    chain = next.chain;
  }
  EXPECT_EQ(keys.size(), 200u);
  EXPECT_EQ(chains.size(), 200u);
  EXPECT_GT(salts.size(), 195u);  // 32-bit salts: a collision is possible, not many
}

TEST_P(Rekey, the_sender_moves_to_a_new_epoch_after_the_message_count) {
  auto guest = make({.after_messages = 50});
  auto device = make();
  ReplayWindow window;
  for (uint64_t i = 1; i <= 200; ++i) {
    Descriptor d = sealed(*guest, i);
    EXPECT_EQ(seq_counter(d.hdr.seq.get()), i);  // the counter runs on across epochs
    EXPECT_EQ(seq_key_epoch(d.hdr.seq.get()), (i - 1) / 50) << i;
    ASSERT_TRUE(window.check(i));
    ASSERT_TRUE(opens(*device, d)) << i;
    ASSERT_TRUE(window.update(i));
  }
  EXPECT_EQ(guest->key_epoch(Dir::kGuestToDevice, 0), 3u);
  EXPECT_EQ(device->key_epoch(Dir::kGuestToDevice, 0), 3u);
  EXPECT_EQ(guest->rekey_stats().tx_rekeys, 3u);
  EXPECT_EQ(device->rekey_stats().rx_rekeys, 3u);
  // The other queue's stream did not move.
  EXPECT_EQ(guest->key_epoch(Dir::kGuestToDevice, 1), 0u);
}

TEST_P(Rekey, a_descriptor_sealed_after_the_switch_does_not_open_with_the_old_key) {
  auto guest = make({.after_messages = 16});
  std::vector<Descriptor> ds;
  for (uint64_t i = 1; i <= 17; ++i) ds.push_back(sealed(*guest, i));
  // Same counter, other epoch: rewriting the epoch bits breaks the tag.
  Descriptor moved = ds[16];
  moved.hdr.seq.set(17);  // claims epoch 0
  auto device = make();
  EXPECT_FALSE(opens(*device, moved));
  // Nor does an epoch-0 descriptor relabelled as epoch 1.
  Descriptor relabelled = ds[15];
  relabelled.hdr.seq.set(uint64_t{1} << kKeyEpochShift | 16);
  EXPECT_FALSE(opens(*device, relabelled));
  EXPECT_EQ(device->key_epoch(Dir::kGuestToDevice, 0), 0u);  // a failed trial changes nothing
  for (const Descriptor &d : ds) EXPECT_TRUE(opens(*device, d));
}

TEST_P(Rekey, messages_just_before_and_just_after_the_switch_open_in_order_and_reordered) {
  auto guest = make({.after_messages = 100});
  std::vector<Descriptor> ds;
  for (uint64_t i = 1; i <= 104; ++i) ds.push_back(sealed(*guest, i));
  auto device = make();
  for (size_t i = 0; i < 96; ++i) ASSERT_TRUE(opens(*device, ds[i]));
  // 101..104 (epoch 1) overtake 97..100 (epoch 0).
  ReplayWindow window;
  for (size_t i = 0; i < 96; ++i) window.update(i + 1);
  for (size_t i : {101u, 100u, 103u, 96u, 98u, 102u, 97u, 99u}) {
    const uint64_t counter = i + 1;
    ASSERT_TRUE(window.check(counter));
    EXPECT_TRUE(opens(*device, ds[i])) << counter;
    window.update(counter);
  }
  EXPECT_EQ(device->key_epoch(Dir::kGuestToDevice, 0), 1u);
  EXPECT_EQ(device->rekey_stats().rx_rekeys, 1u);
  EXPECT_EQ(device->rekey_stats().old_keys_wiped, 0u);  // still in the overlap
}

TEST_P(Rekey, a_pre_rekey_message_replayed_after_the_switch_is_rejected) {
  auto guest = make({.after_messages = 20});
  std::vector<Descriptor> ds;
  for (uint64_t i = 1; i <= 2000; ++i) ds.push_back(sealed(*guest, i));
  auto device = make({.overlap_messages = 1024});
  ReplayWindow window(1024);
  for (const Descriptor &d : ds) {
    ASSERT_TRUE(opens(*device, d));
    window.update(seq_counter(d.hdr.seq.get()));
  }
  // Replays from the current epoch, the previous one and older ones: the window refuses them
  // all before any key is tried; beyond the previous epoch the keys are gone as well.
  for (size_t i : {1999u, 1970u, 1900u, 1000u, 10u}) EXPECT_FALSE(window.check(i + 1)) << i;
  for (size_t i : {1900u, 1000u, 10u}) EXPECT_FALSE(opens(*device, ds[i])) << i;
  EXPECT_EQ(device->rekey_stats().epoch_rejects, 3u);
  EXPECT_GT(device->rekey_stats().old_keys_wiped, 0u);
}

TEST_P(Rekey, the_previous_key_is_wiped_once_the_overlap_has_passed_by_count_and_by_time) {
  auto guest = make({.after_messages = 16});
  std::vector<Descriptor> ds;
  for (uint64_t i = 1; i <= 48; ++i) ds.push_back(sealed(*guest, i));
  {
    auto device = make({.overlap_messages = 8});
    for (size_t i = 0; i < 15; ++i) ASSERT_TRUE(opens(*device, ds[i]));
    ASSERT_TRUE(opens(*device, ds[16]));  // epoch 1 starts at counter 17
    for (size_t i = 17; i < 24; ++i) ASSERT_TRUE(opens(*device, ds[i]));  // up to 24 < 17 + 8
    EXPECT_EQ(device->rekey_stats().old_keys_wiped, 0u);
    ASSERT_TRUE(opens(*device, ds[24]));  // counter 25 = 17 + 8: the old key goes
    EXPECT_EQ(device->rekey_stats().old_keys_wiped, 1u);
    EXPECT_FALSE(opens(*device, ds[15]));  // a late epoch-0 descriptor no longer opens
    EXPECT_EQ(device->rekey_stats().epoch_rejects, 1u);
  }
  {
    auto device = make({.overlap_messages = 1000, .overlap_ns = 2'000'000});
    for (size_t i = 0; i < 15; ++i) ASSERT_TRUE(opens(*device, ds[i]));
    ASSERT_TRUE(opens(*device, ds[16]));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_FALSE(opens(*device, ds[15]));
    EXPECT_EQ(device->rekey_stats().old_keys_wiped, 1u);
  }
}

TEST_P(Rekey, the_sender_moves_on_by_time) {
  auto guest = make({.after_ns = 20'000'000});
  auto device = make();
  EXPECT_TRUE(opens(*device, sealed(*guest, 1)));
  EXPECT_TRUE(opens(*device, sealed(*guest, 2)));
  EXPECT_EQ(guest->key_epoch(Dir::kGuestToDevice, 0), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(25));
  Descriptor d = sealed(*guest, 3);
  EXPECT_EQ(seq_key_epoch(d.hdr.seq.get()), 1u);
  EXPECT_TRUE(opens(*device, d));
  EXPECT_EQ(guest->rekey_stats().tx_rekeys, 1u);
  EXPECT_EQ(device->key_epoch(Dir::kGuestToDevice, 0), 1u);
}

TEST_P(Rekey, the_answering_side_follows_the_peer_one_epoch_per_message) {
  auto guest = make({.after_messages = 16});
  auto device = make();
  for (uint64_t i = 1; i <= 64; ++i) ASSERT_TRUE(opens(*device, sealed(*guest, i)));
  ASSERT_EQ(device->key_epoch(Dir::kGuestToDevice, 0), 3u);
  for (uint64_t i = 1; i <= 5; ++i) {
    Descriptor c = sealed(*device, i, 0, Dir::kDeviceToGuest);
    EXPECT_EQ(seq_key_epoch(c.hdr.seq.get()), std::min<uint64_t>(i, 3));
    EXPECT_TRUE(opens(*guest, c, Dir::kDeviceToGuest)) << i;
  }
  EXPECT_EQ(device->rekey_stats().tx_rekeys, 3u);
  EXPECT_EQ(guest->rekey_stats().rx_rekeys, 3u);
  // Queue 1 heard nothing from the guest: its answers stay in epoch 0.
  EXPECT_EQ(seq_key_epoch(sealed(*device, 1, 1, Dir::kDeviceToGuest).hdr.seq.get()), 0u);
}

TEST_P(Rekey, skipped_epochs_are_derived_but_a_far_future_or_forged_epoch_is_refused) {
  auto guest = make({.after_messages = 16});
  std::vector<Descriptor> ds;
  for (uint64_t i = 1; i <= 16 * 7; ++i) ds.push_back(sealed(*guest, i));
  auto device = make();
  ASSERT_TRUE(opens(*device, ds[0]));
  // Epochs 1..3 lost: epoch 4 is within reach.
  ASSERT_TRUE(opens(*device, ds[16 * 4]));
  EXPECT_EQ(device->key_epoch(Dir::kGuestToDevice, 0), 4u);
  // The epoch before (3) is the previous one and still opens.
  EXPECT_TRUE(opens(*device, ds[16 * 4 - 1]));
  // A forged descriptor claiming epoch 5 does not move the receiver.
  Descriptor forged = ds[16 * 5];
  forged.tag[0] ^= 1;
  EXPECT_FALSE(opens(*device, forged));
  EXPECT_EQ(device->key_epoch(Dir::kGuestToDevice, 0), 4u);
  // Epoch 4 + 5 is beyond kMaxKeyEpochSkip.
  Descriptor far = ds[16 * 4 + 1];
  far.hdr.seq.set(uint64_t{4 + kMaxKeyEpochSkip + 1} << kKeyEpochShift | 66);
  EXPECT_FALSE(opens(*device, far));
  EXPECT_EQ(device->rekey_stats().epoch_rejects, 1u);
  EXPECT_TRUE(opens(*device, ds[16 * 6]));
  EXPECT_EQ(device->key_epoch(Dir::kGuestToDevice, 0), 6u);
}

INSTANTIATE_TEST_SUITE_P(
    Levels, Rekey,
    ::testing::Combine(::testing::Values(AeadImpl::kIpsecMb, AeadImpl::kOpenSsl),
                       ::testing::Values(Security::kIntegrity, Security::kConfidential)));

// Long: 65540 epochs. One implementation and level is enough.
class RekeyWrap : public Rekey {};

TEST_P(RekeyWrap, the_epoch_wraps_past_sixteen_bits) {
  auto guest = make({.after_messages = 16});
  auto device = make();
  const uint64_t n = 16 * 65540ull;
  for (uint64_t i = 1; i <= n; ++i) {
    Descriptor d = sealed(*guest, i);
    if (i % 16 == 0 || i == n) {
      ASSERT_TRUE(opens(*device, d)) << i;  // one per epoch suffices
    }
  }
  EXPECT_EQ(guest->key_epoch(Dir::kGuestToDevice, 0), 65539u);
  EXPECT_EQ(device->key_epoch(Dir::kGuestToDevice, 0), 65539u);
}

INSTANTIATE_TEST_SUITE_P(Best, RekeyWrap,
                         ::testing::Values(Param{
                             ipsecmb_usable() ? AeadImpl::kIpsecMb : AeadImpl::kOpenSsl,
                             Security::kConfidential}));

TEST(RekeyHandshake, both_sides_derive_the_same_fresh_chains) {
  SessionParams p;
  p.n_queues = 2;
  p.channel = 3;
  Psk psk{};
  psk[0] = 7;
  auto lookup = [&](uint32_t, uint32_t) -> std::optional<Psk> { return psk; };
  std::set<std::vector<uint8_t>> seen;
  for (int run = 0; run < 2; ++run) {
    GuestHandshake g(psk, p, 1, 1, DmaGeometry{4096, 1024, 0x1000000});
    DeviceHandshakeResult res = device_handshake(g.hello(), lookup);
    ASSERT_TRUE(res.secrets) << res.error;
    std::string error;
    std::optional<SessionSecrets> mine = g.finish(res.answer, error);
    ASSERT_TRUE(mine) << error;
    for (size_t i = 0; i < mine->streams.size(); ++i) {
      EXPECT_EQ(mine->streams[i].chain, res.secrets->streams[i].chain);
      EXPECT_NE(mine->streams[i].chain, mine->streams[i].key);
      seen.emplace(mine->streams[i].chain.begin(), mine->streams[i].chain.end());
    }
    // Rekeyed traffic between the two sides of a real handshake.
    auto aead = Aead::create(AeadImpl::kOpenSsl);
    SessionCrypto guest(*aead, *mine), device(*aead, *res.secrets);
    guest.set_rekey({.after_messages = 16});
    for (uint64_t i = 1; i <= 40; ++i) {
      Descriptor d{};
      d.hdr.kind = static_cast<uint8_t>(Kind::kMmioRead);
      d.hdr.channel.set(3);
      d.hdr.seq.set(i);
      ASSERT_EQ(guest.seal(Dir::kGuestToDevice, d), Status::kOk);
      ASSERT_EQ(device.open(Dir::kGuestToDevice, d), Status::kOk) << i;
    }
    EXPECT_EQ(device.key_epoch(Dir::kGuestToDevice, 0), 2u);
  }
  EXPECT_EQ(seen.size(), 2 * 2 * (p.n_queues + 1u));  // every stream, every session: distinct
}

}  // namespace
}  // namespace ferry::proto
