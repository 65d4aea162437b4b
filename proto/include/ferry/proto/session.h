// A session's keys and the sealing of descriptors and DMA chunks with them.
//
// Streams: every (direction, queue) has its own key, salt and sequence space, and so does
// each direction's DMA stream (index n_queues). A (key, nonce) pair can therefore never
// repeat inside a session, and keys are fresh per session (see handshake.h).
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
  le32 magic;     // "FDMA"
  le32 channel;
  le64 addr;      // chunk device address
  le32 len;       // sealed length
  uint8_t writer;
  uint8_t pad[3];
  le64 version;   // nonce sequence of the chunk's DMA stream
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

  // Seals d in place with the key of (dir, d.hdr.queue): sets d.hdr.version and seals the
  // body (or only authenticates it, or does nothing, per security level). The caller chose
  // d.hdr.seq. Returns kBadLength if the queue is out of range.
  Status seal(Dir dir, Descriptor &d);
  // Opens a private copy in place: checks header, authenticates, decrypts. Replay checks are
  // the caller's (ReplayWindow). On failure the body is zeroed.
  Status open(Dir dir, Descriptor &d);

  // Seals a chunk of len bytes for the DMA stream of `dir` with nonce sequence `version`.
  void seal_chunk(Dir dir, const ChunkAad &aad, const uint8_t *plain, uint8_t *sealed, size_t len,
                  uint8_t *tag);
  // Opens a chunk; aad carries the version the reader expects. On failure out is zeroed.
  Status open_chunk(Dir dir, const ChunkAad &aad, const uint8_t *sealed, uint8_t *plain,
                    size_t len, const uint8_t *tag);

 private:
  struct Stream {
    std::unique_ptr<AeadKey> key;
    uint32_t salt;
  };
  const Stream &stream(Dir dir, uint16_t index) const;
  Aead &aead_;
  SessionParams params_;
  uint32_t session_id_;
  std::vector<Stream> streams_;
};

ChunkAad make_chunk_aad(uint32_t channel, uint64_t addr, uint32_t len, Writer writer,
                        uint64_t version);

}  // namespace ferry::proto
