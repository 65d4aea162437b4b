// Frames and records: what the writer builds the reader accepts, and the reader refuses
// every truncated, oversized or inconsistent frame without reading past it.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "ferry/proto/crc32c.h"
#include "ferry/proto/descriptor.h"
#include "ferry/proto/frame.h"

namespace ferry::proto {
namespace {

std::vector<uint8_t> piece(RecordType, uint32_t chunk_len, uint32_t off, uint32_t len,
                           Status st = Status::kOk, uint8_t writer = 0) {
  std::vector<uint8_t> p(sizeof(DmaPiece) + len, 0x33);
  DmaPiece h{};
  h.addr.set(0x40000);
  h.version.set(7);
  h.chunk_len.set(chunk_len);
  h.piece_off.set(off);
  h.piece_len.set(len);
  h.writer = writer;
  h.status = static_cast<uint8_t>(st);
  std::memcpy(p.data(), &h, sizeof(h));
  return p;
}

// A frame with one record of each type.
std::vector<uint8_t> sample_frame(size_t *size_out = nullptr) {
  std::vector<uint8_t> buf(kMaxFrameSize);
  FrameWriter w(buf);
  uint8_t *p = w.append(RecordType::kDescriptor, 5, kDescriptorSize);
  std::memset(p, 0x11, kDescriptorSize);
  DmaReadReq r{};
  r.addr.set(0x40000);
  r.len.set(4096);
  r.req_id.set(3);
  std::memcpy(w.append(RecordType::kDmaReadReq, 5, sizeof(r)), &r, sizeof(r));
  auto d = piece(RecordType::kDmaData, 4096, 0, 1000);
  std::memcpy(w.append(RecordType::kDmaData, 5, d.size()), d.data(), d.size());
  auto wr = piece(RecordType::kDmaWrite, 4096, 1000, 3096);
  std::memcpy(w.append(RecordType::kDmaWrite, 6, wr.size()), wr.data(), wr.size());
  size_t n = w.finish(0, 0xfeed, 42, 41);
  buf.resize(n);
  if (size_out) *size_out = n;
  return buf;
}

// The frame check sequence's CRC32C, whichever implementation this CPU runs (SSE4.2 or the
// table): the standard check value, and a bit-by-bit reference over every length and
// alignment up to 64 bytes, continued across calls.
uint32_t crc32c_bitwise(const uint8_t *p, size_t n, uint32_t crc) {
  crc = ~crc;
  while (n-- > 0) {
    crc ^= *p++;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}

TEST(Frame, crc32c_matches_the_check_value_and_a_bitwise_reference) {
  EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);
  std::mt19937 rng(7);
  uint8_t buf[80];
  for (auto &b : buf) b = static_cast<uint8_t>(rng());
  for (size_t off = 0; off < 8; ++off) {
    for (size_t n = 0; n <= 64; ++n) {
      ASSERT_EQ(crc32c(buf + off, n), crc32c_bitwise(buf + off, n, 0)) << off << " " << n;
      ASSERT_EQ(crc32c(buf + off + n / 2, n - n / 2, crc32c(buf + off, n / 2)),
                crc32c_bitwise(buf + off, n, 0));
    }
  }
}

TEST(Frame, written_frame_reads_back_record_by_record) {
  auto f = sample_frame();
  FrameReader r;
  ASSERT_EQ(r.parse(f), Status::kOk);
  EXPECT_EQ(r.header().seq.get(), 42u);
  EXPECT_EQ(r.header().ack.get(), 41u);
  EXPECT_EQ(r.header().stream_id.get(), 0xfeedu);
  EXPECT_EQ(r.header().flags, 0);
  EXPECT_EQ(r.header().n_records.get(), 4);
  RecordView v;
  ASSERT_TRUE(r.next(v));
  EXPECT_EQ(v.type, RecordType::kDescriptor);
  EXPECT_EQ(v.channel, 5u);
  EXPECT_EQ(v.payload.size(), kDescriptorSize);
  EXPECT_EQ(v.payload[0], 0x11);
  ASSERT_TRUE(r.next(v));
  EXPECT_EQ(v.type, RecordType::kDmaReadReq);
  ASSERT_TRUE(r.next(v));
  EXPECT_EQ(v.type, RecordType::kDmaData);
  EXPECT_EQ(v.payload.size(), sizeof(DmaPiece) + 1000);
  ASSERT_TRUE(r.next(v));
  EXPECT_EQ(v.type, RecordType::kDmaWrite);
  EXPECT_EQ(v.channel, 6u);
  EXPECT_FALSE(r.next(v));
}

TEST(Frame, every_truncation_is_refused) {
  auto f = sample_frame();
  FrameReader r;
  for (size_t n = 0; n < f.size(); ++n) {
    // Copy into an exact-size heap buffer so ASan catches any read past the end.
    std::vector<uint8_t> cut(f.begin(), f.begin() + n);
    EXPECT_NE(r.parse(cut), Status::kOk) << n;
    RecordView v;
    EXPECT_FALSE(r.next(v)) << "no records after a failed parse";
  }
}

TEST(Frame, trailing_bytes_after_the_records_are_refused) {
  auto f = sample_frame();
  f.push_back(0);
  FrameHeader h;
  std::memcpy(&h, f.data(), sizeof(h));
  h.payload_len.set(h.payload_len.get() + 1);
  std::memcpy(f.data(), &h, sizeof(h));
  FrameReader r;
  EXPECT_EQ(r.parse(f), Status::kBadLength);
}

TEST(Frame, header_fields_are_each_checked) {
  auto good = sample_frame();
  FrameReader r;
  auto with = [&](auto mutate) {
    auto f = good;
    FrameHeader h;
    std::memcpy(&h, f.data(), sizeof(h));
    mutate(h);
    std::memcpy(f.data(), &h, sizeof(h));
    return r.parse(f);
  };
  EXPECT_EQ(with([](FrameHeader &h) { h.magic.set(0x12345678); }), Status::kBadMagic);
  EXPECT_EQ(with([](FrameHeader &h) { h.version = kProtoVersion + 1; }), Status::kBadVersion);
  EXPECT_EQ(with([](FrameHeader &h) { h.flags = 0x80; }), Status::kOutOfRange);
  EXPECT_EQ(with([](FrameHeader &h) { h.payload_len.set(h.payload_len.get() + 1); }),
            Status::kTruncated);
  EXPECT_EQ(with([](FrameHeader &h) { h.payload_len.set(h.payload_len.get() - 1); }),
            Status::kBadLength);
  EXPECT_EQ(with([](FrameHeader &h) { h.n_records.set(5); }), Status::kTruncated);
  EXPECT_EQ(with([](FrameHeader &h) { h.n_records.set(3); }), Status::kBadLength);
  EXPECT_EQ(with([](FrameHeader &h) { h.flags = kFrameAckOnly; }), Status::kBadLength);
  // A challenge or an echo is an ack-only frame, never both at once.
  EXPECT_EQ(with([](FrameHeader &h) { h.flags = kFrameChallenge; }), Status::kOutOfRange);
  EXPECT_EQ(with([](FrameHeader &h) { h.flags = kFrameEcho; }), Status::kOutOfRange);
  EXPECT_EQ(with([](FrameHeader &) {}), Status::kOk);
}

TEST(Frame, record_with_unknown_type_or_wrong_length_is_refused) {
  std::vector<uint8_t> buf(256);
  FrameWriter w(buf);
  ASSERT_NE(w.append(RecordType::kDescriptor, 1, kDescriptorSize), nullptr);
  size_t n = w.finish(0, 1, 1, 0);
  buf.resize(n);
  FrameReader r;
  ASSERT_EQ(r.parse(buf), Status::kOk);
  auto bad_type = buf;
  bad_type[sizeof(FrameHeader)] = 9;
  EXPECT_EQ(r.parse(bad_type), Status::kBadKind);
  auto zero_type = buf;
  zero_type[sizeof(FrameHeader)] = 0;
  EXPECT_EQ(r.parse(zero_type), Status::kBadKind);
  // A descriptor record must be exactly 64 bytes: shrink it and fix up the frame.
  auto short_desc = buf;
  short_desc.resize(short_desc.size() - 1);
  short_desc[sizeof(FrameHeader) + 2] = kDescriptorSize - 1;
  FrameHeader h;
  std::memcpy(&h, short_desc.data(), sizeof(h));
  h.payload_len.set(h.payload_len.get() - 1);
  std::memcpy(short_desc.data(), &h, sizeof(h));
  EXPECT_EQ(r.parse(short_desc), Status::kTruncated);
}

TEST(Frame, frames_above_the_largest_any_transport_carries_are_refused) {
  std::vector<uint8_t> f(kMaxFrameSize + 1);
  FrameReader r;
  EXPECT_EQ(r.parse(f), Status::kBadLength);
}

TEST(Frame, ack_only_frame_round_trips_without_sequence) {
  std::vector<uint8_t> buf(64);
  FrameWriter w(buf);
  size_t n = w.finish(kFrameAckOnly, 9, 1234, 77);
  ASSERT_EQ(n, sizeof(FrameHeader));
  FrameReader r;
  ASSERT_EQ(r.parse(std::span(buf).first(n)), Status::kOk);
  EXPECT_EQ(r.header().ack.get(), 77u);
  EXPECT_EQ(r.header().seq.get(), 0u);
  RecordView v;
  EXPECT_FALSE(r.next(v));
}

TEST(FrameWriterLimits, never_writes_past_its_buffer) {
  std::vector<uint8_t> buf(sizeof(FrameHeader) + 100 + 16, 0xcc);
  FrameWriter w{std::span<uint8_t>(buf).first(sizeof(FrameHeader) + 100)};
  EXPECT_EQ(w.space_left(), 100u);
  EXPECT_NE(w.append(RecordType::kDescriptor, 1, kDescriptorSize), nullptr);
  EXPECT_EQ(w.space_left(), 100u - 72u);
  EXPECT_EQ(w.append(RecordType::kDescriptor, 1, kDescriptorSize), nullptr);
  EXPECT_EQ(w.n_records(), 1);
  EXPECT_EQ(w.finish(0, 1, 1, 0), sizeof(FrameHeader) + 72);
  for (size_t i = sizeof(FrameHeader) + 100; i < buf.size(); ++i) EXPECT_EQ(buf[i], 0xcc);
  w.reset();
  EXPECT_EQ(w.n_records(), 0);
  EXPECT_EQ(w.space_left(), 100u);
}

TEST(FrameWriterLimits, caps_frames_at_the_largest_a_transport_carries) {
  std::vector<uint8_t> buf(65536);
  FrameWriter w(buf);
  EXPECT_EQ(w.space_left(), kMaxFrameSize - sizeof(FrameHeader));
  EXPECT_EQ(w.append(RecordType::kDmaData, 1, 65000), nullptr);
}

TEST(FrameWriterLimits, buffer_smaller_than_a_header_yields_no_frame) {
  std::vector<uint8_t> buf(10);
  FrameWriter w(buf);
  EXPECT_EQ(w.space_left(), 0u);
  EXPECT_EQ(w.append(RecordType::kDescriptor, 1, 0), nullptr);
  EXPECT_EQ(w.finish(0, 1, 1, 0), 0u);
}

TEST(Frame, challenge_and_echo_frames_carry_their_nonce_in_seq) {
  std::vector<uint8_t> buf(64);
  FrameWriter w(buf);
  for (uint8_t flag : {uint8_t{kFrameChallenge}, uint8_t{kFrameEcho}}) {
    w.reset();
    size_t n = w.finish(kFrameAckOnly | flag, 9, 0x1234567890abcdefULL, 77);
    ASSERT_EQ(n, sizeof(FrameHeader));
    FrameReader r;
    ASSERT_EQ(r.parse(std::span(buf).first(n)), Status::kOk);
    EXPECT_EQ(r.header().seq.get(), 0x1234567890abcdefULL);
    EXPECT_EQ(r.header().flags, kFrameAckOnly | flag);
  }
  w.reset();
  EXPECT_EQ(w.finish(kFrameAckOnly | kFrameChallenge | kFrameEcho, 9, 1, 0), 0u);
  EXPECT_EQ(w.finish(kFrameChallenge, 9, 1, 0), 0u) << "a challenge is an ack-only frame";
  auto *h = reinterpret_cast<FrameHeader *>(buf.data());
  ASSERT_GT(w.finish(kFrameAckOnly | kFrameEcho, 9, 1, 0), 0u);
  h->flags = kFrameAckOnly | kFrameChallenge | kFrameEcho;
  FrameReader r;
  EXPECT_EQ(r.parse(std::span(buf).first(sizeof(FrameHeader))), Status::kOutOfRange);
}

TEST(FrameWriterLimits, refuses_invalid_types_and_flags) {
  std::vector<uint8_t> buf(256);
  FrameWriter w(buf);
  EXPECT_EQ(w.append(RecordType::kInvalid, 1, 8), nullptr);
  EXPECT_EQ(w.append(RecordType::kTypeCount, 1, 8), nullptr);
  EXPECT_EQ(w.finish(0x40, 1, 1, 0), 0u);
  ASSERT_NE(w.append(RecordType::kDescriptor, 1, kDescriptorSize), nullptr);
  EXPECT_EQ(w.finish(kFrameAckOnly, 1, 1, 0), 0u) << "ack-only frames carry no records";
}

TEST(Frame, random_mutations_never_crash_and_rarely_pass) {
  auto good = sample_frame();
  std::mt19937_64 rng(11);
  FrameReader r;
  size_t ok = 0;
  for (int i = 0; i < 20000; ++i) {
    auto f = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) f[rng() % f.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    if (rng() % 3 == 0) f.resize(rng() % f.size());
    if (r.parse(f) == Status::kOk) {
      ++ok;
      RecordView v;
      while (r.next(v)) EXPECT_EQ(check_record(v.type, v.payload), Status::kOk);
    }
  }
  EXPECT_LT(ok, 20000u);
}

// --- check_record -----------------------------------------------------------------------

TEST(Record, descriptor_must_be_exactly_64_bytes) {
  std::vector<uint8_t> p(kDescriptorSize);
  EXPECT_EQ(check_record(RecordType::kDescriptor, p), Status::kOk);
  EXPECT_EQ(check_record(RecordType::kDescriptor, std::span(p).first(63)), Status::kTruncated);
  p.push_back(0);
  EXPECT_EQ(check_record(RecordType::kDescriptor, p), Status::kBadLength);
}

TEST(Record, dma_read_request_length_must_be_a_possible_chunk) {
  DmaReadReq r{};
  auto check = [&](uint32_t len) {
    r.len.set(len);
    return check_record(RecordType::kDmaReadReq,
                        {reinterpret_cast<const uint8_t *>(&r), sizeof(r)});
  };
  EXPECT_EQ(check(4096), Status::kOk);
  EXPECT_EQ(check(kMaxChunkSize), Status::kOk);
  EXPECT_EQ(check(0), Status::kBadLength);
  EXPECT_EQ(check(kMaxChunkSize + 1), Status::kBadLength);
}

TEST(Record, dma_piece_must_lie_inside_its_chunk) {
  EXPECT_EQ(check_record(RecordType::kDmaData, piece(RecordType::kDmaData, 4096, 0, 4096)),
            Status::kOk);
  EXPECT_EQ(check_record(RecordType::kDmaData, piece(RecordType::kDmaData, 4096, 4000, 96)),
            Status::kOk);
  EXPECT_EQ(check_record(RecordType::kDmaData, piece(RecordType::kDmaData, 4096, 4001, 96)),
            Status::kBadLength);
  EXPECT_EQ(
      check_record(RecordType::kDmaWrite, piece(RecordType::kDmaWrite, 4096, 0xffffffffu, 16)),
      Status::kBadLength)
      << "offset + length must not wrap";
  EXPECT_EQ(check_record(RecordType::kDmaData, piece(RecordType::kDmaData, 0, 0, 16)),
            Status::kBadLength);
  EXPECT_EQ(
      check_record(RecordType::kDmaData, piece(RecordType::kDmaData, kMaxChunkSize + 64, 0, 16)),
      Status::kBadLength);
  EXPECT_EQ(check_record(RecordType::kDmaData, piece(RecordType::kDmaData, 4096, 0, 0)),
            Status::kBadLength);
}

TEST(Record, dma_piece_length_field_must_match_the_bytes_carried) {
  auto p = piece(RecordType::kDmaWrite, 4096, 0, 100);
  p.pop_back();
  EXPECT_EQ(check_record(RecordType::kDmaWrite, p), Status::kBadLength);
  EXPECT_EQ(check_record(RecordType::kDmaWrite, std::span(p).first(sizeof(DmaPiece) - 1)),
            Status::kTruncated);
}

TEST(Record, dma_failure_answers_carry_no_bytes_and_only_come_as_data) {
  EXPECT_EQ(check_record(RecordType::kDmaData,
                         piece(RecordType::kDmaData, 4096, 0, 0, Status::kDmaFailed)),
            Status::kOk);
  EXPECT_EQ(check_record(RecordType::kDmaData,
                         piece(RecordType::kDmaData, 4096, 0, 10, Status::kDmaFailed)),
            Status::kBadLength);
  EXPECT_EQ(check_record(RecordType::kDmaWrite,
                         piece(RecordType::kDmaWrite, 4096, 0, 0, Status::kDmaFailed)),
            Status::kOutOfRange);
  EXPECT_EQ(
      check_record(RecordType::kDmaData, piece(RecordType::kDmaData, 4096, 0, 0, Status::kBusy)),
      Status::kOutOfRange);
  EXPECT_EQ(
      check_record(RecordType::kDmaData, piece(RecordType::kDmaData, 4096, 0, 16, Status::kOk, 2)),
      Status::kOutOfRange)
      << "writer is 0 or 1";
}

TEST(Record, largest_piece_fills_a_maximum_frame) {
  const RecordLayout &l = record_layout(RecordType::kDmaData);
  size_t max_piece = l.max_payload - sizeof(DmaPiece);
  EXPECT_GE(max_piece, 4096u);
  std::vector<uint8_t> buf(kMaxFrameSize);
  FrameWriter w(buf);
  auto p = piece(RecordType::kDmaData, kMaxChunkSize, 0, static_cast<uint32_t>(max_piece));
  uint8_t *dst = w.append(RecordType::kDmaData, 1, p.size());
  ASSERT_NE(dst, nullptr);
  std::memcpy(dst, p.data(), p.size());
  EXPECT_EQ(w.space_left(), 0u);
  size_t n = w.finish(0, 1, 1, 0);
  EXPECT_EQ(n, kMaxFrameSize);
  FrameReader r;
  EXPECT_EQ(r.parse(std::span(buf).first(n)), Status::kOk);
  auto too_big =
      piece(RecordType::kDmaData, kMaxChunkSize, 0, static_cast<uint32_t>(max_piece + 1));
  EXPECT_EQ(check_record(RecordType::kDmaData, too_big), Status::kBadLength);
}

TEST(Record, unknown_types_are_refused) {
  std::vector<uint8_t> p(64);
  EXPECT_EQ(check_record(RecordType::kInvalid, p), Status::kBadKind);
  EXPECT_EQ(check_record(static_cast<RecordType>(200), p), Status::kBadKind);
}

}  // namespace
}  // namespace ferry::proto
