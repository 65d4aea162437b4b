// The session handshake (see handshake.h): wire messages, X25519, HMAC-SHA256 with the PSK,
// HKDF-SHA256 key schedule, fragmentation into kHandshake descriptors, and PSK files.
// Set-up path only: it allocates and may throw; the data path never calls it.
#include "ferry/proto/handshake.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace ferry::proto {
namespace {

constexpr size_t kRandomSize = 32;
constexpr size_t kPubSize = 32;
constexpr size_t kMacSize = 32;
constexpr size_t kMaxFragments = 8;
constexpr char kInfoLabel[] = "ferry v1 session";     // 16 bytes, no terminator on the wire
constexpr char kChainLabel[] = "ferry v1 rekey  ";    // 16 bytes: the rekey chains' info
constexpr char kConfirmLabel[] = "ferry v1 confirm";  // 16 bytes: the confirm key's info
constexpr size_t kStreamOkm = 32 + 4;                 // key (first key_bytes used) + salt

enum class RejectReason : uint8_t {
  kMalformed = 1,
  kUnknownDevice = 2,
  kAuthFailed = 3,
  kUnsupported = 4,
  kInternal = 5,
};

struct [[gnu::packed]] HelloWire {
  uint8_t msg;  // HandshakeMsg::kHello
  uint8_t version;
  uint8_t security;
  uint8_t key_bytes;
  le16 n_queues;
  le16 reserved;
  le32 channel;
  le32 device_id;
  le32 guest_id;  // selects the guest's own PSK on the device node
  le32 chunk_size;
  le32 n_chunks;
  le32 reserved2;
  le64 dma_base;
  uint8_t guest_random[kRandomSize];
  uint8_t guest_pub[kPubSize];
  uint8_t mac[kMacSize];  // HMAC-SHA256(PSK, every byte before it)
};
static_assert(sizeof(HelloWire) == 136);
static_assert(offsetof(HelloWire, guest_id) == 16);
static_assert(offsetof(HelloWire, dma_base) == 32);
static_assert(offsetof(HelloWire, guest_random) == 40);
static_assert(offsetof(HelloWire, mac) == 104);

struct [[gnu::packed]] AcceptWire {
  uint8_t msg;  // HandshakeMsg::kAccept
  uint8_t version;
  uint8_t reserved[2];
  le32 session_id;
  uint8_t device_random[kRandomSize];
  uint8_t device_pub[kPubSize];
  uint8_t mac[kMacSize];  // HMAC-SHA256(PSK, hello || every accept byte before it)
};
static_assert(sizeof(AcceptWire) == 104);
static_assert(offsetof(AcceptWire, mac) == 72);

struct [[gnu::packed]] RejectWire {  // unauthenticated: a hint for the operator
  uint8_t msg;                       // HandshakeMsg::kReject
  uint8_t version;
  uint8_t reason;  // RejectReason
  uint8_t reserved;
};
static_assert(sizeof(RejectWire) == 4);

struct [[gnu::packed]] ConfirmWire {
  uint8_t msg;  // HandshakeMsg::kConfirm
  uint8_t version;
  uint8_t reserved[2];
  le32 session_id;
  uint8_t mac[kMacSize];  // HMAC-SHA256(confirm key, hello || accept)
};
static_assert(sizeof(ConfirmWire) == 40);

static_assert(sizeof(HelloWire) <= kMaxFragments * kHandshakeFragment);

std::string_view reason_text(uint8_t r) {
  switch (static_cast<RejectReason>(r)) {
    case RejectReason::kMalformed:
      return "malformed hello";
    case RejectReason::kUnknownDevice:
      return "unknown device id or guest id";
    case RejectReason::kAuthFailed:
      return "hello did not authenticate (wrong PSK or tampered message)";
    case RejectReason::kUnsupported:
      return "unsupported session parameters";
    case RejectReason::kInternal:
      return "internal error on the device node";
  }
  return "unknown reason";
}

struct PkeyDeleter {
  void operator()(EVP_PKEY *p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX *p) const { EVP_PKEY_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;

// Wipes a fixed-size secret when it leaves scope.
template <size_t N>
struct Secret {
  std::array<uint8_t, N> b{};
  ~Secret() { secure_wipe(b.data(), N); }
};

void random_bytes(uint8_t *p, size_t n) {
  if (RAND_bytes(p, static_cast<int>(n)) != 1)
    throw std::runtime_error("handshake: the OpenSSL random generator failed");
}

// Fresh X25519 key pair: private key into priv, public into pub.
void x25519_keypair(std::array<uint8_t, 32> &priv, uint8_t *pub) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
  EVP_PKEY *raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1)
    throw std::runtime_error("handshake: X25519 key generation failed");
  PkeyPtr key(raw);
  size_t plen = priv.size(), publen = kPubSize;
  if (EVP_PKEY_get_raw_private_key(key.get(), priv.data(), &plen) != 1 || plen != 32 ||
      EVP_PKEY_get_raw_public_key(key.get(), pub, &publen) != 1 || publen != kPubSize)
    throw std::runtime_error("handshake: cannot export the X25519 key");
}

// X25519(priv, peer_pub). False for a low-order peer key (all-zero shared secret) or error.
bool x25519(const std::array<uint8_t, 32> &priv, const uint8_t *peer_pub,
            std::array<uint8_t, 32> &shared) {
  PkeyPtr mine(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size()));
  PkeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_pub, kPubSize));
  if (!mine || !peer) return false;
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(mine.get(), nullptr));
  size_t len = shared.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), shared.data(), &len) != 1 || len != shared.size())
    return false;
  static const uint8_t kZero[32] = {};
  return CRYPTO_memcmp(shared.data(), kZero, shared.size()) != 0;
}

