// The session handshake end to end: both sides derive the same keys, a wrong PSK or a
// tampered message fails with a clear error, every handshake has fresh keys, and the
// messages survive fragmentation into kHandshake descriptors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <new>
#include <random>

#include "ferry/proto/handshake.h"
#include "proto_test_util.h"

namespace ferry::proto {
namespace {

Psk make_psk(uint8_t seed) {
  Psk p;
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(seed + 3 * i);
  return p;
}

constexpr uint32_t kDeviceId = 0xed;
constexpr uint32_t kGuestId = 7;
constexpr DmaGeometry kDma{4096, 1024, 0x1000000};

struct Outcome {
  std::optional<SessionSecrets> guest;
  DeviceHandshakeResult device;
  std::string guest_error;
};

Outcome run(const Psk &guest_psk, const Psk &device_psk, const SessionParams &p) {
  Outcome o;
  GuestHandshake g(guest_psk, p, kDeviceId, kGuestId, kDma);
  o.device = device_handshake(g.hello(), [&](uint32_t id, uint32_t) -> std::optional<Psk> {
    if (id == kDeviceId) return device_psk;
    return std::nullopt;
  });
  o.guest = g.finish(o.device.answer, o.guest_error);
  return o;
}

bool same_streams(const SessionSecrets &a, const SessionSecrets &b) {
  if (a.streams.size() != b.streams.size()) return false;
  for (size_t i = 0; i < a.streams.size(); ++i)
    if (a.streams[i].key != b.streams[i].key || a.streams[i].salt != b.streams[i].salt)
      return false;
  return true;
}

TEST(Handshake, both_sides_derive_identical_session_secrets) {
  for (uint8_t kb : {uint8_t{16}, uint8_t{32}}) {
    SessionParams p;
    p.key_bytes = kb;
    p.n_queues = 4;
    p.channel = 9;
    p.security = Security::kIntegrity;
    Outcome o = run(make_psk(1), make_psk(1), p);
    ASSERT_TRUE(o.guest.has_value()) << o.guest_error;
    ASSERT_TRUE(o.device.secrets.has_value()) << o.device.error;
    EXPECT_EQ(o.device.device_id, kDeviceId);
    const SessionSecrets &g = *o.guest, &d = *o.device.secrets;
    EXPECT_EQ(g.session_id, d.session_id);
    EXPECT_NE(g.session_id, 0u);
    EXPECT_EQ(g.params.n_queues, 4);
    EXPECT_EQ(d.params.n_queues, 4);
    EXPECT_EQ(d.params.channel, 9u);
    EXPECT_EQ(d.params.key_bytes, kb);
    EXPECT_EQ(d.params.security, Security::kIntegrity);
    EXPECT_EQ(g.streams.size(), g.n_streams());
    EXPECT_TRUE(same_streams(g, d));
    // Every stream has its own key and salt.
    for (size_t i = 0; i < g.streams.size(); ++i)
      for (size_t j = i + 1; j < g.streams.size(); ++j) {
        EXPECT_NE(g.streams[i].key, g.streams[j].key);
        EXPECT_NE(g.streams[i].salt, g.streams[j].salt);
      }
    // AES-128 uses only the first 16 bytes of the key array.
    if (kb == 16) {
      for (const StreamSecret &s : g.streams)
        EXPECT_TRUE(std::all_of(s.key.begin() + 16, s.key.end(), [](uint8_t b) { return !b; }));
    }
  }
}

TEST(Handshake, derived_keys_seal_on_one_side_and_open_on_the_other) {
  Outcome o = run(make_psk(2), make_psk(2), SessionParams{});
  ASSERT_TRUE(o.guest && o.device.secrets);
  auto aead = Aead::create_best();
  SessionCrypto guest(*aead, *o.guest), device(*aead, *o.device.secrets);
  Descriptor d{};
  d.hdr.kind = static_cast<uint8_t>(Kind::kMmioRead);
  d.hdr.seq.set(1);
  d.body.offset.set(0x20);
  ASSERT_EQ(guest.seal(Dir::kGuestToDevice, d), Status::kOk);
  ASSERT_EQ(device.open(Dir::kGuestToDevice, d), Status::kOk);
  EXPECT_EQ(d.body.offset.get(), 0x20u);
}

TEST(Handshake, wrong_psk_is_rejected_with_a_clear_error_on_both_sides) {
  Outcome o = run(make_psk(1), make_psk(2), SessionParams{});
  EXPECT_FALSE(o.device.secrets.has_value());
  EXPECT_NE(o.device.error.find("wrong PSK"), std::string::npos) << o.device.error;
  EXPECT_FALSE(o.guest.has_value());
  EXPECT_NE(o.guest_error.find("rejected"), std::string::npos) << o.guest_error;
  EXPECT_NE(o.guest_error.find("wrong PSK"), std::string::npos) << o.guest_error;
}

TEST(Handshake, accept_made_with_another_psk_does_not_authenticate) {
  SessionParams p;
  GuestHandshake g(make_psk(1), p, kDeviceId, kGuestId, kDma);
  // A device that knows a different PSK for this id cannot answer; neither can one that
  // forges an Accept for a Hello it re-MACed: simulate by answering a Hello of another guest.
  GuestHandshake other(make_psk(5), p, kDeviceId, kGuestId, kDma);
  auto res = device_handshake(other.hello(), [](uint32_t, uint32_t) { return make_psk(5); });
  ASSERT_TRUE(res.secrets.has_value());
  std::string err;
  EXPECT_FALSE(g.finish(res.answer, err).has_value());
  EXPECT_NE(err.find("did not authenticate"), std::string::npos) << err;
}

TEST(Handshake, any_tampered_hello_byte_is_rejected) {
  SessionParams p;
  GuestHandshake g(make_psk(1), p, kDeviceId, kGuestId, kDma);
  std::vector<uint8_t> hello = g.hello();
  auto lookup = [](uint32_t id, uint32_t) -> std::optional<Psk> {
    return id == kDeviceId ? std::optional<Psk>(make_psk(1)) : std::nullopt;
  };
  for (size_t i = 0; i < hello.size(); ++i) {
    auto h = hello;
    h[i] ^= 0x01;
    auto res = device_handshake(h, lookup);
    EXPECT_FALSE(res.secrets.has_value()) << "byte " << i;
    EXPECT_FALSE(res.error.empty()) << "byte " << i;
    EXPECT_FALSE(res.answer.empty()) << "a reject is sent back, byte " << i;
  }
}

TEST(Handshake, any_tampered_accept_byte_is_rejected_by_the_guest) {
  SessionParams p;
  const Psk psk = make_psk(3);
  auto lookup = [&](uint32_t, uint32_t) -> std::optional<Psk> { return psk; };
  GuestHandshake probe(psk, p, kDeviceId, kGuestId, kDma);
  size_t accept_size = device_handshake(probe.hello(), lookup).answer.size();
  for (size_t i = 0; i < accept_size; ++i) {
    GuestHandshake g(psk, p, kDeviceId, kGuestId, kDma);
    auto res = device_handshake(g.hello(), lookup);
    ASSERT_TRUE(res.secrets.has_value());
    auto a = res.answer;
    a[i] ^= 0x80;
    std::string err;
    EXPECT_FALSE(g.finish(a, err).has_value()) << "byte " << i;
    EXPECT_FALSE(err.empty());
    // The genuine answer still completes: a forged message does not burn the attempt.
    EXPECT_TRUE(g.finish(res.answer, err).has_value()) << err;
  }
}

TEST(Handshake, truncated_or_extended_messages_are_malformed) {
  SessionParams p;
  GuestHandshake g(make_psk(1), p, kDeviceId, kGuestId, kDma);
  auto lookup = [](uint32_t, uint32_t) -> std::optional<Psk> { return make_psk(1); };
  std::vector<uint8_t> hello = g.hello();
  for (size_t n = 0; n < hello.size(); ++n) {
    auto res = device_handshake(std::span(hello).first(n), lookup);
    EXPECT_FALSE(res.secrets.has_value());
    EXPECT_NE(res.error.find("bytes"), std::string::npos) << res.error;
  }
  hello.push_back(0);
  EXPECT_FALSE(device_handshake(hello, lookup).secrets.has_value());
  auto good = device_handshake(g.hello(), lookup);
  std::string err;
  for (size_t n = 0; n < good.answer.size(); ++n)
    EXPECT_FALSE(g.finish(std::span(good.answer).first(n), err).has_value()) << n;
}

TEST(Handshake, unknown_device_is_rejected) {
  GuestHandshake g(make_psk(1), SessionParams{}, 12345, kGuestId, kDma);
  auto res =
      device_handshake(g.hello(), [](uint32_t, uint32_t) -> std::optional<Psk> { return {}; });
  EXPECT_FALSE(res.secrets.has_value());
  EXPECT_EQ(res.device_id, 12345u);
  EXPECT_NE(res.error.find("unknown device"), std::string::npos) << res.error;
  std::string err;
  EXPECT_FALSE(g.finish(res.answer, err).has_value());
  EXPECT_NE(err.find("unknown device"), std::string::npos) << err;
}

TEST(Handshake, every_handshake_gets_fresh_keys_and_session_id) {
  std::vector<SessionSecrets> all;
  for (int i = 0; i < 4; ++i) {
    Outcome o = run(make_psk(1), make_psk(1), SessionParams{});
    ASSERT_TRUE(o.guest.has_value()) << o.guest_error;
    all.push_back(std::move(*o.guest));
  }
  for (size_t i = 0; i < all.size(); ++i)
    for (size_t j = i + 1; j < all.size(); ++j) {
      EXPECT_FALSE(same_streams(all[i], all[j]));
      EXPECT_NE(all[i].streams[0].key, all[j].streams[0].key);
      EXPECT_NE(all[i].session_id, all[j].session_id);
    }
}

TEST(Handshake, hello_is_fresh_per_attempt) {
  GuestHandshake a(make_psk(1), SessionParams{}, kDeviceId, kGuestId, kDma);
  GuestHandshake b(make_psk(1), SessionParams{}, kDeviceId, kGuestId, kDma);
  EXPECT_NE(a.hello(), b.hello());
}

TEST(Handshake, finish_works_once) {
  GuestHandshake g(make_psk(1), SessionParams{}, kDeviceId, kGuestId, kDma);
  auto res =
      device_handshake(g.hello(), [](uint32_t, uint32_t) { return std::optional(make_psk(1)); });
  std::string err;
  ASSERT_TRUE(g.finish(res.answer, err).has_value()) << err;
  EXPECT_FALSE(g.finish(res.answer, err).has_value());
  EXPECT_NE(err.find("already finished"), std::string::npos) << err;
}

TEST(Handshake, guest_handshake_wipes_its_secrets_when_destroyed) {
  const Psk psk = make_psk(0x41);
  alignas(GuestHandshake) unsigned char storage[sizeof(GuestHandshake)];
  auto *g = new (storage) GuestHandshake(psk, SessionParams{}, kDeviceId, kGuestId, kDma);
  ASSERT_NE(std::search(storage, storage + sizeof(storage), psk.begin(), psk.end()),
            storage + sizeof(storage))
      << "test assumption: the PSK lives inside the object";
  g->~GuestHandshake();
  EXPECT_EQ(std::search(storage, storage + sizeof(storage), psk.begin(), psk.end()),
            storage + sizeof(storage))
      << "PSK still in memory after destruction";
}

TEST(Handshake, invalid_parameters_are_refused_before_anything_is_sent) {
  SessionParams p;
  p.n_queues = 0;
  EXPECT_THROW(GuestHandshake(make_psk(1), p, 1, kGuestId, kDma), std::invalid_argument);
  p.n_queues = kMaxQueues + 1;
  EXPECT_THROW(GuestHandshake(make_psk(1), p, 1, kGuestId, kDma), std::invalid_argument);
  p.n_queues = 1;
  p.key_bytes = 24;
  EXPECT_THROW(GuestHandshake(make_psk(1), p, 1, kGuestId, kDma), std::invalid_argument);
}

TEST(Handshake, hello_carries_the_guest_id_and_dma_geometry_to_the_device) {
  const DmaGeometry dma{8192, 64, 0x2000000};
  GuestHandshake g(make_psk(1), SessionParams{}, kDeviceId, 42, dma);
  uint32_t asked_guest = 0;
  auto res = device_handshake(g.hello(), [&](uint32_t, uint32_t guest) -> std::optional<Psk> {
    asked_guest = guest;
    return make_psk(1);
  });
  ASSERT_TRUE(res.secrets.has_value()) << res.error;
  EXPECT_EQ(asked_guest, 42u);
  EXPECT_EQ(res.guest_id, 42u);
  EXPECT_EQ(res.dma, dma);
}

TEST(Handshake, a_tenant_with_its_own_psk_cannot_answer_another_guests_hello) {
  // Guests 7 and 8 of one device hold different PSKs: guest 8 playing the device node for
  // guest 7 can neither accept guest 7's Hello nor forge an Accept guest 7 takes.
  const Psk psk7 = make_psk(7), psk8 = make_psk(8);
  GuestHandshake victim(psk7, SessionParams{}, kDeviceId, 7, kDma);
  auto forged = device_handshake(victim.hello(), [&](uint32_t, uint32_t) { return psk8; });
  EXPECT_FALSE(forged.secrets.has_value());
  GuestHandshake tenant(psk8, SessionParams{}, kDeviceId, 7, kDma);  // claims guest 7's id
  auto accept = device_handshake(tenant.hello(), [&](uint32_t, uint32_t) { return psk8; });
  ASSERT_TRUE(accept.secrets.has_value());
  std::string err;
  EXPECT_FALSE(victim.finish(accept.answer, err).has_value());
  EXPECT_NE(err.find("did not authenticate"), std::string::npos) << err;
}

TEST(Handshake, dma_geometry_beyond_the_device_limits_is_rejected_as_unsupported) {
  GuestHandshake g(make_psk(1), SessionParams{}, kDeviceId, kGuestId, DmaGeometry{16384, 64, 0});
  auto lookup = [](uint32_t, uint32_t) { return std::optional(make_psk(1)); };
  auto res = device_handshake(g.hello(), lookup, DmaLimits{8192, 1024});
  EXPECT_FALSE(res.secrets.has_value());
  EXPECT_NE(res.error.find("chunk_size"), std::string::npos) << res.error;
  std::string err;
  EXPECT_FALSE(g.finish(res.answer, err).has_value());
  EXPECT_NE(err.find("unsupported"), std::string::npos) << err;
  EXPECT_THROW(GuestHandshake(make_psk(1), SessionParams{}, 1, 1, DmaGeometry{100, 1, 0}),
               std::invalid_argument);
  EXPECT_THROW(GuestHandshake(make_psk(1), SessionParams{}, 1, 1, DmaGeometry{4096, 0, 0}),
               std::invalid_argument);
}

TEST(Handshake, the_guests_confirm_is_what_the_device_expects_and_nothing_else_is) {
  GuestHandshake g(make_psk(1), SessionParams{}, kDeviceId, kGuestId, kDma);
  auto lookup = [](uint32_t, uint32_t) { return std::optional(make_psk(1)); };
  auto res = device_handshake(g.hello(), lookup);
  std::string err;
  EXPECT_TRUE(g.confirm().empty());
  ASSERT_TRUE(g.finish(res.answer, err).has_value()) << err;
  EXPECT_TRUE(confirm_matches(res.confirm, g.confirm()));
  for (size_t i = 0; i < g.confirm().size(); ++i) {
    std::vector<uint8_t> c = g.confirm();
    c[i] ^= 0x04;
    EXPECT_FALSE(confirm_matches(res.confirm, c)) << "byte " << i;
  }
  // The same Hello replayed gets a fresh Accept: the recorded Confirm does not confirm it,
  // and without the guest's ephemeral key nobody can make the one that does.
  auto replayed = device_handshake(g.hello(), lookup);
  ASSERT_TRUE(replayed.secrets.has_value());
  EXPECT_FALSE(confirm_matches(replayed.confirm, g.confirm()));
  EXPECT_FALSE(confirm_matches(res.confirm, std::span(g.confirm()).first(20)));
}

TEST(Handshake, a_forged_reject_leaves_the_attempt_usable_for_the_genuine_accept) {
  GuestHandshake g(make_psk(1), SessionParams{}, kDeviceId, kGuestId, kDma);
  auto res = device_handshake(g.hello(), [](uint32_t, uint32_t) { return make_psk(1); });
  const std::vector<uint8_t> reject = {static_cast<uint8_t>(HandshakeMsg::kReject), kProtoVersion,
                                       3, 0};
  std::string err;
  EXPECT_FALSE(g.finish(reject, err).has_value());
  EXPECT_NE(err.find("unauthenticated"), std::string::npos) << err;
  EXPECT_TRUE(g.finish(res.answer, err).has_value()) << err;
}

// --- fragments -------------------------------------------------------------------------

TEST(HandshakeFragments, message_survives_fragmentation_in_any_order_with_duplicates) {
  GuestHandshake g(make_psk(1), SessionParams{}, kDeviceId, kGuestId, kDma);
  auto frags = handshake_fragments(17, HandshakeMsg::kHello, g.hello());
  ASSERT_EQ(frags.size(), (g.hello().size() + kHandshakeFragment - 1) / kHandshakeFragment);
  for (const Descriptor &d : frags) {
    EXPECT_EQ(d.hdr.kind, static_cast<uint8_t>(Kind::kHandshake));
    EXPECT_EQ(d.hdr.channel.get(), 17u);
    EXPECT_EQ(d.hdr.queue.get(), 0);
  }
  std::mt19937_64 rng(3);
  for (int round = 0; round < 20; ++round) {
    std::vector<Descriptor> order = frags;
    order.insert(order.end(), frags.begin(), frags.end() - 1);  // duplicates
    std::shuffle(order.begin(), order.end(), rng);
    HandshakeAssembler a;
    bool done = false;
    for (const Descriptor &d : order) {
      if (a.add(d)) {
        done = true;
        break;
      }
    }
    ASSERT_TRUE(done);
    EXPECT_EQ(a.type(), HandshakeMsg::kHello);
    EXPECT_EQ(std::vector<uint8_t>(a.message().begin(), a.message().end()), g.hello());
    EXPECT_EQ(a.malformed(), 0u);
  }
}

TEST(HandshakeFragments, malformed_fragments_are_ignored_and_counted) {
  std::vector<uint8_t> msg(100, 0xab);
  auto frags = handshake_fragments(1, HandshakeMsg::kAccept, msg);
  HandshakeAssembler a;
  Descriptor wrong_kind = frags[0];
  wrong_kind.hdr.kind = static_cast<uint8_t>(Kind::kMmioRead);
  Descriptor wrong_version = frags[0];
  wrong_version.hdr.version = 99;
  Descriptor bad_index = frags[0];
  bad_index.hdr.seq.set(bad_index.hdr.seq.get() | (uint64_t{5} << 8));  // index >= count
  Descriptor bad_total = frags[0];
  bad_total.hdr.seq.set((bad_total.hdr.seq.get() & 0xffffffffull) | (uint64_t{9999} << 32));
  Descriptor bad_type = frags[0];
  bad_type.hdr.seq.set((bad_type.hdr.seq.get() & ~0xffull) | 9);
  Descriptor too_many = frags[0];
  too_many.hdr.seq.set((too_many.hdr.seq.get() & ~(0xffull << 16)) | (uint64_t{9} << 16));
  for (const Descriptor *d :
       {&wrong_kind, &wrong_version, &bad_index, &bad_total, &bad_type, &too_many})
    EXPECT_FALSE(a.add(*d));
  EXPECT_EQ(a.malformed(), 6u);
  EXPECT_FALSE(a.add(frags[0]));
  EXPECT_FALSE(a.add(frags[1]));
  EXPECT_TRUE(a.add(frags[2]));
  EXPECT_EQ(std::vector<uint8_t>(a.message().begin(), a.message().end()), msg);
}

TEST(HandshakeFragments, a_new_message_replaces_an_unfinished_one) {
  std::vector<uint8_t> first(100, 1), second(50, 2);
  auto f1 = handshake_fragments(1, HandshakeMsg::kHello, first);
  auto f2 = handshake_fragments(1, HandshakeMsg::kHello, second);
  HandshakeAssembler a;
  EXPECT_FALSE(a.add(f1[0]));
  EXPECT_FALSE(a.add(f2[0]));
  EXPECT_TRUE(a.add(f2[1]));
  EXPECT_EQ(std::vector<uint8_t>(a.message().begin(), a.message().end()), second);
  // After completion the next fragment starts over.
  EXPECT_FALSE(a.add(f1[0]));
  EXPECT_FALSE(a.add(f1[1]));
  EXPECT_TRUE(a.add(f1[2]));
  EXPECT_EQ(std::vector<uint8_t>(a.message().begin(), a.message().end()), first);
}

TEST(HandshakeFragments, oversized_or_empty_messages_are_refused) {
  std::vector<uint8_t> big(8 * kHandshakeFragment + 1), empty;
  EXPECT_THROW(handshake_fragments(1, HandshakeMsg::kHello, big), std::invalid_argument);
  EXPECT_THROW(handshake_fragments(1, HandshakeMsg::kHello, empty), std::invalid_argument);
  std::vector<uint8_t> max(8 * kHandshakeFragment, 7);
  EXPECT_EQ(handshake_fragments(1, HandshakeMsg::kHello, max).size(), 8u);
}

// --- PSK files --------------------------------------------------------------------------

class PskFile : public ::testing::Test {
 protected:
  std::string write(const std::string &bytes) {
    path_ = ::testing::TempDir() + "ferry_psk_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::ofstream(path_, std::ios::binary) << bytes;
    return path_;
  }
  void TearDown() override {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  std::string path_;
};

TEST_F(PskFile, reads_32_raw_bytes) {
  std::string raw(32, '\0');
  for (int i = 0; i < 32; ++i) raw[i] = static_cast<char>(i * 5);
  Psk p = read_psk_file(write(raw));
  for (int i = 0; i < 32; ++i) EXPECT_EQ(p[i], static_cast<uint8_t>(i * 5));
}

TEST_F(PskFile, reads_64_hex_characters_with_a_trailing_newline) {
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "a" + std::string(1, "0123456789ABCDEF"[i % 16]);
  Psk p = read_psk_file(write(hex + "\n"));
  EXPECT_EQ(p[0], 0xa0);
  EXPECT_EQ(p[15], 0xaf);
}

TEST_F(PskFile, wrong_length_names_the_file_and_the_problem) {
  std::string path = write("too short\n");
  try {
    read_psk_file(path);
    FAIL() << "expected an error";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("64 hex"), std::string::npos) << e.what();
  }
}

TEST_F(PskFile, non_hex_characters_are_refused) {
  EXPECT_THROW(read_psk_file(write(std::string(63, 'a') + "g")), std::runtime_error);
}

TEST_F(PskFile, missing_file_is_an_error) {
  EXPECT_THROW(read_psk_file("/nonexistent/ferry.psk"), std::runtime_error);
}

}  // namespace
}  // namespace ferry::proto
