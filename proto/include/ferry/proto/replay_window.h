// RFC 6479-style anti-replay window: a ring of 64-bit words covering the last `bits`
// sequence numbers below the highest seen. Check before authenticating, update after.
#pragma once

#include <cstdint>
#include <vector>

namespace ferry::proto {

class ReplayWindow {
 public:
  // bits is rounded up to a power of two, at least 1024; the window keeps one spare word so
  // it really covers `bits` sequence numbers. Throws std::invalid_argument above 1 << 20.
  explicit ReplayWindow(uint32_t bits = 1024);

  // True if seq (>= 1) is new: above the highest seen, or inside the window and not seen.
  bool check(uint64_t seq) const;
  // Records seq as seen; call only after the message authenticated. Returns false (and
  // changes nothing) if it was not new.
  bool update(uint64_t seq);
  uint64_t highest() const { return highest_; }
  uint32_t size_bits() const { return bits_; }
  void reset();

 private:
  uint32_t bits_;
  uint64_t highest_ = 0;
  std::vector<uint64_t> words_;
};

}  // namespace ferry::proto
