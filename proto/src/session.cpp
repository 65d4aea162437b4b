// Sealing of descriptors and DMA chunks with a session's expanded keys.
//
//   confidential  AES-GCM: body encrypted, header authenticated as AAD
//   integrity     AES-GMAC over header || body; the body stays in clear
//   none          nothing sealed or checked; the tag is zero
#include "ferry/proto/session.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "aead_internal.h"
#include "ferry/proto/idle.h"

namespace ferry::proto {

namespace {

constexpr char kRekeyLabel[] = "ferry rekey";  // 11 bytes on the wire, no terminator
constexpr size_t kRekeyOkm = 32 + 32 + 4;      // chain || key || salt

}  // namespace

void rekey_step(const std::array<uint8_t, 32> &chain, uint64_t next_epoch, StreamSecret &out) {
  uint8_t info[sizeof(kRekeyLabel) - 1 + 8];
  std::memcpy(info, kRekeyLabel, sizeof(kRekeyLabel) - 1);
  for (int i = 0; i < 8; ++i)
    info[sizeof(kRekeyLabel) - 1 + i] = static_cast<uint8_t>(next_epoch >> (56 - 8 * i));
  uint8_t okm[kRekeyOkm];
  EVP_KDF *kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  EVP_KDF_free(kdf);
  char digest[] = "SHA256";
  char mode[] = "EXPAND_ONLY";
  OSSL_PARAM p[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, mode, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t *>(chain.data()),
                                        chain.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info)),
      OSSL_PARAM_construct_end(),
  };
  const bool ok = kctx != nullptr && EVP_KDF_derive(kctx, okm, sizeof(okm), p) == 1;
  EVP_KDF_CTX_free(kctx);
  if (!ok) {
    secure_wipe(okm, sizeof(okm));
    throw std::runtime_error("rekey: HKDF-SHA256-Expand failed");
  }
  std::memcpy(out.chain.data(), okm, 32);
  std::memcpy(out.key.data(), okm + 32, 32);
  out.salt = uint32_t{okm[64]} << 24 | uint32_t{okm[65]} << 16 | uint32_t{okm[66]} << 8 |
             uint32_t{okm[67]};
  secure_wipe(okm, sizeof(okm));
}

SessionSecrets::~SessionSecrets() {
  if (!streams.empty()) secure_wipe(streams.data(), streams.size() * sizeof(StreamSecret));
  session_id = 0;
}

ChunkAad make_chunk_aad(uint32_t channel, uint64_t addr, uint32_t len, Writer writer,
                        uint64_t version) {
  ChunkAad a{};
  a.magic.set(kChunkAadMagic);
  a.channel.set(channel);
  a.addr.set(addr);
  a.len.set(len);
  a.writer = static_cast<uint8_t>(writer);
  a.version.set(version);
  return a;
}

SessionCrypto::SessionCrypto(Aead &aead, const SessionSecrets &secrets)
    : aead_(aead), params_(secrets.params), session_id_(secrets.session_id) {
  if (params_.n_queues == 0 || params_.n_queues > kMaxQueues)
    throw std::invalid_argument("session: n_queues " + std::to_string(params_.n_queues) +
                                " outside 1.." + std::to_string(kMaxQueues));
  if (params_.key_bytes != 16 && params_.key_bytes != 32)
    throw std::invalid_argument("session: key_bytes must be 16 or 32");
  if (params_.security > Security::kConfidential)
    throw std::invalid_argument("session: unknown security level");
  if (secrets.streams.size() != secrets.n_streams())
    throw std::invalid_argument("session: " + std::to_string(secrets.streams.size()) +
                                " stream secrets for " + std::to_string(secrets.n_streams()) +
                                " streams");
  if (params_.security == Security::kIntegrity && !dynamic_cast<detail::AeadMac2 *>(&aead_))
    throw std::invalid_argument("session: this Aead cannot do integrity-only DMA chunks");
  streams_.resize(secrets.streams.size());
  for (size_t i = 0; i < streams_.size(); ++i) {
    const StreamSecret &s = secrets.streams[i];
    streams_[i].key = aead_.expand({s.key.data(), params_.key_bytes});
    streams_[i].salt = s.salt;
    streams_[i].chain = s.chain;
  }
}

SessionCrypto::~SessionCrypto() {
  // AeadKeys wipe themselves; the chain secrets are ours.
  for (Stream &s : streams_) secure_wipe(s.chain.data(), s.chain.size());
}

