// A session's keys and the sealing of descriptors and DMA chunks with them.
//
// Streams: every (direction, queue) has its own key, salt and sequence space, and so does
// each direction's DMA stream (index n_queues). A (key, nonce) pair can therefore never
// repeat inside a session, and keys are fresh per session (see handshake.h).
//
// Rekeying (docs/protocol.md, Rekeying): a descriptor stream moves through key epochs
// 0, 1, 2, ... Epoch 0 uses the handshake's key; epoch e+1's chain, key and salt are
// HKDF-Expand(chain_e, "ferry rekey" || be64(e+1)), and chain_e is wiped, so a later key
// says nothing about an earlier one. A descriptor's wire seq is key epoch (low 16 bits) << 48 |
// counter: the counter runs on across epochs (replay windows and in-order execution use it),
// and the epoch is authenticated with the rest of the header. The sender moves on after
// `after_messages` descriptors or `after_ns` in an epoch; it also follows the peer: when it
// accepted epoch e from the other direction of the same queue, its next seal steps one epoch
// towards e. A receiver takes the current epoch, the previous one (until `overlap_messages`
// counters past the switch or `overlap_ns`, then its key is wiped) and up to
// kMaxKeyEpochSkip epochs ahead (derived on trial, kept only if the descriptor authenticates).
// Trials that fail are rate-limited per session (kEpochTrialBurst, then one per
// kEpochTrialRefillNs), so forged future-epoch descriptors cannot make the receiver run the
// KDF at line rate; the previous epoch's key is wiped by expire_old_keys() on its timer.
// DMA chunk streams are not rekeyed: a stored chunk may be read long after it was sealed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "ferry/proto/aead.h"
#include "ferry/proto/descriptor.h"
#include "ferry/proto/endian.h"
#include "ferry/proto/status.h"

namespace ferry::proto {

enum class Dir : uint8_t { kGuestToDevice = 0, kDeviceToGuest = 1 };
enum class Writer : uint8_t { kGuest = 0, kDevice = 1 };

inline constexpr uint16_t kMaxQueues = 64;

struct SessionParams {
  Security security = Security::kConfidential;
  uint8_t key_bytes = 32;  // 16 (AES-128) or 32 (AES-256)
  uint16_t n_queues = 1;
  uint32_t channel = 0;
};

struct StreamSecret {
  std::array<uint8_t, 32> key{};
  uint32_t salt = 0;
  std::array<uint8_t, 32> chain{};  // rekey chain secret of epoch 0 (see above)
};

// Wire seq of a descriptor: key epoch (mod 2^16) in the top 16 bits, counter below.
inline constexpr unsigned kKeyEpochShift = 48;
inline constexpr uint64_t kCounterMask = (uint64_t{1} << kKeyEpochShift) - 1;
inline constexpr uint64_t kMaxKeyEpochSkip = 4;
inline constexpr uint32_t kEpochTrialBurst = 16;
inline constexpr uint64_t kEpochTrialRefillNs = 10'000'000;
inline uint64_t seq_counter(uint64_t wire_seq) {
  return wire_seq & kCounterMask;
}
inline uint16_t seq_key_epoch(uint64_t wire_seq) {
  return static_cast<uint16_t>(wire_seq >> kKeyEpochShift);
}

struct RekeyPolicy {
  uint64_t after_messages = 0;       // sender: new key epoch after this many descriptors (0: never)
  uint64_t after_ns = 0;             // sender: new epoch after this long in one (0: never)
  uint64_t overlap_messages = 1024;  // receiver: keep the previous key this many counters
  uint64_t overlap_ns = 1'000'000'000;  //   past the switch, and at most this long
};

// Per session object, summed over its streams.
struct RekeyStats {
  uint64_t tx_rekeys = 0;             // epochs this side moved to as a sender
  uint64_t rx_rekeys = 0;             // epochs this side moved to as a receiver
  uint64_t old_keys_wiped = 0;        // previous-epoch receive keys wiped after the overlap
  uint64_t epoch_rejects = 0;         // descriptors whose key epoch was outside prev..current+skip
  uint64_t epoch_trials_refused = 0;  // later-epoch descriptors refused untried (rate limit)
};

// Raw key material of one session, as the handshake derives it. Wiped on destruction.
struct SessionSecrets {
  SessionParams params;
  uint32_t session_id = 0;
  std::vector<StreamSecret> streams;  // stream_index(dir, stream)

  static size_t stream_index(const SessionParams &p, Dir d, uint16_t stream) {
    return static_cast<size_t>(d) * (p.n_queues + 1u) + stream;
  }
  size_t n_streams() const { return 2u * (params.n_queues + 1u); }
  SessionSecrets() = default;
  SessionSecrets(const SessionSecrets &) = delete;
  SessionSecrets &operator=(const SessionSecrets &) = delete;
  SessionSecrets(SessionSecrets &&) = default;
  SessionSecrets &operator=(SessionSecrets &&) = default;
  ~SessionSecrets();
};

// AAD of a sealed DMA chunk: binds it to its session channel, address, length, writer and
// version, so the host cannot swap, splice, truncate or roll back chunks.
struct [[gnu::packed]] ChunkAad {
  le32 magic;  // "FDMA"
  le32 channel;
  le64 addr;  // chunk device address
  le32 len;   // sealed length
  uint8_t writer;
  uint8_t pad[3];
  le64 version;  // nonce sequence of the chunk's DMA stream
};
static_assert(sizeof(ChunkAad) == 32);
inline constexpr uint32_t kChunkAadMagic = 0x414d4446;  // "FDMA"

// Expanded keys of one session for one thread's Aead. Seal/open never allocate.
class SessionCrypto {
 public:
  // Expands every stream key with `aead` (which must outlive this object).
  SessionCrypto(Aead &aead, const SessionSecrets &secrets);
  ~SessionCrypto();

