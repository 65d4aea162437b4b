// Engine counters through DPDK telemetry: commands under /ferry/ that dpdk-telemetry.py reads
// (connect with `dpdk-telemetry.py -f <file-prefix>`):
//   /ferry/info      role, transport, lanes, stream id (lane 0), frame size, frames in flight
//   /ferry/stats     engine and transport counters: totals over every lane (and the port lcore
//                    of a dpdk host split over lanes), then `lane_<i>` with each lane's own
//                    (its link_up and health: peer_restarts, duplicates, malformed, bad_fcs,
//                    window_full)
//   /ferry/latency   frame round-trip histogram (lt_<N>_ns: samples below N ns in quarter-octave
//                    buckets, proto/latency_histogram.h), count, sum_ns and p50/p99/p999
//                    bounds, over every lane
//   /ferry/channels  records and bytes per guest channel (with the lane that carries it)
//   /ferry/app       the relay's or device node's own counters (auth failures, replays, ...),
//                    summed over the lanes
#pragma once

#include <span>

namespace ferry::engine {

class Engine;
struct TransportCounters;

// Publishes one engine per lane (lane i = lanes[i]) under /ferry/ (registers the commands on
// first use); `port` is the port lcore's counters when dpdk is split over lanes, else null.
// The engines must stay alive until withdrawn. `role` must be a string literal.
void telemetry_publish(std::span<const Engine *const> lanes, const TransportCounters *port,
                       const char *role);
// One engine (one lane). Passing nullptr withdraws what is published (call before the
// engines are destroyed).
void telemetry_publish(const Engine *engine, const char *role);

}  // namespace ferry::engine
