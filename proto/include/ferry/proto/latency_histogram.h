// ferry's one latency histogram: the engine's frame round trip, the relay's MMIO round trip,
// the device node's service time. Quarter-octave buckets, so that a quantile read from it is
// at most 25% above the true value (below 8 ns the buckets are exact). Written by one thread
// (a polling loop) with relaxed load + store, no locked instruction; any thread may read it
// or copy it (telemetry) and sees whole values. Header-only; samples are taken on
// proto::now_ns() (proto/idle.h).
#pragma once

#include <array>
#include <atomic>
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

  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram &o) { *this = o; }
  LatencyHistogram &operator=(const LatencyHistogram &o) {
    for (int i = 0; i < kBuckets; ++i) set(buckets_[i], o.bucket(i));
    set(count_, o.count());
    set(sum_ns_, o.sum_ns());
    return *this;
  }

  // The writing thread only.
  void record(uint64_t ns) {
    add(buckets_[index(ns)], 1);
    add(count_, 1);
    add(sum_ns_, ns);
  }

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t sum_ns() const { return sum_ns_.load(std::memory_order_relaxed); }
  uint64_t bucket(int i) const { return buckets_[i].load(std::memory_order_relaxed); }
  // Upper bound (ns) of the bucket holding quantile q in [0, 1]; 0 when empty.
  uint64_t quantile_upper_ns(double q) const {
    std::array<uint64_t, kBuckets> b;
    uint64_t total = 0;
    for (int i = 0; i < kBuckets; ++i) total += b[i] = bucket(i);
    return quantile_upper_ns(b, total, q);
  }

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

 private:
  using Cell = std::atomic<uint64_t>;
  static void add(Cell &c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static void set(Cell &c, uint64_t v) { c.store(v, std::memory_order_relaxed); }
  std::array<Cell, kBuckets> buckets_{};
  Cell count_{0}, sum_ns_{0};
};

static_assert(LatencyHistogram::index(7) == 7 && LatencyHistogram::index(8) == 8);
static_assert(LatencyHistogram::upper_ns(8) == 10 && LatencyHistogram::index(9) == 8);
static_assert(LatencyHistogram::index(10) == 9 && LatencyHistogram::index(16) == 12);
static_assert(LatencyHistogram::upper_ns(LatencyHistogram::index(1000)) > 1000);

}  // namespace ferry::proto