const SessionCrypto::Stream &SessionCrypto::stream(Dir dir, uint16_t index) const {
  return streams_[SessionSecrets::stream_index(params_, dir, index)];
}

SessionCrypto::Stream &SessionCrypto::stream(Dir dir, uint16_t index) {
  return streams_[SessionSecrets::stream_index(params_, dir, index)];
}

void SessionCrypto::step(Stream &s, uint64_t now_ns) {
  StreamSecret next;
  rekey_step(s.chain, s.key_epoch + 1, next);
  s.key = aead_.expand({next.key.data(), params_.key_bytes});  // the old key wipes itself
  s.salt = next.salt;
  s.chain = next.chain;
  secure_wipe(&next, sizeof(next));
  ++s.key_epoch;
  s.sealed_in_key_epoch = 0;
  s.key_epoch_start_ns = now_ns;
  ++rekey_stats_.tx_rekeys;
}

bool SessionCrypto::rekey_due(const Stream &s, const Stream &peer, uint64_t &now_ns) const {
  if (rekey_.after_messages != 0 && s.sealed_in_key_epoch >= rekey_.after_messages) return true;
  if (peer.key_epoch > s.key_epoch) return true;  // follow the other direction of this queue
  if (rekey_.after_ns != 0) {
    now_ns = proto::now_ns();
    return s.sealed_in_key_epoch != 0 && now_ns - s.key_epoch_start_ns >= rekey_.after_ns;
  }
  return false;
}

void SessionCrypto::wipe_prev(Stream &s) {
  if (!s.prev_key) return;
  s.prev_key.reset();  // wipes itself
  s.prev_salt = 0;
  --prev_keys_held_;
  ++rekey_stats_.old_keys_wiped;
}

size_t SessionCrypto::expire_old_keys() {
  if (prev_keys_held_ == 0) return 0;
  const uint64_t now = proto::now_ns();
  size_t wiped = 0;
  for (Stream &s : streams_) {
    if (s.prev_key && now - s.switched_ns >= rekey_.overlap_ns) {
      wipe_prev(s);
      ++wiped;
    }
  }
  return wiped;
}

bool SessionCrypto::trial_allowed() {
  if (trial_tokens_ != 0) return true;
  const uint64_t earned = (proto::now_ns() - trials_spent_ns_) / kEpochTrialRefillNs;
  if (earned == 0) return false;
  trial_tokens_ = static_cast<uint32_t>(std::min<uint64_t>(earned, kEpochTrialBurst));
  return true;
}

void SessionCrypto::trial_failed() {
  if (trial_tokens_ != 0 && --trial_tokens_ == 0) trials_spent_ns_ = proto::now_ns();
}

bool SessionCrypto::open_with(Descriptor &d, const AeadKey &key, uint32_t salt) {
  auto *raw = reinterpret_cast<uint8_t *>(&d);
  const Nonce n = Nonce::make(salt, d.hdr.seq.get());
  if (params_.security == Security::kIntegrity) {
    bool ok = aead_.open(key, n, {raw, sizeof(DescHeader) + sizeof(DescBody)}, nullptr, nullptr, 0,
                         d.tag);
    if (!ok) std::memset(&d.body, 0, sizeof(d.body));
    return ok;
  }
  uint8_t *body = raw + offsetof(Descriptor, body);
  return aead_.open(key, n, {raw, sizeof(DescHeader)}, body, body, sizeof(DescBody),
                    d.tag);  // zeroes the body on failure
}