// HMAC-SHA256(psk, a || b).
void hmac2(const Psk &psk, std::span<const uint8_t> a, std::span<const uint8_t> b,
           uint8_t out[kMacSize]) {
  std::vector<uint8_t> msg(a.begin(), a.end());
  msg.insert(msg.end(), b.begin(), b.end());
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), psk.data(), static_cast<int>(psk.size()), msg.data(), msg.size(), out,
           &len) == nullptr ||
      len != kMacSize)
    throw std::runtime_error("handshake: HMAC-SHA256 failed");
}

bool hmac2_verify(const Psk &psk, std::span<const uint8_t> a, std::span<const uint8_t> b,
                  const uint8_t *mac) {
  uint8_t expect[kMacSize];
  hmac2(psk, a, b, expect);
  return CRYPTO_memcmp(expect, mac, kMacSize) == 0;
}

// HKDF-SHA256 as handshake.h specifies, expanded into one key and salt per stream.
SessionSecrets derive(const SessionParams &params, uint32_t session_id, const Psk &psk,
                      const std::array<uint8_t, 32> &shared, std::span<const uint8_t> hello,
                      std::span<const uint8_t> accept, const uint8_t *guest_random,
                      const uint8_t *device_random, std::vector<uint8_t> &confirm_key) {
  Secret<64> salt;
  std::memcpy(salt.b.data(), guest_random, kRandomSize);
  std::memcpy(salt.b.data() + kRandomSize, device_random, kRandomSize);
  Secret<64> ikm;
  std::memcpy(ikm.b.data(), shared.data(), 32);
  std::memcpy(ikm.b.data() + 32, psk.data(), kPskSize);
  std::array<uint8_t, 16 + SHA256_DIGEST_LENGTH> info;
  std::memcpy(info.data(), kInfoLabel, 16);
  {
    std::vector<uint8_t> transcript(hello.begin(), hello.end());
    transcript.insert(transcript.end(), accept.begin(), accept.end());
    SHA256(transcript.data(), transcript.size(), info.data() + 16);
  }

  SessionSecrets s;
  s.params = params;
  s.session_id = session_id;
  s.streams.resize(s.n_streams());
  std::vector<uint8_t> okm(s.n_streams() * kStreamOkm);
  std::vector<uint8_t> chains(s.n_streams() * 32);

  auto hkdf = [&](std::vector<uint8_t> &out) {
    EVP_KDF *kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
    EVP_KDF_free(kdf);
    char digest[] = "SHA256";
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm.b.data(), ikm.b.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.b.data(), salt.b.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
        OSSL_PARAM_construct_end(),
    };
    bool ok = kctx != nullptr && EVP_KDF_derive(kctx, out.data(), out.size(), p) == 1;
    EVP_KDF_CTX_free(kctx);
    return ok;
  };
  bool ok = hkdf(okm);
  // The rekey chains (session.h): the same inputs with their own label.
  std::memcpy(info.data(), kChainLabel, 16);
  ok = ok && hkdf(chains);
  std::memcpy(info.data(), kConfirmLabel, 16);
  confirm_key.assign(32, 0);
  ok = ok && hkdf(confirm_key);
  if (!ok) {
    secure_wipe(confirm_key.data(), confirm_key.size());
    secure_wipe(okm.data(), okm.size());
    secure_wipe(chains.data(), chains.size());
    throw std::runtime_error("handshake: HKDF-SHA256 failed");
  }
  for (size_t i = 0; i < s.streams.size(); ++i) {
    const uint8_t *o = okm.data() + i * kStreamOkm;
    std::memcpy(s.streams[i].key.data(), o, params.key_bytes);
    s.streams[i].salt =
        uint32_t{o[32]} << 24 | uint32_t{o[33]} << 16 | uint32_t{o[34]} << 8 | uint32_t{o[35]};
    std::memcpy(s.streams[i].chain.data(), chains.data() + i * 32, 32);
  }
  secure_wipe(okm.data(), okm.size());
  secure_wipe(chains.data(), chains.size());
  return s;
}

