#include "ferry/engine/counters.h"

#include "ferry/engine/engine.h"

namespace ferry::engine {

uint64_t LatencyHistogram::quantile_upper_ns(double q) const {
  uint64_t total = 0;
  std::array<uint64_t, kBuckets> snap{};
  for (int i = 0; i < kBuckets; ++i) total += snap[i] = buckets_[i].get();
  if (total == 0) return 0;
  uint64_t want = static_cast<uint64_t>(q * static_cast<double>(total));
  if (want >= total) want = total - 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += snap[i];
    if (seen > want) return uint64_t{2} << i;
  }
  return uint64_t{2} << (kBuckets - 1);
}

ChannelCounters::Entry &ChannelCounters::lookup(uint32_t channel) {
  int n = used.load(std::memory_order_relaxed);
  for (int i = 0; i < n; ++i)
    if (entries[i].channel.load(std::memory_order_relaxed) == channel) return entries[i];
  if (n == kMax) return entries[kMax - 1];
  entries[n].channel.store(channel, std::memory_order_relaxed);
  used.store(n + 1, std::memory_order_release);  // the telemetry thread reads `used` first
  return entries[n];
}

}  // namespace ferry::engine
