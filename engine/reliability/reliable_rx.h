// The receiving half of the engine's reliability: a bounded reorder window of frame slots.
// A frame is stored once (duplicates and frames too far ahead are refused and counted), the
// cumulative ack is the highest sequence number below which nothing is missing, and frames
// are handed up strictly in sequence order, each record exactly once, resuming after a record
// the layer above refused (backpressure). On a reliable transport the engine numbers frames
// itself as they arrive and only reads as many as there are free slots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace ferry::engine {

class RxWindow {
 public:
  RxWindow(uint32_t slots, size_t frame_cap);

  enum class Store { kStored, kDuplicate, kOutOfWindow, kTooBig };
  Store store(uint64_t seq, std::span<const uint8_t> frame);

  // Highest sequence number received with nothing missing before it (0: none yet).
  uint64_t ack() const { return contig_; }
  uint32_t free_slots() const { return n_ - static_cast<uint32_t>(contig_ + 1 - deliver_); }

  // The next frame to hand up in order, or an empty span. `cursor` is how many of its records
  // were already delivered.
  std::span<const uint8_t> head() const;
  uint16_t &head_cursor() { return slots_[deliver_ % n_].cursor; }
  // The head frame was delivered completely.
  void pop_head();
  // Forgets every stored frame; the next frame expected is `next` (a new peer stream, or one
  // whose sender gave up on frames before `next`). Returns how many stored frames were dropped.
  uint32_t reset(uint64_t next);

 private:
  struct Slot {
    uint32_t len = 0;  // 0: empty
    uint16_t cursor = 0;
  };
  uint32_t n_;
  size_t cap_;
  std::vector<uint8_t> storage_;
  std::vector<Slot> slots_;
  uint64_t deliver_ = 1;  // next sequence number to hand up
  uint64_t contig_ = 0;   // all of (deliver_ - 1, contig_] are stored
};

}  // namespace ferry::engine