std::string check_params(const SessionParams &p) {
  if (p.security > Security::kConfidential) return "unknown security level";
  if (p.key_bytes != 16 && p.key_bytes != 32) return "key_bytes must be 16 or 32";
  if (p.n_queues == 0 || p.n_queues > kMaxQueues)
    return "n_queues must be 1.." + std::to_string(kMaxQueues);
  return {};
}

template <typename T>
std::span<const uint8_t> bytes_of(const T &v) {
  return {reinterpret_cast<const uint8_t *>(&v), sizeof(T)};
}

std::vector<uint8_t> make_reject(RejectReason r) {
  RejectWire w{};
  w.msg = static_cast<uint8_t>(HandshakeMsg::kReject);
  w.version = kProtoVersion;
  w.reason = static_cast<uint8_t>(r);
  auto b = bytes_of(w);
  return {b.begin(), b.end()};
}

// The Confirm for (hello, accept) under confirm_key; wipes the key.
std::vector<uint8_t> make_confirm(uint32_t session_id, std::vector<uint8_t> &confirm_key,
                                  std::span<const uint8_t> hello, std::span<const uint8_t> accept) {
  ConfirmWire c{};
  c.msg = static_cast<uint8_t>(HandshakeMsg::kConfirm);
  c.version = kProtoVersion;
  c.session_id.set(session_id);
  std::vector<uint8_t> msg(hello.begin(), hello.end());
  msg.insert(msg.end(), accept.begin(), accept.end());
  unsigned int len = 0;
  const bool ok = HMAC(EVP_sha256(), confirm_key.data(), static_cast<int>(confirm_key.size()),
                       msg.data(), msg.size(), c.mac, &len) != nullptr &&
                  len == kMacSize;
  secure_wipe(confirm_key.data(), confirm_key.size());
  if (!ok) throw std::runtime_error("handshake: HMAC-SHA256 failed");
  auto b = bytes_of(c);
  return {b.begin(), b.end()};
}

// Fragment info in DescHeader::seq: type | index << 8 | count << 16 | total_len << 32.
uint64_t fragment_info(HandshakeMsg type, size_t index, size_t count, size_t total) {
  return uint64_t{static_cast<uint8_t>(type)} | uint64_t{index} << 8 | uint64_t{count} << 16 |
         uint64_t{total} << 32;
}

}  // namespace

std::string check_dma_geometry(const DmaGeometry &g, const DmaLimits &limits) {
  if (g.chunk_size < 64 || g.chunk_size % 64 != 0 || g.chunk_size > limits.max_chunk_size)
    return "chunk_size " + std::to_string(g.chunk_size) + " is not a multiple of 64 in [64, " +
           std::to_string(limits.max_chunk_size) + "]";
  if (g.n_chunks == 0 || g.n_chunks > limits.max_chunks)
    return "n_chunks " + std::to_string(g.n_chunks) + " is not in [1, " +
           std::to_string(limits.max_chunks) + "]";
  if (g.dma_base > UINT64_MAX - static_cast<uint64_t>(g.n_chunks) * g.chunk_size)
    return "dma_base + n_chunks * chunk_size overflows";
  return {};
}

