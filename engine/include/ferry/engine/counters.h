// Counters written by one polling thread and read by the telemetry thread. Writers use a
// relaxed load+store (no locked instruction on the hot path); readers see whole values.
#pragma once

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

}  // namespace ferry::engine
