// Transport frames: what the engine sends and receives. A frame header (transport sequence
// and cumulative ack, used for reliability on datagram transports and never trusted for
// security) followed by records. On Ethernet the frame is the UDP payload; on TCP it is
// prefixed by its 32-bit little-endian length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ferry/proto/crc32c.h"
#include "ferry/proto/endian.h"
#include "ferry/proto/kinds.h"
#include "ferry/proto/status.h"

namespace ferry::proto {

inline constexpr uint32_t kFrameMagic = 0x31595246;  // "FRY1" little-endian
inline constexpr size_t kMaxFrameSize = 9000;        // largest frame any transport carries

enum FrameFlags : uint8_t {
  kFrameAckOnly = 0x01,  // carries no records, only `ack`; not sequenced
  // Stream challenge (ack-only): "prove you send stream `stream_id`"; `seq` carries a random
  // nonce. A receiver takes a new frame stream only when its sender echoes the nonce.
  kFrameChallenge = 0x02,  // from the challenger, under its own stream id; seq = nonce
  kFrameEcho = 0x04,       // the answer, under the stream id challenged: seq = the nonce,
                           // ack = the first frame it still holds, minus one
};

struct [[gnu::packed]] FrameHeader {
  le32 magic;
  uint8_t version;  // kProtoVersion
  uint8_t flags;    // FrameFlags
  le16 n_records;
  le32 payload_len;  // bytes of records after this header
  le32 stream_id;    // sender's random id of its frame stream (new at every start)
  le64 seq;          // transport sequence number (0 on ack-only frames; challenge nonce)
  le64 ack;          // cumulative: every seq <= ack was received in order
};
static_assert(sizeof(FrameHeader) == 32);

struct [[gnu::packed]] RecordHeader {
  uint8_t type;  // RecordType
  uint8_t flags;
  le16 len;      // payload bytes after this header
  le32 channel;  // guest channel the record belongs to
};
static_assert(sizeof(RecordHeader) == 8);

// kDmaReadReq payload.
struct [[gnu::packed]] DmaReadReq {
  le64 addr;    // device address of the chunk
  le32 len;     // chunk length the requester expects
  le32 req_id;  // echoed in the kDmaData pieces that answer it
};
static_assert(sizeof(DmaReadReq) == 16);

// kDmaData / kDmaWrite payload header, followed by piece_len bytes of sealed chunk.
struct [[gnu::packed]] DmaPiece {
  le64 addr;       // chunk device address
  le64 version;    // writer's version as stored in the window (a hint, never trusted)
  le32 chunk_len;  // sealed length of the whole chunk
  le32 piece_off;  // where this piece starts inside the chunk
  le32 piece_len;  // bytes that follow
  le32 req_id;     // kDmaData: the request it answers; kDmaWrite: 0
  uint8_t writer;  // 0 guest, 1 device
  uint8_t status;  // kDmaData: Status::kOk, or kDmaFailed when the chunk cannot be served
  uint8_t pad[6];
  uint8_t tag[16];  // the chunk's tag (same in every piece)
};
static_assert(sizeof(DmaPiece) == 56);
static_assert(offsetof(DmaPiece, tag) == 40);

inline constexpr size_t kMaxChunkSize = 65536;

// Builds a frame into caller-owned storage; never writes past it.
class FrameWriter {
 public:
  explicit FrameWriter(std::span<uint8_t> buf);
  // Starts a new frame (clears records). seq/ack/stream id/flags go into the header at finish().
  void reset();
  size_t space_left() const;  // payload bytes a record (header + payload) can still use
  // Appends a record; returns a pointer to its payload to fill, or nullptr if it does not fit.
  uint8_t *append(RecordType type, uint32_t channel, size_t payload_len);
  uint16_t n_records() const { return n_records_; }
  // Writes the header; returns the frame's total size.
  size_t finish(uint8_t flags, uint32_t stream_id, uint64_t seq, uint64_t ack);

 private:
  std::span<uint8_t> buf_;
  size_t used_ = sizeof(FrameHeader);
  uint16_t n_records_ = 0;
};

struct RecordView {
  RecordType type;
  uint8_t flags;
  uint32_t channel;
  std::span<const uint8_t> payload;  // length checked against the type's layout
};

// Validates a received frame (magic, version, lengths, every record header against its
// layout) before anything is used. Never reads past `frame`.
class FrameReader {
 public:
  // Returns kOk or why the frame is malformed; on error the reader yields no records.
  Status parse(std::span<const uint8_t> frame);
  const FrameHeader &header() const { return hdr_; }
  // Next record, or false at the end. Records were all validated by parse().
  bool next(RecordView &out);

 private:
  FrameHeader hdr_{};
  std::span<const uint8_t> records_;
  size_t pos_ = 0;
  uint16_t left_ = 0;
};

// Frame check sequence (datagram transports). A frame on a datagram path is followed by a
// little-endian CRC32C (Castagnoli) over its records and then its header, so that a frame
// changed in transit (ack, seq, stream id, record headers, DMA piece headers: nothing of the
// header is authenticated) is dropped like a lost one and retransmitted, never acted upon.
// Records first: their sum is computed once when the frame is closed; the header, whose
// ack and flags change at every (re)transmission, is summed on top of it each time. It is
// an integrity check against accidents, not against an attacker (descriptors and DMA
// chunks carry their own AEAD tags).
inline constexpr size_t kFrameFcsSize = 4;
// The records' part of the FCS of a frame (header + records, without FCS).
uint32_t frame_records_crc(std::span<const uint8_t> frame);
// Writes the FCS after the `len` bytes of the frame at `frame` (kFrameFcsSize more bytes must
// be there); `records_crc` from frame_records_crc(). Returns len + kFrameFcsSize.
size_t frame_put_fcs(uint8_t *frame, size_t len, uint32_t records_crc);
// Checks a received frame's FCS. Returns the frame without it, or an empty span when it is too
// short or the FCS does not match.
std::span<const uint8_t> frame_check_fcs(std::span<const uint8_t> wire);

// Validates a record payload against its type's layout (sizes, piece bounds inside
// chunk_len, chunk_len <= kMaxChunkSize).
Status check_record(RecordType type, std::span<const uint8_t> payload);

}  // namespace ferry::proto
