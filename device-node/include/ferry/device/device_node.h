// The device node core: everything behind the network engine on the accelerator host.
// It answers handshakes, keeps one session per (peer, channel), opens and executes sealed
// requests in order and exactly once, runs one device model instance per session, drives
// the asynchronous DMA engine (docs/protocol.md, DMA) and seals completions, DMA data and
// interrupts back to the peer it heard them from.
//
// Use: the engine calls on_record() for every record it receives and poll() from its loop
// (also when idle: models have timers, DMA reads time out, deferred records are retried).
// Replies go to the RecordSink the session was established through; a refused emit is kept
// and retried (never dropped), in order, per session.
//
// Sessions: a Hello on a channel that authenticates replaces the channel's session with
// fresh keys and a fresh model instance (a device reset, like a function-level reset when a
// driver attaches): a new session never sees the device state, buffers or DMA of the one
// before, which may have belonged to another guest. A byte-identical Hello (a retransmitted
// one) is answered with the same Accept and changes nothing.
//
// Threading: one DeviceNode per polling thread, with that thread's Aead; not thread-safe.
// The data path (on_record, poll) allocates nothing and throws nothing; set-up (the
// constructor, a new session) may allocate.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ferry/config/config.h"
#include "ferry/device/model.h"
#include "ferry/proto/aead.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/handshake.h"
#include "ferry/proto/latency_histogram.h"
#include "ferry/proto/record_sink.h"

namespace ferry::device {

// Tunables that are not (yet) in DeviceNodeConfig. The DMA geometry must match the guest
// regions the data planes serve (config::GuestRegion); a device's params may override it
// per device with the keys chunk_size, dma_base and n_chunks (removed before the model sees
// its params).
struct NodeOptions {
  uint32_t chunk_size = 4096;     // multiple of 64, at most proto::kMaxChunkSize
  uint64_t dma_base = 0x1000000;  // device address of chunk 0
  uint32_t n_chunks = 1024;       // chunks in a guest's DMA window
  uint32_t max_piece = 1024;      // sealed bytes per kDmaWrite record (a piece fits a frame)
  uint64_t dma_timeout_ns = 200'000'000;     // a chunk read that does not come back fails
  uint32_t max_dma_ops = 16;                 // model transfers in flight per session
  uint32_t max_chunk_fetches = 16;           // chunk reads in flight per session
  uint32_t max_dma_len = 16u << 20;          // bytes per model transfer
  uint32_t reorder_slots = 256;              // per queue: descriptors held to run in order
  uint64_t reorder_timeout_ns = 50'000'000;  // a sequence gap older than this is skipped
  uint32_t outbox_bytes = 256u << 10;        // per session: records held under backpressure
};

// Counters, per session and in total. X(name, meaning).
#define FERRY_DEVICE_NODE_COUNTERS(X)                                                         \
  X(records, "records received")                                                              \
  X(descriptors, "descriptors authenticated and accepted")                                    \
  X(mmio_reads, "MMIO reads executed")                                                        \
  X(mmio_writes, "MMIO writes executed")                                                      \
  X(dma_syncs, "guest DMA version announcements applied")                                     \
  X(completions, "completions sealed and sent (not counting replays from the cache)")         \
  X(bad_accesses, "MMIO accesses the model refused (no BAR, bad size)")                       \
  X(auth_failures, "descriptors or handshakes that did not authenticate")                     \
  X(replays_dropped, "replayed or stale descriptors dropped")                                 \
  X(duplicates_answered_from_cache, "duplicate requests answered with the cached completion") \
  X(malformed, "records or descriptors rejected as malformed")                                \
  X(no_session, "records for a channel without a session")                                    \
  X(out_of_order_held, "descriptors held until earlier sequence numbers arrived")             \
  X(seq_gaps_skipped, "sequence gaps given up on after reorder_timeout_ns")                   \
  X(late_dropped, "descriptors that arrived after their gap was skipped")                     \
  X(backlog_dropped, "descriptors dropped because the reorder buffer was full")               \
  X(handshakes, "sessions established")                                                       \
  X(handshake_failures, "handshakes rejected (wrong PSK, unknown device, malformed)")         \
  X(handshake_retransmits, "retransmitted Hellos answered with the same Accept")              \
  X(sessions_replaced, "sessions replaced by a new handshake on their channel")               \
  X(sessions_refused, "handshakes refused because max_sessions was reached")                  \
  X(dma_reads, "model DMA reads started")                                                     \
  X(dma_writes, "model DMA writes started")                                                   \
  X(dma_refused, "model DMA requests refused (range, length, too many in flight)")            \
  X(dma_failures, "model DMA transfers completed with an error")                              \
  X(dma_timeouts, "chunk reads that timed out")                                               \
  X(dma_chunks_read, "chunks read and verified")                                              \
  X(dma_chunks_written, "chunks sealed and sent")                                             \
  X(dma_chunk_auth_failures, "chunks that did not verify against the expected version")       \
  X(dma_pieces_dropped, "DMA data pieces that matched no request or were malformed")          \
  X(irqs, "interrupt descriptors sent")                                                       \
  X(tx_deferred, "records queued because the peer refused them (backpressure)")               \
  X(tx_dropped, "records dropped because the session's outbox was full")                      \
  X(rekeys_tx, "key epochs the node's sending streams moved to (following the guest)")        \
  X(rekeys_rx, "key epochs the guest's streams moved to, as the node opened them")            \
  X(old_keys_wiped, "previous-epoch keys wiped after the rekey overlap")                      \
  X(epoch_rejects, "descriptors whose key epoch was too old or too far ahead")                \
  X(epoch_trials_refused, "later-epoch descriptors refused untried: failed-trial rate limit") \
  X(seal_failures, "descriptors not sent because they could not be sealed (rekey step failed)")

struct NodeCounters {
#define FERRY_X(name, what) uint64_t name = 0;
  FERRY_DEVICE_NODE_COUNTERS(FERRY_X)
#undef FERRY_X
  NodeCounters &operator+=(const NodeCounters &o);
  // Calls f(name, value) for every counter (telemetry export).
  template <typename F>
  void for_each(F &&f) const {
#define FERRY_X(name, what) f(#name, name);
    FERRY_DEVICE_NODE_COUNTERS(FERRY_X)
#undef FERRY_X
  }
};

struct SessionInfo {
  const proto::RecordSink *peer = nullptr;
  uint32_t channel = 0;
  uint32_t device_id = 0;
  uint32_t session_id = 0;
  uint16_t n_queues = 0;
  std::string model;
  NodeCounters counters;
};

// Per queue of a live session (the rows of /ferry/queues and `ferry stats`).
struct QueueCounters {
  uint64_t descriptors = 0;      // guest descriptors authenticated and accepted
  uint64_t executed = 0;         // of which run by the model, in sequence order
  uint64_t sent = 0;             // descriptors sealed and sent (completions, interrupts, DMA)
  uint64_t completions = 0;      // MMIO read completions sealed and sent
  uint64_t auth_failures = 0;    // descriptors that did not authenticate
  uint64_t replays_dropped = 0;  // replayed or stale descriptors dropped
  uint64_t cache_replies = 0;    // duplicate reads answered from the reply cache
  // MMIO reads: arrival at the session -> completion sealed and queued for the link. It
  // covers opening, waiting for earlier sequence numbers or for room, the model and sealing;
  // not the network or the data plane (the data plane's round trip covers those).
  proto::LatencyHistogram service_ns;
};

struct SessionStats {
  uint32_t channel = 0;
  uint32_t device_id = 0;
  uint32_t session_id = 0;
  uint16_t n_queues = 0;
  const NodeCounters *counters = nullptr;  // the session's own counters
};

// Receives the live sessions' counters (DeviceNode::visit_stats), on the node's thread.
class StatsVisitor {
 public:
  virtual ~StatsVisitor() = default;
  virtual void session(const SessionStats &s) = 0;
  virtual void queue(const SessionStats &s, uint16_t queue, const QueueCounters &c) = 0;
};

class Session;
class Outbox;

class DeviceNode {
 public:
  // Loads every device's PSK (proto::read_psk_file) and checks its model and parameters.
  // Throws std::runtime_error / std::invalid_argument naming the problem. `aead` must outlive
  // the node.
  DeviceNode(const config::DeviceNodeConfig &cfg, proto::Aead &aead, const NodeOptions &opts = {});
  ~DeviceNode();
  DeviceNode(const DeviceNode &) = delete;
  DeviceNode &operator=(const DeviceNode &) = delete;