bool confirm_matches(std::span<const uint8_t> expected, std::span<const uint8_t> confirm) {
  return expected.size() == sizeof(ConfirmWire) && confirm.size() == expected.size() &&
         CRYPTO_memcmp(expected.data(), confirm.data(), expected.size()) == 0;
}

GuestHandshake::GuestHandshake(const Psk &psk, const SessionParams &params, uint32_t device_id,
                               uint32_t guest_id, const DmaGeometry &dma)
    : psk_(psk), params_(params) {
  std::string why = check_params(params);
  if (why.empty()) why = check_dma_geometry(dma, DmaLimits{kMaxChunkSize, 1u << 22});
  if (!why.empty()) throw std::invalid_argument("handshake: " + why);
  HelloWire h{};
  h.msg = static_cast<uint8_t>(HandshakeMsg::kHello);
  h.version = kProtoVersion;
  h.security = static_cast<uint8_t>(params.security);
  h.key_bytes = params.key_bytes;
  h.n_queues.set(params.n_queues);
  h.channel.set(params.channel);
  h.device_id.set(device_id);
  h.guest_id.set(guest_id);
  h.chunk_size.set(dma.chunk_size);
  h.n_chunks.set(dma.n_chunks);
  h.dma_base.set(dma.dma_base);
  random_bytes(h.guest_random, kRandomSize);
  x25519_keypair(priv_, h.guest_pub);
  hmac2(psk_, {reinterpret_cast<const uint8_t *>(&h), offsetof(HelloWire, mac)}, {}, h.mac);
  auto b = bytes_of(h);
  hello_.assign(b.begin(), b.end());
}

GuestHandshake::~GuestHandshake() {
  secure_wipe(priv_.data(), priv_.size());
  secure_wipe(psk_.data(), psk_.size());
}

std::optional<SessionSecrets> GuestHandshake::finish(std::span<const uint8_t> answer,
                                                     std::string &error) {
  static const uint8_t kZero[32] = {};
  if (CRYPTO_memcmp(priv_.data(), kZero, priv_.size()) == 0) {
    error = "handshake already finished: start a new one";
    return std::nullopt;
  }
  if (answer.empty()) {
    error = "empty handshake answer";
    return std::nullopt;
  }
  if (answer[0] == static_cast<uint8_t>(HandshakeMsg::kReject)) {
    if (answer.size() != sizeof(RejectWire)) {
      error = "malformed reject (" + std::to_string(answer.size()) + " bytes)";
      return std::nullopt;
    }
    error = "device rejected the handshake: " + std::string(reason_text(answer[2])) +
            " (unauthenticated reject)";
    return std::nullopt;
  }
  if (answer[0] != static_cast<uint8_t>(HandshakeMsg::kAccept) ||
      answer.size() != sizeof(AcceptWire)) {
    error = "malformed accept: type " + std::to_string(answer[0]) + ", " +
            std::to_string(answer.size()) + " bytes (expected " +
            std::to_string(sizeof(AcceptWire)) + ")";
    return std::nullopt;
  }
  AcceptWire a;
  std::memcpy(&a, answer.data(), sizeof(a));
  if (a.version != kProtoVersion) {
    error = "accept has protocol version " + std::to_string(a.version);
    return std::nullopt;
  }
  if (!hmac2_verify(psk_, hello_, answer.first(offsetof(AcceptWire, mac)), a.mac)) {
    error = "accept did not authenticate: wrong PSK or tampered message";
    return std::nullopt;
  }
  Secret<32> shared;
  if (!x25519(priv_, a.device_pub, shared.b)) {
    error = "accept carries an invalid X25519 public key";
    return std::nullopt;
  }
  HelloWire h;
  std::memcpy(&h, hello_.data(), sizeof(h));
  std::vector<uint8_t> confirm_key;
  SessionSecrets s = derive(params_, a.session_id.get(), psk_, shared.b, hello_, answer,
                            h.guest_random, a.device_random, confirm_key);
  confirm_ = make_confirm(a.session_id.get(), confirm_key, hello_, answer);
  secure_wipe(priv_.data(), priv_.size());  // one session per ephemeral key
  return s;
}

