// Test handlers for the engine: a source of numbered records, a sink that checks they arrive
// in order and exactly once, and an echo. Shared by the in-process tests and ferry-engine-peer.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include "ferry/engine/engine.h"
#include "ferry/proto/frame.h"

namespace ferry::testing {

inline constexpr size_t kSeqRecordSize = 64;  // a kDescriptor record's payload

inline void fill_seq_record(uint8_t (&p)[kSeqRecordSize], uint64_t seq) {
  std::memcpy(p, &seq, sizeof(seq));
  for (size_t i = sizeof(seq); i < kSeqRecordSize; ++i) p[i] = static_cast<uint8_t>(seq * 31 + i);
}

// Returns the record's number, or 0 when the payload is not a well-formed numbered record.
inline uint64_t read_seq_record(std::span<const uint8_t> p) {
  if (p.size() != kSeqRecordSize) return 0;
  uint64_t seq;
  std::memcpy(&seq, p.data(), sizeof(seq));
  for (size_t i = sizeof(seq); i < kSeqRecordSize; ++i)
    if (p[i] != static_cast<uint8_t>(seq * 31 + i)) return 0;
  return seq;
}

// Checks that numbered records arrive as 1, 2, 3, ... on one channel; counts anything else.
struct SeqChecker {
  uint64_t expected = 1;
  // Atomic: tests poll it from another thread while an engine thread counts (ThreadSanitizer).
  std::atomic<uint64_t> received{0};
  uint64_t out_of_order = 0, corrupt = 0;
  void take(const proto::RecordView &r) {
    const uint64_t s = read_seq_record(r.payload);
    if (s == 0) {
      ++corrupt;
      return;
    }
    if (s != expected) ++out_of_order;
    expected = s + 1;
    ++received;
  }
  bool clean() const { return out_of_order == 0 && corrupt == 0; }
};

// Emits records 1..total on `channel` (as fast as the engine takes them) and checks the echoes.
class SeqSource : public engine::RecordHandler {
 public:
  SeqSource(uint64_t total, uint32_t channel) : total_(total), channel_(channel) {}
  bool on_record(proto::RecordSink &, const proto::RecordView &r) override {
    echoes.take(r);
    return true;
  }
  int poll(proto::RecordSink &out, uint64_t) override {
    int n = 0;
    while (next_ <= total_ && n < 32) {
      uint8_t p[kSeqRecordSize];
      fill_seq_record(p, next_);
      if (!out.emit(proto::RecordType::kDescriptor, channel_, p)) break;
      ++next_;
      ++n;
    }
    return n;
  }
  uint64_t sent() const { return next_ - 1; }
  bool done_sending() const { return next_ > total_; }
  SeqChecker echoes;

 private:
  uint64_t total_;
  uint32_t channel_;
  uint64_t next_ = 1;
};

// Checks numbered records in order; optionally refuses every `refuse_every`-th offer
// (backpressure) and echoes what it takes back to the peer.
class SeqSink : public engine::RecordHandler {
 public:
  explicit SeqSink(bool echo = false, uint32_t refuse_every = 0)
      : echo_(echo), refuse_every_(refuse_every) {}
  bool on_record(proto::RecordSink &out, const proto::RecordView &r) override {
    if (refuse_every_ && ++offers_ % refuse_every_ == 0) return false;
    if (echo_ && !out.emit(r.type, r.channel, r.payload)) return false;
    seq.take(r);
    return true;
  }
  int poll(proto::RecordSink &, uint64_t) override { return 0; }
  SeqChecker seq;

 private:
  bool echo_;
  uint32_t refuse_every_;
  uint64_t offers_ = 0;
};

}  // namespace ferry::testing