bool SessionCrypto::open_key_epoch(Stream &s, Descriptor &d) {
  const uint64_t wire = d.hdr.seq.get();
  const uint64_t counter = seq_counter(wire);
  const auto delta =
      static_cast<uint16_t>(seq_key_epoch(wire) - static_cast<uint16_t>(s.key_epoch));
  if (delta == 0) {
    if (!open_with(d, *s.key, s.salt)) return false;
    if (s.first_counter == 0 || counter < s.first_counter) s.first_counter = counter;
    if (s.prev_key && (counter >= s.first_counter + rekey_.overlap_messages ||
                       proto::now_ns() - s.switched_ns >= rekey_.overlap_ns))
      wipe_prev(s);
    return true;
  }
  if (delta == UINT16_MAX) {  // the previous epoch: reordered across the switch
    if (s.prev_key && proto::now_ns() - s.switched_ns >= rekey_.overlap_ns) wipe_prev(s);
    if (!s.prev_key) {
      ++rekey_stats_.epoch_rejects;
      std::memset(&d.body, 0, sizeof(d.body));
      return false;
    }
    return open_with(d, *s.prev_key, s.prev_salt);
  }
  if (delta > kMaxKeyEpochSkip) {
    ++rekey_stats_.epoch_rejects;
    std::memset(&d.body, 0, sizeof(d.body));
    return false;
  }
  if (!trial_allowed()) [[unlikely]] {  // forgeries spent the budget: not worth a KDF run
    ++rekey_stats_.epoch_trials_refused;
    std::memset(&d.body, 0, sizeof(d.body));
    return false;
  }
  // A later epoch: derive it on trial; keep it only if the descriptor authenticates.
  StreamSecret prev, next;
  bool ok = false;
  try {
    for (uint16_t i = 1; i <= delta; ++i) {
      if (i > 1) prev = std::move(next);
      rekey_step(i > 1 ? prev.chain : s.chain, s.key_epoch + i, next);
    }
    std::unique_ptr<AeadKey> key = aead_.expand({next.key.data(), params_.key_bytes});
    std::unique_ptr<AeadKey> before =
        delta == 1 ? nullptr : aead_.expand({prev.key.data(), params_.key_bytes});
    ok = open_with(d, *key, next.salt);
    if (ok) commit(s, std::move(key), std::move(before), prev.salt, next, delta, counter);
  } catch (const std::exception &) {
    std::memset(&d.body, 0, sizeof(d.body));  // the KDF or an allocation failed
    ok = false;
  }
  secure_wipe(&prev, sizeof(prev));
  secure_wipe(&next, sizeof(next));
  if (!ok) trial_failed();
  return ok;
}

void SessionCrypto::commit(Stream &s, std::unique_ptr<AeadKey> key, std::unique_ptr<AeadKey> before,
                           uint32_t before_salt, const StreamSecret &next, uint16_t delta,
                           uint64_t counter) {
  if (s.prev_key)
    ++rekey_stats_.old_keys_wiped;  // two epochs back: replaced below
  else
    ++prev_keys_held_;
  if (delta == 1) {
    s.prev_key = std::move(s.key);
    s.prev_salt = s.salt;
  } else {
    s.prev_key = std::move(before);
    s.prev_salt = before_salt;
  }
  s.key = std::move(key);
  s.salt = next.salt;
  s.chain = next.chain;
  s.key_epoch += delta;
  s.first_counter = counter;
  s.switched_ns = proto::now_ns();
  rekey_stats_.rx_rekeys += delta;
}

Status SessionCrypto::seal(Dir dir, Descriptor &d) {
  uint16_t q = d.hdr.queue.get();
  const uint64_t counter = d.hdr.seq.get();
  if (q >= params_.n_queues || counter > kCounterMask) [[unlikely]]
    return Status::kBadLength;
  if (!is_sealed_kind(d.hdr.kind)) [[unlikely]]
    return Status::kBadKind;
  d.hdr.version = kProtoVersion;
  // The kind goes into the body, sealed with it; the header says only "sealed".
  d.body.kind = d.hdr.kind;
  d.hdr.kind = static_cast<uint8_t>(Kind::kSealed);
  auto *raw = reinterpret_cast<uint8_t *>(&d);
  if (params_.security == Security::kNone) {
    std::memset(d.tag, 0, kTagSize);
    return Status::kOk;
  }
  Stream &s = stream(dir, q);
  const Stream &peer =
      stream(dir == Dir::kGuestToDevice ? Dir::kDeviceToGuest : Dir::kGuestToDevice, q);
  uint64_t now = 0;
  if (rekey_due(s, peer, now)) [[unlikely]] {
    try {
      step(s, now != 0 ? now : proto::now_ns());
    } catch (const std::exception &) {
      return Status::kInternal;  // the KDF or an allocation failed: nothing sealed
    }
  }
  if (s.sealed_in_key_epoch++ == 0 && s.key_epoch_start_ns == 0 && rekey_.after_ns != 0)
    s.key_epoch_start_ns = now != 0 ? now : proto::now_ns();
  d.hdr.seq.set((s.key_epoch & 0xffff) << kKeyEpochShift | counter);
  switch (params_.security) {
    case Security::kNone:
      return Status::kOk;
    case Security::kIntegrity: {
      aead_.seal(*s.key, Nonce::make(s.salt, d.hdr.seq.get()),
                 {raw, sizeof(DescHeader) + sizeof(DescBody)}, nullptr, nullptr, 0, d.tag);
      return Status::kOk;
    }
    case Security::kConfidential: {
      uint8_t *body = raw + offsetof(Descriptor, body);
      aead_.seal(*s.key, Nonce::make(s.salt, d.hdr.seq.get()), {raw, sizeof(DescHeader)}, body,
                 body, sizeof(DescBody), d.tag);
      return Status::kOk;
    }
  }
  return Status::kInternal;
}

