// RFC 6479 anti-replay window: a ring of 64-bit words; sliding forward clears whole words
// instead of shifting a bitmap, so update() costs O(1) for in-order traffic.
#include "ferry/proto/replay_window.h"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>

namespace ferry::proto {
namespace {
constexpr uint32_t kMinBits = 1024;
constexpr uint32_t kMaxBits = 1u << 20;
}  // namespace

ReplayWindow::ReplayWindow(uint32_t bits) {
  if (bits > kMaxBits)
    throw std::invalid_argument("replay window of " + std::to_string(bits) +
                                " bits is above the limit of " + std::to_string(kMaxBits));
  bits_ = std::bit_ceil(std::max(bits, kMinBits));
  // bits / 64 words hold the window; the spare word lets the oldest sequence numbers survive
  // while the word of the highest one is only partly used. Twice as many keeps the ring a
  // power of two, so the index is a mask.
  words_.assign(2 * (bits_ / 64), 0);
}

bool ReplayWindow::check(uint64_t seq) const {
  if (seq == 0) [[unlikely]]
    return false;
  if (seq > highest_) return true;
  if (highest_ - seq >= bits_) return false;  // too old
  uint64_t mask = words_.size() - 1;
  return ((words_[(seq >> 6) & mask] >> (seq & 63)) & 1) == 0;
}

bool ReplayWindow::update(uint64_t seq) {
  if (!check(seq)) return false;
  uint64_t mask = words_.size() - 1;
  if (seq > highest_) {
    uint64_t cur = highest_ >> 6;
    uint64_t diff = (seq >> 6) - cur;
    if (diff > words_.size()) diff = words_.size();
    for (uint64_t i = 1; i <= diff; ++i) words_[(cur + i) & mask] = 0;
    highest_ = seq;
  }
  words_[(seq >> 6) & mask] |= uint64_t{1} << (seq & 63);
  return true;
}

void ReplayWindow::reset() {
  highest_ = 0;
  std::fill(words_.begin(), words_.end(), 0);
}

}  // namespace ferry::proto
