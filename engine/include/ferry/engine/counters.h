// Counters written by one polling thread and read by the telemetry thread. Writers use a
// relaxed load+store (no locked instruction on the hot path); readers see whole values.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace ferry::engine {

class Counter {
 public:
  void add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Log2 histogram of latencies in nanoseconds: bucket i counts samples in [2^i, 2^(i+1)) ns
// (bucket 0 also takes 0 and 1).
class LatencyHistogram {
 public:
  static constexpr int kBuckets = 40;
  void record(uint64_t ns) {
    int b = ns < 2 ? 0 : 63 - __builtin_clzll(ns);
    if (b >= kBuckets) b = kBuckets - 1;
    buckets_[b].add();
    count_.add();
    sum_ns_.add(ns);
  }
  uint64_t bucket(int i) const { return buckets_[i].get(); }
  uint64_t count() const { return count_.get(); }
  uint64_t sum_ns() const { return sum_ns_.get(); }
  // Upper bound (ns) of the bucket holding quantile q in [0, 1]; 0 when empty.
  uint64_t quantile_upper_ns(double q) const;

 private:
  std::array<Counter, kBuckets> buckets_{};
  Counter count_, sum_ns_;
};

}  // namespace ferry::engine
