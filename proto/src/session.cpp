// Sealing of descriptors and DMA chunks with a session's expanded keys.
//
//   confidential  AES-GCM: body encrypted, header authenticated as AAD
//   integrity     AES-GMAC over header || body; the body stays in clear
//   none          nothing sealed or checked; the tag is zero
#include "ferry/proto/session.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "aead_internal.h"

namespace ferry::proto {

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
  streams_.reserve(secrets.streams.size());
  for (const StreamSecret &s : secrets.streams)
    streams_.push_back(Stream{aead_.expand({s.key.data(), params_.key_bytes}), s.salt});
}

SessionCrypto::~SessionCrypto() = default;  // AeadKeys wipe themselves

const SessionCrypto::Stream &SessionCrypto::stream(Dir dir, uint16_t index) const {
  return streams_[SessionSecrets::stream_index(params_, dir, index)];
}

Status SessionCrypto::seal(Dir dir, Descriptor &d) {
  uint16_t q = d.hdr.queue.get();
  if (q >= params_.n_queues) [[unlikely]]
    return Status::kBadLength;
  d.hdr.version = kProtoVersion;
  auto *raw = reinterpret_cast<uint8_t *>(&d);
  switch (params_.security) {
    case Security::kNone:
      std::memset(d.tag, 0, kTagSize);
      return Status::kOk;
    case Security::kIntegrity: {
      const Stream &s = stream(dir, q);
      aead_.seal(*s.key, Nonce::make(s.salt, d.hdr.seq.get()),
                 {raw, sizeof(DescHeader) + sizeof(DescBody)}, nullptr, nullptr, 0, d.tag);
      return Status::kOk;
    }
    case Security::kConfidential: {
      const Stream &s = stream(dir, q);
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
  if (st != Status::kOk) [[unlikely]] {
    std::memset(&d.body, 0, sizeof(d.body));
    return st;
  }
  uint16_t q = d.hdr.queue.get();
  if (q >= params_.n_queues) [[unlikely]] {
    std::memset(&d.body, 0, sizeof(d.body));
    return Status::kBadLength;
  }
  auto *raw = reinterpret_cast<uint8_t *>(&d);
  bool ok = true;
  switch (params_.security) {
    case Security::kNone:
      return Status::kOk;
    case Security::kIntegrity: {
      const Stream &s = stream(dir, q);
      ok = aead_.open(*s.key, Nonce::make(s.salt, d.hdr.seq.get()),
                      {raw, sizeof(DescHeader) + sizeof(DescBody)}, nullptr, nullptr, 0, d.tag);
      if (!ok) std::memset(&d.body, 0, sizeof(d.body));
      break;
    }
    case Security::kConfidential: {
      const Stream &s = stream(dir, q);
      uint8_t *body = raw + offsetof(Descriptor, body);
      ok = aead_.open(*s.key, Nonce::make(s.salt, d.hdr.seq.get()), {raw, sizeof(DescHeader)}, body,
                      body, sizeof(DescBody), d.tag);  // zeroes the body on failure
      break;
    }
  }
  return ok ? Status::kOk : Status::kAuthFailed;
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