Status SessionCrypto::open(Dir dir, Descriptor &d) {
  Status st = check_header(d);
  if (st == Status::kOk && d.hdr.kind != static_cast<uint8_t>(Kind::kSealed)) [[unlikely]]
    st = Status::kBadKind;  // a handshake fragment is never opened here
  if (st != Status::kOk) [[unlikely]] {
    std::memset(&d.body, 0, sizeof(d.body));
    return st;
  }
  uint16_t q = d.hdr.queue.get();
  if (q >= params_.n_queues) [[unlikely]] {
    std::memset(&d.body, 0, sizeof(d.body));
    return Status::kBadLength;
  }
  if (params_.security != Security::kNone && !open_key_epoch(stream(dir, q), d)) [[unlikely]]
    return Status::kAuthFailed;
  // Authentic: only now is the sealed kind looked at. One no sender makes is malformed.
  if (!is_sealed_kind(d.body.kind)) [[unlikely]] {
    std::memset(&d.body, 0, sizeof(d.body));
    return Status::kBadKind;
  }
  d.hdr.kind = d.body.kind;
  return Status::kOk;
}

void SessionCrypto::seal_chunk(Dir dir, const ChunkAad &aad, const uint8_t *plain, uint8_t *sealed,
                               size_t len, uint8_t *tag) {
  const Stream &s = stream(dir, params_.n_queues);
  std::span<const uint8_t> a{reinterpret_cast<const uint8_t *>(&aad), sizeof(aad)};
  switch (params_.security) {
    case Security::kNone:
      if (sealed != plain && len != 0) std::memmove(sealed, plain, len);
      std::memset(tag, 0, kTagSize);
      return;
    case Security::kIntegrity:
      if (sealed != plain && len != 0) std::memmove(sealed, plain, len);
      static_cast<detail::AeadMac2 &>(aead_).mac2(*s.key, Nonce::make(s.salt, aad.version.get()), a,
                                                  {sealed, len}, tag);
      return;
    case Security::kConfidential:
      aead_.seal(*s.key, Nonce::make(s.salt, aad.version.get()), a, plain, sealed, len, tag);
      return;
  }
}

Status SessionCrypto::open_chunk(Dir dir, const ChunkAad &aad, const uint8_t *sealed,
                                 uint8_t *plain, size_t len, const uint8_t *tag) {
  if (aad.len.get() != len) [[unlikely]] {
    if (len != 0) std::memset(plain, 0, len);
    return Status::kBadLength;
  }
  const Stream &s = stream(dir, params_.n_queues);
  std::span<const uint8_t> a{reinterpret_cast<const uint8_t *>(&aad), sizeof(aad)};
  switch (params_.security) {
    case Security::kNone:
      if (sealed != plain && len != 0) std::memmove(plain, sealed, len);
      return Status::kOk;
    case Security::kIntegrity: {
      // Verify the bytes where they are, then copy: plain never holds unverified data.
      bool ok = static_cast<detail::AeadMac2 &>(aead_).verify2(
          *s.key, Nonce::make(s.salt, aad.version.get()), a, {sealed, len}, tag);
      if (!ok) {
        if (len != 0) std::memset(plain, 0, len);
        return Status::kAuthFailed;
      }
      if (sealed != plain && len != 0) std::memmove(plain, sealed, len);
      return Status::kOk;
    }
    case Security::kConfidential:
      return aead_.open(*s.key, Nonce::make(s.salt, aad.version.get()), a, sealed, plain, len, tag)
                 ? Status::kOk
                 : Status::kAuthFailed;
  }
  return Status::kInternal;
}

}  // namespace ferry::proto
