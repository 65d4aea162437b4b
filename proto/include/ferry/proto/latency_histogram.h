// A latency histogram written by one thread (the relay's or the device node's polling loop)
// with plain counters: quarter-octave buckets, so that a quantile read from it is at most 25%
// above the true value (below 8 ns the buckets are exact). Header-only, shared by the relay,
// the device node and the telemetry that publishes them (engine/telemetry_queues.h).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace ferry::proto {

class LatencyHistogram {
 public:
  static constexpr int kBuckets = 160;  // up to 2^41 ns (about 36 minutes); above: last bucket

  // Bucket of `ns`: 0..7 exact, then four buckets per power of two.
  static constexpr int index(uint64_t ns) {
    if (ns < 8) return static_cast<int>(ns);
    const int octave = 63 - __builtin_clzll(ns);  // >= 3
    const int sub = static_cast<int>((ns >> (octave - 2)) & 3);
    const int i = 4 * (octave - 1) + sub;
    return i < kBuckets ? i : kBuckets - 1;
  }
  // Exclusive upper bound (ns) of bucket i.
  static constexpr uint64_t upper_ns(int i) {
    if (i < 8) return static_cast<uint64_t>(i) + 1;
    const int octave = i / 4 + 1, sub = i % 4;
    return static_cast<uint64_t>(5 + sub) << (octave - 2);
  }

  void record(uint64_t ns) {
    ++buckets_[index(ns)];
    ++count_;
    sum_ns_ += ns;
  }
  void clear() { *this = LatencyHistogram{}; }

  uint64_t count() const { return count_; }
  uint64_t sum_ns() const { return sum_ns_; }
  uint64_t bucket(int i) const { return buckets_[i]; }
  // Upper bound (ns) of the bucket holding quantile q in [0, 1]; 0 when empty.
  uint64_t quantile_upper_ns(double q) const { return quantile_upper_ns(buckets_, count_, q); }

  // The same over a copy of the buckets (telemetry reads them out of a snapshot).
  template <typename Buckets>
  static uint64_t quantile_upper_ns(const Buckets &b, uint64_t total, double q) {
    if (total == 0) return 0;
    uint64_t want = static_cast<uint64_t>(q * static_cast<double>(total));
    if (want >= total) want = total - 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += b[i];
      if (seen > want) return upper_ns(i);
    }
    return upper_ns(kBuckets - 1);
  }

  // A monotonic clock in ns for the samples (vDSO clock_gettime: no system call).
  static uint64_t clock_ns() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }

 private:
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0, sum_ns_ = 0;
};

static_assert(LatencyHistogram::index(7) == 7 && LatencyHistogram::index(8) == 8);
static_assert(LatencyHistogram::upper_ns(8) == 10 && LatencyHistogram::index(9) == 8);
static_assert(LatencyHistogram::index(10) == 9 && LatencyHistogram::index(16) == 12);
static_assert(LatencyHistogram::upper_ns(LatencyHistogram::index(1000)) > 1000);

}  // namespace ferry::proto
