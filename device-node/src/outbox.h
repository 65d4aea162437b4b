// Records a session wants sent, in order, when the peer's sink refuses them for now
// (backpressure). A bounded byte ring allocated once; sending and flushing allocate nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ferry/proto/kinds.h"
#include "ferry/proto/record_sink.h"

namespace ferry::device {

class Outbox {
 public:
  // capacity: bytes of queued records (each costs kEntryHeader + payload bytes).
  explicit Outbox(size_t capacity, size_t max_payload);

  static constexpr size_t kEntryHeader = 8;

  // True when a record of payload_len bytes is sure to be taken by send().
  bool has_room(size_t payload_len) const { return free_bytes() >= kEntryHeader + payload_len; }
  size_t free_bytes() const { return ring_.size() - used_; }
  bool empty() const { return used_ == 0; }

  // Emits the record to `peer` now when nothing is queued before it and the peer takes it;
  // queues it otherwise. Returns false only when it did neither (no room): nothing was taken.
  // `deferred` counts records that had to be queued.
  bool send(proto::RecordSink &peer, proto::RecordType type, uint32_t channel,
            std::span<const uint8_t> head, std::span<const uint8_t> tail, uint64_t &deferred);
  // Emits queued records in order until the peer refuses one. Returns records emitted.
  size_t flush(proto::RecordSink &peer);
  void clear() { head_ = used_ = 0; }

 private:
  void put(const uint8_t *p, size_t n);
  void get(size_t at, uint8_t *p, size_t n) const;

  std::vector<uint8_t> ring_;
  std::vector<uint8_t> scratch_;  // one record's payload, contiguous, for emitting
  size_t head_ = 0;               // offset of the oldest entry
  size_t used_ = 0;
};

}  // namespace ferry::device
