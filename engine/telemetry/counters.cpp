#include "ferry/engine/counters.h"

namespace ferry::engine {

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