DeviceHandshakeResult device_handshake(std::span<const uint8_t> hello, const PskLookup &lookup,
                                       const DmaLimits &limits) {
  DeviceHandshakeResult r;
  auto reject = [&r](RejectReason why, std::string error) {
    r.answer = make_reject(why);
    r.error = std::move(error);
    return std::move(r);
  };
  if (hello.size() != sizeof(HelloWire))
    return reject(RejectReason::kMalformed, "hello of " + std::to_string(hello.size()) +
                                                " bytes, expected " +
                                                std::to_string(sizeof(HelloWire)));
  HelloWire h;
  std::memcpy(&h, hello.data(), sizeof(h));
  if (h.msg != static_cast<uint8_t>(HandshakeMsg::kHello))
    return reject(RejectReason::kMalformed, "not a hello (type " + std::to_string(h.msg) + ")");
  if (h.version != kProtoVersion)
    return reject(RejectReason::kUnsupported,
                  "hello has protocol version " + std::to_string(h.version));
  r.device_id = h.device_id.get();
  r.guest_id = h.guest_id.get();
  std::optional<Psk> psk = lookup(r.device_id, r.guest_id);
  if (!psk)
    return reject(RejectReason::kUnknownDevice, "hello for unknown device id " +
                                                    std::to_string(r.device_id) + " or guest id " +
                                                    std::to_string(r.guest_id));
  bool authentic = hmac2_verify(*psk, hello.first(offsetof(HelloWire, mac)), {}, h.mac);
  if (!authentic) {
    secure_wipe(psk->data(), psk->size());
    return reject(RejectReason::kAuthFailed,
                  "hello did not authenticate: wrong PSK or tampered message");
  }
  SessionParams params;
  params.security = static_cast<Security>(h.security);
  params.key_bytes = h.key_bytes;
  params.n_queues = h.n_queues.get();
  params.channel = h.channel.get();
  r.dma = DmaGeometry{h.chunk_size.get(), h.n_chunks.get(), h.dma_base.get()};
  std::string why = h.security > static_cast<uint8_t>(Security::kConfidential)
                        ? std::string("unknown security level")
                        : check_params(params);
  if (why.empty()) why = check_dma_geometry(r.dma, limits);
  if (!why.empty() || h.reserved.get() != 0 || h.reserved2.get() != 0) {
    secure_wipe(psk->data(), psk->size());
    return reject(RejectReason::kUnsupported,
                  "hello asks for unsupported parameters: " + (why.empty() ? "reserved" : why));
  }

  AcceptWire a{};
  a.msg = static_cast<uint8_t>(HandshakeMsg::kAccept);
  a.version = kProtoVersion;
  uint32_t sid = 0;
  while (sid == 0) random_bytes(reinterpret_cast<uint8_t *>(&sid), sizeof(sid));
  a.session_id.set(sid);
  random_bytes(a.device_random, kRandomSize);
  Secret<32> priv, shared;
  x25519_keypair(priv.b, a.device_pub);
  if (!x25519(priv.b, h.guest_pub, shared.b)) {
    secure_wipe(psk->data(), psk->size());
    return reject(RejectReason::kMalformed, "hello carries an invalid X25519 public key");
  }
  hmac2(*psk, hello, {reinterpret_cast<const uint8_t *>(&a), offsetof(AcceptWire, mac)}, a.mac);
  auto ab = bytes_of(a);
  r.answer.assign(ab.begin(), ab.end());
  std::vector<uint8_t> confirm_key;
  r.secrets = derive(params, sid, *psk, shared.b, hello, r.answer, h.guest_random, a.device_random,
                     confirm_key);
  r.confirm = make_confirm(sid, confirm_key, hello, r.answer);
  secure_wipe(psk->data(), psk->size());
  return r;
}

