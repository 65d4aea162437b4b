// The engine's and the transports' counters, in one header so telemetry and tests read them
// without the engine's or a transport's interface. Each is written by one polling thread and
// read by the telemetry thread: writers use a relaxed load+store (no locked instruction on the
// hot path); readers see whole values.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "ferry/proto/latency_histogram.h"

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

// What a transport moved and dropped (Transport::counters()).
struct TransportCounters {
  Counter frames_tx, frames_rx, bytes_tx, bytes_rx;
  Counter tx_drops;    // frames given up after the bounded TX retry (or no peer address)
  Counter rx_dropped;  // received and discarded: wrong peer, truncated, bad checksum, ...
  Counter test_drops;  // dropped on purpose by the test hook
  Counter arp_requests_tx, arp_replies_tx, arp_rx;
  Counter connects;     // kernel-tcp: connections established (accepted or connected)
  Counter disconnects;  // kernel-tcp: connections lost or closed on a protocol error
  // dpdk lanes: an rte_ring between the port lcore and a lane was full (a lane's frames then
  // wait in its window; frames for a lane are dropped and counted here too).
  Counter ring_full;
};

// What an engine did (Engine::counters()).
struct EngineCounters {
  Counter iterations, busy_iterations;
  Counter records_tx, records_rx, descriptors_tx, descriptors_rx;
  Counter frames_tx, frames_rx;  // data frames (first transmissions) and frames received
  Counter bytes_rx;
  Counter ack_frames_tx, ack_frames_rx;
  Counter retransmits;          // frames sent again
  Counter timeouts;             // retransmit timer expiries
  Counter fast_retransmits;     // oldest frame resent early after repeated acks for a hole
  Counter duplicates;           // frames received again (already delivered or buffered)
  Counter out_of_window;        // frames too far ahead to buffer
  Counter malformed;            // frames refused: bad frame check sequence or FrameReader
  Counter bad_fcs;              // of those, frames whose FCS did not match (changed in transit)
  Counter backpressure;         // times the handler refused a record
  Counter window_full;          // emits refused because every frame slot was in flight
  Counter oversize_records;     // records larger than an empty frame: dropped and counted
  Counter foreign_frames;       // frames of a stream other than the peer's: not used
  Counter challenges_tx;        // stream challenges sent (a foreign stream, or a stalled one)
  Counter echoes_tx;            // challenges answered
  Counter echoes_refused;       // echoes of no challenge of ours (wrong stream or nonce)
  Counter peer_restarts;        // a new peer stream taken (after its echo) over an older one
  Counter resyncs;              // our window moved past frames the sender gave up on
  Counter link_resets;          // stream transport connection replaced (kernel-tcp)
  Counter frames_discarded;     // received frames dropped when the window moved
  proto::LatencyHistogram rtt;  // send -> cumulative ack of first transmissions (datagram only)
};

// Per-channel record counts (a small fixed table; channels beyond it share the last entry).
struct ChannelCounters {
  static constexpr int kMax = 32;
  struct Entry {
    std::atomic<uint32_t> channel{0};
    Counter records_tx, records_rx, bytes_tx, bytes_rx;
  };
  std::array<Entry, kMax> entries;
  std::atomic<int> used{0};
  Entry &lookup(uint32_t channel);
};

}  // namespace ferry::engine