  // One record from a data plane (`peer` is where its replies go; it must stay valid until
  // drop_peer() or the node's destruction). Anything malformed, unauthenticated or replayed
  // is dropped and counted.
  void on_record(proto::RecordSink &peer, const proto::RecordView &r);
  // Model ticks, DMA timeouts and progress, retry of records the peer refused. Returns how
  // much happened (records emitted or queued, transfers completed); 0 means it was idle.
  size_t poll(uint64_t now_ns);
  // The peer is gone (connection closed, reset frame): its sessions end.
  void drop_peer(const proto::RecordSink &peer);

  // Totals: live sessions, sessions that ended, and events outside any session.
  NodeCounters counters() const;
  std::vector<SessionInfo> sessions() const;
  size_t session_count() const;
  // Every live session and each of its queues, without allocating (for telemetry snapshots).
  void visit_stats(StatsVisitor &v) const;
  // The model of the live session on (peer, channel), or nullptr (tests, diagnostics).
  DeviceModel *model(const proto::RecordSink &peer, uint32_t channel);
  // True when no session holds queued records, held descriptors or DMA in flight.
  bool quiescent() const;

 private:
  struct Device {
    config::DeviceConfig cfg;
    proto::Psk psk;
    ModelParams model_params;  // cfg.params without the node's keys
    NodeOptions opts;          // NodeOptions with the device's overrides
  };
  struct Channel;
  struct Key {
    const proto::RecordSink *peer;
    uint32_t channel;
    bool operator==(const Key &) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key &k) const;
  };

  void on_descriptor(proto::RecordSink &peer, const proto::RecordView &r);
  void on_handshake(proto::RecordSink &peer, uint32_t channel, const proto::Descriptor &d);
  void on_dma_data(proto::RecordSink &peer, const proto::RecordView &r);
  Channel *find(const proto::RecordSink &peer, uint32_t channel);
  const Device *device(uint32_t id) const;
  void retire(Channel &c);

  config::DeviceNodeConfig cfg_;
  proto::Aead &aead_;
  NodeOptions opts_;
  std::vector<Device> devices_;
  std::unordered_map<Key, std::unique_ptr<Channel>, KeyHash> channels_;
  size_t live_sessions_ = 0;
  uint64_t now_ns_ = 0;
  NodeCounters node_;     // events outside any session
  NodeCounters retired_;  // sessions that ended
};

}  // namespace ferry::device
