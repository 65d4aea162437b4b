// Frame encoding and the validation of everything a received frame claims.
#include "ferry/proto/frame.h"

#include <algorithm>
#include <cstring>

#include "ferry/proto/descriptor.h"

namespace ferry::proto {
namespace {
constexpr uint8_t kKnownFrameFlags = kFrameAckOnly | kFrameChallenge | kFrameEcho;
constexpr uint8_t kNonceFlags = kFrameChallenge | kFrameEcho;

Status check_piece(RecordType type, std::span<const uint8_t> payload) {
  DmaPiece p;
  std::memcpy(&p, payload.data(), sizeof(p));
  uint64_t chunk_len = p.chunk_len.get();
  uint64_t piece_off = p.piece_off.get();
  uint64_t piece_len = p.piece_len.get();
  if (piece_len != payload.size() - sizeof(DmaPiece)) return Status::kBadLength;
  if (p.writer > 1) return Status::kOutOfRange;
  auto status = static_cast<Status>(p.status);
  if (status != Status::kOk) {
    // Only the data plane's answer to a read may fail, and then it carries no bytes.
    if (type != RecordType::kDmaData || status != Status::kDmaFailed) return Status::kOutOfRange;
    if (piece_len != 0 || chunk_len > kMaxChunkSize) return Status::kBadLength;
    return Status::kOk;
  }
  if (chunk_len == 0 || chunk_len > kMaxChunkSize) return Status::kBadLength;
  if (piece_len == 0 || piece_off + piece_len > chunk_len) return Status::kBadLength;
  return Status::kOk;
}

}  // namespace

uint32_t frame_records_crc(std::span<const uint8_t> frame) {
  if (frame.size() <= sizeof(FrameHeader)) return 0;
  return crc32c(frame.data() + sizeof(FrameHeader), frame.size() - sizeof(FrameHeader));
}

size_t frame_put_fcs(uint8_t *frame, size_t len, uint32_t records_crc) {
  le32 fcs;
  fcs.set(crc32c(frame, std::min(len, sizeof(FrameHeader)), records_crc));
  std::memcpy(frame + len, &fcs, sizeof(fcs));
  return len + kFrameFcsSize;
}

std::span<const uint8_t> frame_check_fcs(std::span<const uint8_t> wire) {
  if (wire.size() < sizeof(FrameHeader) + kFrameFcsSize) return {};
  const std::span<const uint8_t> frame = wire.first(wire.size() - kFrameFcsSize);
  le32 fcs;
  std::memcpy(&fcs, wire.data() + frame.size(), sizeof(fcs));
  const uint32_t want = crc32c(frame.data(), sizeof(FrameHeader), frame_records_crc(frame));
  if (fcs.get() != want) return {};
  return frame;
}

Status check_record(RecordType type, std::span<const uint8_t> payload) {
  if (type == RecordType::kInvalid || type >= RecordType::kTypeCount) return Status::kBadKind;
  const RecordLayout &l = record_layout(type);
  if (payload.size() < l.min_payload) return Status::kTruncated;
  if (payload.size() > l.max_payload) return Status::kBadLength;
  switch (type) {
    case RecordType::kDescriptor:
      return Status::kOk;  // authenticity is SessionCrypto::open's business
    case RecordType::kDmaReadReq: {
      DmaReadReq r;
      std::memcpy(&r, payload.data(), sizeof(r));
      uint32_t len = r.len.get();
      return len == 0 || len > kMaxChunkSize ? Status::kBadLength : Status::kOk;
    }
    case RecordType::kDmaData:
    case RecordType::kDmaWrite:
      return check_piece(type, payload);
    default:
      return Status::kBadKind;
  }
}

FrameWriter::FrameWriter(std::span<uint8_t> buf)
    : buf_(buf.first(std::min(buf.size(), kMaxFrameSize))) {}

void FrameWriter::reset() {
  used_ = sizeof(FrameHeader);
  n_records_ = 0;
}

size_t FrameWriter::space_left() const {
  return buf_.size() > used_ ? buf_.size() - used_ : 0;
}

uint8_t *FrameWriter::append(RecordType type, uint32_t channel, size_t payload_len) {
  if (type == RecordType::kInvalid || type >= RecordType::kTypeCount) return nullptr;
  if (payload_len > UINT16_MAX || n_records_ == UINT16_MAX) return nullptr;
  if (sizeof(RecordHeader) + payload_len > space_left()) return nullptr;
  RecordHeader h{};
  h.type = static_cast<uint8_t>(type);
  h.len.set(static_cast<uint16_t>(payload_len));
  h.channel.set(channel);
  std::memcpy(buf_.data() + used_, &h, sizeof(h));
  uint8_t *payload = buf_.data() + used_ + sizeof(h);
  used_ += sizeof(h) + payload_len;
  ++n_records_;
  return payload;
}

size_t FrameWriter::finish(uint8_t flags, uint32_t stream_id, uint64_t seq, uint64_t ack) {
  if (buf_.size() < sizeof(FrameHeader)) return 0;
  if ((flags & ~kKnownFrameFlags) != 0) return 0;
  if ((flags & kNonceFlags) == kNonceFlags) return 0;
  if ((flags & kNonceFlags) != 0 && (flags & kFrameAckOnly) == 0) return 0;
  if ((flags & kFrameAckOnly) != 0) {
    if (n_records_ != 0) return 0;
    if ((flags & kNonceFlags) == 0) seq = 0;  // ack-only frames are not sequenced
  }
  FrameHeader h{};
  h.magic.set(kFrameMagic);
  h.version = kProtoVersion;
  h.flags = flags;
  h.n_records.set(n_records_);
  h.payload_len.set(static_cast<uint32_t>(used_ - sizeof(FrameHeader)));
  h.stream_id.set(stream_id);
  h.seq.set(seq);
  h.ack.set(ack);
  std::memcpy(buf_.data(), &h, sizeof(h));
  return used_;
}

Status FrameReader::parse(std::span<const uint8_t> frame) {
  records_ = {};
  pos_ = 0;
  left_ = 0;
  hdr_ = FrameHeader{};
  if (frame.size() < sizeof(FrameHeader)) return Status::kTruncated;
  if (frame.size() > kMaxFrameSize) return Status::kBadLength;
  FrameHeader h;
  std::memcpy(&h, frame.data(), sizeof(h));
  if (h.magic.get() != kFrameMagic) return Status::kBadMagic;
  if (h.version != kProtoVersion) return Status::kBadVersion;
  if ((h.flags & ~kKnownFrameFlags) != 0) return Status::kOutOfRange;
  std::span<const uint8_t> payload = frame.subspan(sizeof(FrameHeader));
  if (h.payload_len.get() != payload.size())
    return h.payload_len.get() > payload.size() ? Status::kTruncated : Status::kBadLength;
  uint16_t n = h.n_records.get();
  if ((h.flags & kNonceFlags) == kNonceFlags) return Status::kOutOfRange;
  if ((h.flags & kNonceFlags) != 0 && (h.flags & kFrameAckOnly) == 0) return Status::kOutOfRange;
  if ((h.flags & kFrameAckOnly) != 0 && n != 0) return Status::kBadLength;
  if ((h.flags & kFrameAckOnly) != 0 && (h.flags & kNonceFlags) == 0 && h.seq.get() != 0)
    return Status::kBadLength;

  size_t pos = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (payload.size() - pos < sizeof(RecordHeader)) return Status::kTruncated;
    RecordHeader rh;
    std::memcpy(&rh, payload.data() + pos, sizeof(rh));
    pos += sizeof(rh);
    size_t len = rh.len.get();
    if (payload.size() - pos < len) return Status::kTruncated;
    Status st = check_record(static_cast<RecordType>(rh.type), payload.subspan(pos, len));
    if (st != Status::kOk) return st;
    pos += len;
  }
  if (pos != payload.size()) return Status::kBadLength;  // bytes after the last record

  hdr_ = h;
  records_ = payload;
  left_ = n;
  return Status::kOk;
}

bool FrameReader::next(RecordView &out) {
  if (left_ == 0) return false;
  // parse() validated every record; the bounds are checked again so that a bug elsewhere can
  // never turn into a read past the frame.
  if (records_.size() - pos_ < sizeof(RecordHeader)) [[unlikely]] {
    left_ = 0;
    return false;
  }
  RecordHeader rh;
  std::memcpy(&rh, records_.data() + pos_, sizeof(rh));
  size_t len = rh.len.get();
  if (records_.size() - pos_ - sizeof(rh) < len) [[unlikely]] {
    left_ = 0;
    return false;
  }
  out.type = static_cast<RecordType>(rh.type);
  out.flags = rh.flags;
  out.channel = rh.channel.get();
  out.payload = records_.subspan(pos_ + sizeof(rh), len);
  pos_ += sizeof(rh) + len;
  --left_;
  return true;
}

}  // namespace ferry::proto
