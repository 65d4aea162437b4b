// Single-producer / single-consumer ring of 64-byte descriptor slots in shared memory.
// Indices are free-running 32-bit counters on their own cache lines, published with
// release and read with acquire. The other side of the ring may be hostile: an index read
// from it is checked before use and never trusted to stay put.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "ferry/proto/descriptor.h"
#include "ferry/proto/shm_layout.h"

namespace ferry::proto {

namespace detail {
inline uint32_t load_acquire(RingIndex &i) {
  return std::atomic_ref<uint32_t>(i.value).load(std::memory_order_acquire);
}
inline void store_release(RingIndex &i, uint32_t v) {
  std::atomic_ref<uint32_t>(i.value).store(v, std::memory_order_release);
}
}  // namespace detail

class RingProducer {
 public:
  RingProducer() = default;
  // hdr points at the ring's RingHeader; slots follow it. n is a power of two.
  RingProducer(RingHeader *hdr, uint32_t n)
      : hdr_(hdr), slots_(reinterpret_cast<Descriptor *>(hdr + 1)), mask_(n - 1) {
    prod_ = detail::load_acquire(hdr_->prod);
  }

  // Free slots, or -EBADMSG when the consumer index is impossible (ahead of the producer,
  // or more than a ring behind).
  int free_slots() {
    uint32_t cons = detail::load_acquire(hdr_->cons);
    uint32_t used = prod_ - cons;
    if (used > mask_ + 1) [[unlikely]]
      return -EBADMSG;
    return static_cast<int>(mask_ + 1 - used);
  }
  // 1 if pushed, 0 if full, -EBADMSG as free_slots().
  int push(const Descriptor &d) {
    int free = free_slots();
    if (free <= 0) return free;
    std::memcpy(&slots_[prod_ & mask_], &d, sizeof(d));
    detail::store_release(hdr_->prod, ++prod_);
    return 1;
  }

 private:
  RingHeader *hdr_ = nullptr;
  Descriptor *slots_ = nullptr;
  uint32_t mask_ = 0;
  uint32_t prod_ = 0;
};

class RingConsumer {
 public:
  RingConsumer() = default;
  RingConsumer(RingHeader *hdr, uint32_t n)
      : hdr_(hdr), slots_(reinterpret_cast<Descriptor *>(hdr + 1)), mask_(n - 1) {
    cons_ = detail::load_acquire(hdr_->cons);
  }

  // Descriptors ready, or -EBADMSG when the producer index is impossible.
  int available() {
    uint32_t prod = detail::load_acquire(hdr_->prod);
    uint32_t ready = prod - cons_;
    if (ready > mask_ + 1) [[unlikely]]
      return -EBADMSG;
    return static_cast<int>(ready);
  }
  // Copies the next slot into private `out` and frees it: 1, 0 if empty, -EBADMSG.
  int pop(Descriptor &out) {
    int ready = available();
    if (ready <= 0) return ready;
    copy_from_untrusted(out, &slots_[cons_ & mask_]);
    detail::store_release(hdr_->cons, ++cons_);
    return 1;
  }

 private:
  RingHeader *hdr_ = nullptr;
  Descriptor *slots_ = nullptr;
  uint32_t mask_ = 0;
  uint32_t cons_ = 0;
};

}  // namespace ferry::proto