  const SessionParams &params() const { return params_; }
  uint32_t session_id() const { return session_id_; }

  // Seals d in place with the key of (dir, d.hdr.queue): sets d.hdr.version, moves the kind
  // from d.hdr.kind into d.body.kind (the header then says Kind::kSealed) and seals the body
  // (or only authenticates it, or does nothing, per security level). The caller put the
  // counter in d.hdr.seq; seal() moves to a new epoch when the policy says so and puts the
  // epoch in its top bits. Returns kBadLength if the queue or counter is out of range,
  // kBadKind if d.hdr.kind is not a kind that is sealed (kMmioRead .. kInterrupt).
  Status seal(Dir dir, Descriptor &d);
  // Opens a private copy in place: checks header (kind kSealed), authenticates, decrypts,
  // with the key of the epoch in d.hdr.seq (a new epoch becomes current when a descriptor of
  // it opens), then puts the sealed kind back into d.hdr.kind. An authentic body whose kind
  // is not kMmioRead .. kInterrupt returns kBadKind (malformed, not forged). Replay checks
  // are the caller's (ReplayWindow, on seq_counter()). On failure the body is zeroed.
  Status open(Dir dir, Descriptor &d);

  // Rekeying of the descriptor streams (default: never by count or time).
  void set_rekey(const RekeyPolicy &p) { rekey_ = p; }
  const RekeyStats &rekey_stats() const { return rekey_stats_; }
  // Housekeeping, on a timer: wipes every previous-epoch receive key whose overlap time has
  // passed, whether or not anything arrived since. Returns how many it wiped; reads no clock
  // when none is held.
  size_t expire_old_keys();
  // The current key epoch of stream (dir, queue) (tests, diagnostics).
  uint64_t key_epoch(Dir dir, uint16_t queue) const { return stream(dir, queue).key_epoch; }

  // Seals a chunk of len bytes for the DMA stream of `dir` with nonce sequence `version`.
  // `plain` and `sealed` must be private memory: GCM and GMAC read the output back, so bytes
  // another party writes there during the call would be authenticated. Seal, then copy out.
  void seal_chunk(Dir dir, const ChunkAad &aad, const uint8_t *plain, uint8_t *sealed, size_t len,
                  uint8_t *tag);
  // Opens a chunk; aad carries the version the reader expects. On failure out is zeroed.
  // `sealed` must be a private copy (copy in, then open): it is read more than once.
  Status open_chunk(Dir dir, const ChunkAad &aad, const uint8_t *sealed, uint8_t *plain, size_t len,
                    const uint8_t *tag);

 private:
  struct Stream {
    std::unique_ptr<AeadKey> key;
    uint32_t salt = 0;
    uint64_t key_epoch = 0;
    std::array<uint8_t, 32> chain{};  // derives epoch + 1; wiped when used
    // Sender.
    uint64_t sealed_in_key_epoch = 0;
    uint64_t key_epoch_start_ns = 0;
    // Receiver: the previous epoch's key during the overlap.
    std::unique_ptr<AeadKey> prev_key;
    uint32_t prev_salt = 0;
    uint64_t first_counter = 0;  // lowest counter accepted in the current epoch (0: none)
    uint64_t switched_ns = 0;
  };
  const Stream &stream(Dir dir, uint16_t index) const;
  Stream &stream(Dir dir, uint16_t index);
  // Moves s to key epoch s.key_epoch + 1 (sender side).
  void step(Stream &s, uint64_t now_ns);
  bool rekey_due(const Stream &s, const Stream &peer, uint64_t &now_ns) const;
  // Receiver: opens d with the key of the key epoch its seq names (see the class comment).
  bool open_key_epoch(Stream &s, Descriptor &d);
  void commit(Stream &s, std::unique_ptr<AeadKey> key, std::unique_ptr<AeadKey> before,
              uint32_t before_salt, const StreamSecret &next, uint16_t delta, uint64_t counter);
  void wipe_prev(Stream &s);
  bool open_with(Descriptor &d, const AeadKey &key, uint32_t salt);
  // Whether a later epoch may be derived on trial now (the failed-trial budget).
  bool trial_allowed();
  void trial_failed();
  Aead &aead_;
  SessionParams params_;
  uint32_t session_id_;
  std::vector<Stream> streams_;
  RekeyPolicy rekey_;
  RekeyStats rekey_stats_;
  size_t prev_keys_held_ = 0;
  uint32_t trial_tokens_ = kEpochTrialBurst;
  uint64_t trials_spent_ns_ = 0;  // when the last token went
};

// One ratchet step: from epoch e's chain secret, epoch `next_epoch`'s chain, key and salt
// (HKDF-SHA256-Expand(chain, "ferry rekey" || be64(next_epoch), 68 bytes): chain || key ||
// salt, big-endian). Throws std::runtime_error if the KDF fails.
void rekey_step(const std::array<uint8_t, 32> &chain, uint64_t next_epoch, StreamSecret &out);

ChunkAad make_chunk_aad(uint32_t channel, uint64_t addr, uint32_t len, Writer writer,
                        uint64_t version);

}  // namespace ferry::proto
