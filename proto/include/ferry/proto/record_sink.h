// Where the protocol logic (host relay, device node) puts the records it wants sent. The
// engine implements it by packing records into frames; tests implement it by handing the
// records to the peer in process (the fake transport). Nothing above knows which.
#pragma once

#include <cstdint>
#include <span>

#include "ferry/proto/kinds.h"

namespace ferry::proto {

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // Queues one record whose payload is head followed by tail. Returns false when there is
  // no room now: nothing was taken and the caller keeps the record and retries later
  // (backpressure, never a silent drop).
  virtual bool emit(RecordType type, uint32_t channel, std::span<const uint8_t> head,
                    std::span<const uint8_t> tail = {}) = 0;
};

}  // namespace ferry::proto
