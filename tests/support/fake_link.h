// The fake transport: a one-way, in-process, bounded queue of records between two protocol
// endpoints (host relay and device node), used by tests in place of the engine. It carries
// the records' bytes as the engine would, and checks each with proto::check_record before
// handing it over, as the engine's frame reader does. Single-threaded: the test drives both
// ends from one thread (or guards the link itself).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "ferry/proto/descriptor.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/record_sink.h"

namespace ferry::testing {

class FakeLink : public proto::RecordSink {
 public:
  explicit FakeLink(size_t capacity = 4096) : capacity_(capacity) {}

  bool emit(proto::RecordType type, uint32_t channel, std::span<const uint8_t> head,
            std::span<const uint8_t> tail = {}) override;

  // Hands up to `budget` queued records to `deliver` in order; a record the receiver refuses
  // (returns false: backpressure) stays at the head. Returns records delivered.
  size_t drain(const std::function<bool(const proto::RecordView &)> &deliver,
               size_t budget = SIZE_MAX);

  size_t queued() const { return q_.size(); }
  uint64_t emitted() const { return emitted_; }
  uint64_t refused() const { return refused_; }
  uint64_t malformed() const { return malformed_; }
  // Test hooks: drop or duplicate the next record that is emitted.
  void drop_next(size_t n = 1) { drop_ += n; }
  void duplicate_next(size_t n = 1) { dup_ += n; }
  // Drops the next n descriptor records of `kind` that are emitted (a host that withholds
  // chosen descriptors: kSealed, the n next sealed ones, whose kind the host cannot see);
  // other records pass.
  void drop_next_of_kind(proto::Kind kind, size_t n = 1) {
    drop_kind_ = kind;
    drop_of_kind_ += n;
  }
  // Gives access to the queued raw records (header + payload) to tamper with in tests.
  std::deque<std::vector<uint8_t>> &raw() { return q_; }

 private:
  size_t capacity_;
  std::deque<std::vector<uint8_t>> q_;
  uint64_t emitted_ = 0, refused_ = 0, malformed_ = 0;
  size_t drop_ = 0, dup_ = 0, drop_of_kind_ = 0;
  proto::Kind drop_kind_ = proto::Kind::kInvalid;
};

}  // namespace ferry::testing
