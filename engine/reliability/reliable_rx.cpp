#include "reliability/reliable_rx.h"

#include <cstring>

namespace ferry::engine {

RxWindow::RxWindow(uint32_t slots, size_t frame_cap)
    : n_(slots ? slots : 1),
      cap_(frame_cap),
      storage_(static_cast<size_t>(n_) * cap_),
      slots_(n_) {}

RxWindow::Store RxWindow::store(uint64_t seq, std::span<const uint8_t> frame) {
  if (seq <= contig_) return Store::kDuplicate;
  if (seq >= deliver_ + n_) return Store::kOutOfWindow;
  if (frame.size() > cap_ || frame.empty()) return Store::kTooBig;
  Slot &s = slots_[seq % n_];
  if (s.len != 0) return Store::kDuplicate;  // already buffered out of order
  std::memcpy(storage_.data() + (seq % n_) * cap_, frame.data(), frame.size());
  s.len = static_cast<uint32_t>(frame.size());
  s.cursor = 0;
  while (contig_ + 1 < deliver_ + n_ && slots_[(contig_ + 1) % n_].len != 0) ++contig_;
  return Store::kStored;
}

std::span<const uint8_t> RxWindow::head() const {
  if (deliver_ > contig_) return {};
  const Slot &s = slots_[deliver_ % n_];
  return {storage_.data() + (deliver_ % n_) * cap_, s.len};
}

void RxWindow::pop_head() {
  slots_[deliver_ % n_].len = 0;
  ++deliver_;
}

uint32_t RxWindow::reset(uint64_t next) {
  uint32_t dropped = 0;
  for (Slot &s : slots_) {
    if (s.len) ++dropped;
    s.len = 0;
    s.cursor = 0;
  }
  deliver_ = next ? next : 1;
  contig_ = deliver_ - 1;
  return dropped;
}

}  // namespace ferry::engine