std::vector<Descriptor> handshake_fragments(uint32_t channel, HandshakeMsg type,
                                            std::span<const uint8_t> msg) {
  if (msg.empty() || msg.size() > kMaxFragments * kHandshakeFragment)
    throw std::invalid_argument("handshake message of " + std::to_string(msg.size()) +
                                " bytes does not fit 1..8 fragments");
  size_t count = (msg.size() + kHandshakeFragment - 1) / kHandshakeFragment;
  std::vector<Descriptor> out(count);
  for (size_t i = 0; i < count; ++i) {
    Descriptor &d = out[i];
    std::memset(&d, 0, sizeof(d));
    d.hdr.version = kProtoVersion;
    d.hdr.kind = static_cast<uint8_t>(Kind::kHandshake);
    d.hdr.queue.set(0);
    d.hdr.channel.set(channel);
    d.hdr.seq.set(fragment_info(type, i, count, msg.size()));
    size_t off = i * kHandshakeFragment;
    size_t n = std::min(kHandshakeFragment, msg.size() - off);
    std::memcpy(reinterpret_cast<uint8_t *>(&d) + offsetof(Descriptor, body), msg.data() + off, n);
  }
  return out;
}

bool HandshakeAssembler::add(const Descriptor &d) {
  if (count_ != 0 && have_mask_ == static_cast<uint8_t>((1u << count_) - 1)) reset();
  uint64_t info = d.hdr.seq.get();
  auto type = static_cast<uint8_t>(info & 0xff);
  size_t index = (info >> 8) & 0xff;
  size_t count = (info >> 16) & 0xff;
  size_t total = info >> 32;
  bool valid = d.hdr.version == kProtoVersion &&
               d.hdr.kind == static_cast<uint8_t>(Kind::kHandshake) && d.hdr.queue.get() == 0 &&
               type >= static_cast<uint8_t>(HandshakeMsg::kHello) &&
               type <= static_cast<uint8_t>(HandshakeMsg::kConfirm) && ((info >> 24) & 0xff) == 0 &&
               count >= 1 && count <= kMaxFragments && index < count &&
               total > (count - 1) * kHandshakeFragment && total <= count * kHandshakeFragment;
  if (!valid) {
    ++malformed_;
    return false;
  }
  if (count_ != 0 && (static_cast<uint8_t>(type_) != type || count_ != count || len_ != total))
    reset();  // a fragment of a different message: it replaces the unfinished one
  if (count_ == 0) {
    type_ = static_cast<HandshakeMsg>(type);
    count_ = static_cast<uint8_t>(count);
    len_ = total;
  }
  size_t off = index * kHandshakeFragment;
  size_t n = std::min(kHandshakeFragment, total - off);
  std::memcpy(buf_.data() + off, reinterpret_cast<const uint8_t *>(&d) + offsetof(Descriptor, body),
              n);
  have_mask_ |= static_cast<uint8_t>(1u << index);
  return have_mask_ == static_cast<uint8_t>((1u << count_) - 1);
}

void HandshakeAssembler::reset() {
  type_ = {};
  len_ = 0;
  count_ = 0;
  have_mask_ = 0;
  buf_.fill(0);
}

Psk read_psk_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open the PSK file");
  std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(path + ": cannot read the PSK file");
  Psk psk{};
  auto fail = [&](const std::string &why) {
    secure_wipe(data.data(), data.size());
    return std::runtime_error(path + ": " + why);
  };
  if (data.size() == kPskSize) {
    std::memcpy(psk.data(), data.data(), kPskSize);
    secure_wipe(data.data(), data.size());
    return psk;
  }
  size_t n = data.size();
  while (n > 0 &&
         (data[n - 1] == '\n' || data[n - 1] == '\r' || data[n - 1] == ' ' || data[n - 1] == '\t'))
    --n;
  if (n != 2 * kPskSize)
    throw fail("expected 32 raw bytes or 64 hex characters, found " + std::to_string(data.size()) +
               " bytes");
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < kPskSize; ++i) {
    int hi = hex(data[2 * i]), lo = hex(data[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      secure_wipe(psk.data(), psk.size());
      throw fail("character " + std::to_string(hi < 0 ? 2 * i : 2 * i + 1) +
                 " is not a hex digit (expected 64 hex characters)");
    }
    psk[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  secure_wipe(data.data(), data.size());
  return psk;
}

}  // namespace ferry::proto
