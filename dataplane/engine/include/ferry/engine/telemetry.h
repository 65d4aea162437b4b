// Engine counters through DPDK telemetry: commands under /ferry/ that dpdk-telemetry.py reads
// (connect with `dpdk-telemetry.py -f <file-prefix>`):
//   /ferry/info      role, transport, epoch, frame size, frames in flight
//   /ferry/stats     engine and transport counters
//   /ferry/latency   frame round-trip histogram (log2 ns buckets) and p50/p99/p999 bounds
//   /ferry/channels  records and bytes per guest channel
//   /ferry/app       the relay's or device node's own counters (auth failures, replays, ...)
#pragma once

namespace ferry::engine {

class Engine;

// Publishes `engine` under /ferry/ (registers the commands on first use). Passing nullptr
// withdraws it (call before the engine is destroyed). `role` must be a string literal.
void telemetry_publish(const Engine *engine, const char *role);

}  // namespace ferry::engine
