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
// Sessions: a Hello that authenticates with its guest's PSK is answered with an Accept and
// held as the channel's pending session; only the guest's Confirm (proto/handshake.h), which
// only the holder of the Hello's ephemeral key can make, turns it into the live session. Then
// it replaces the channel's session with fresh keys and a fresh model instance (a device
// reset, like a function-level reset when a driver attaches): a new session never sees the
// device state, buffers or DMA of the one before, which may have belonged to another guest.
// A replayed Hello (any authentic one recorded earlier) therefore never displaces the live
// session; its pending session is reaped after confirm_timeout_ns. A Hello byte-identical to
// the live or pending one (a retransmission) is answered with the same Accept and costs no key
// exchange; the others are rate limited (handshakes_per_s, handshake_burst). Sessions that
// see no traffic for idle_timeout_ns are reaped.
//
// Threading: one DeviceNode per polling thread, with that thread's Aead; not thread-safe.
// The data path (on_record, poll) allocates nothing and throws nothing; set-up (the
// constructor, a new session) may allocate.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
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

// What an operator wants to hear about as it happens; the service logs it (ferry.node), the
// node itself has no log. Called on the node's thread, from the data path: an implementation
// must not allocate or block (it formats only what it writes, rate limited).
enum class NodeEvent {
  kHandshakeRejected,   // a Hello that did not authenticate; `why` says why
  kHandshakeMisrouted,  // an authentic Hello on another channel than it names: not answered
  kSessionsRefused,     // max_sessions reached: a handshake was not served
  kSessionStarted,      // a guest attached (its Confirm matched): a new session
  kSessionReplaced,     // ... and it replaced the channel's live session
  kSessionIdle,         // a session reaped after idle_timeout_ns
  kSessionPeerGone,     // a session ended because its data plane went away
  kSessionFailed,       // a sequence gap stayed open: the session fails closed
  kDmaTimeout,          // a chunk read did not come back in dma_timeout_ns
};
struct NodeEventInfo {
  NodeEvent what;
  uint32_t channel = 0;
  uint32_t device_id = 0;  // as the Hello names it (unauthenticated for a reject)
  uint32_t guest_id = 0;
  uint32_t session_id = 0;
  uint64_t addr = 0;  // kDmaTimeout: the chunk's device address; kSessionFailed: the queue
  const char *why = "";
};
class NodeEvents {
 public:
  virtual ~NodeEvents() = default;
  virtual void on_event(const NodeEventInfo &e) = 0;
};

// Tunables that are not (yet) in DeviceNodeConfig. Each session's DMA geometry (chunk size,
// count, base) is the guest's, from its Hello; the node bounds it (max_chunks, and the chunk
// size outbox_bytes can carry).
struct NodeOptions {
  uint32_t max_chunks = 1u << 16;  // chunks a guest's DMA window may have
  uint32_t max_piece = 1024;       // sealed bytes per kDmaWrite record (a piece fits a frame)
  uint64_t dma_timeout_ns = 200'000'000;        // a chunk read that does not come back fails
  uint32_t max_dma_ops = 16;                    // model transfers in flight per session
  uint32_t max_chunk_fetches = 16;              // chunk reads in flight per session
  uint32_t max_dma_len = 16u << 20;             // bytes per model transfer
  uint32_t reorder_slots = 256;                 // per queue: descriptors held to run in order
  uint64_t reorder_timeout_ns = 50'000'000;     // a sequence gap older than this fails the session
  uint32_t outbox_bytes = 256u << 10;           // per session: records held under backpressure
  uint64_t confirm_timeout_ns = 5'000'000'000;  // an accepted handshake not confirmed is reaped
  uint64_t idle_timeout_ns = 600'000'000'000;   // a session without traffic is reaped; 0: never
  uint32_t handshakes_per_s = 64;  // key exchanges (new Hellos) the node runs per second...
  uint32_t handshake_burst = 32;   // ...after a burst of this many
  NodeEvents *events = nullptr;    // told of NodeEvents when set; must outlive the node
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
  X(seq_gaps_failed, "sequence gaps not filled in reorder_timeout_ns: the session failed")    \
  X(late_dropped, "descriptors that arrived after their session failed on a gap")             \
  X(backlog_dropped, "descriptors dropped because the reorder buffer was full")               \
  X(handshakes, "sessions established (a Confirm matched the pending handshake)")             \
  X(handshake_failures, "handshakes rejected (wrong PSK, unknown device, malformed)")         \
  X(handshake_retransmits, "retransmitted Hellos answered with the same Accept")              \
  X(handshake_work, "Hellos that cost a key exchange (X25519, HKDF)")                         \
  X(handshakes_throttled, "Hellos dropped unanswered over the handshake rate limit")          \
  X(confirms_bad, "Confirms that matched no pending handshake of their channel")              \
  X(pending_expired, "accepted handshakes never confirmed (e.g. replayed Hellos), reaped")    \
  X(sessions_idle_reaped, "sessions ended after idle_timeout_ns without traffic")             \
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

// Checks every device's model and parameters against the model table (model_factory.cpp)
// before anything starts. Throws config::ConfigError naming cfg.file, the key
// (devices[i].model, devices[i].params.KEY) and its line; where the configuration was not
// read from a file (no line), the key names the device by id.
void check_device_models(const config::DeviceNodeConfig &cfg);

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
  struct GuestKey {
    uint32_t guest_id;
    proto::Psk psk;
  };
  struct Device {
    config::DeviceConfig cfg;
    std::vector<GuestKey> guests;  // each guest's own PSK
  };
  struct Pending;
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
  void on_hello(Channel &c, std::span<const uint8_t> hello);
  void on_confirm(Channel &c, std::span<const uint8_t> confirm);
  void send_handshake(Channel &c, const proto::Descriptor &d);
  bool take_handshake_token();
  void reap(Channel &c);
  Channel *channel_for_handshake(proto::RecordSink &peer, uint32_t channel);
  void on_dma_data(proto::RecordSink &peer, const proto::RecordView &r);
  Channel *find(const proto::RecordSink &peer, uint32_t channel);
  const Device *device(uint32_t id) const;
  std::optional<proto::Psk> guest_psk(uint32_t device_id, uint32_t guest_id) const;
  void retire(Channel &c);
  void report(NodeEvent what, uint32_t channel, uint32_t device_id = 0, uint32_t guest_id = 0,
              const char *why = "") const;

  config::DeviceNodeConfig cfg_;
  proto::Aead &aead_;
  NodeOptions opts_;
  proto::DmaLimits dma_limits_;
  std::vector<Device> devices_;
  std::unordered_map<Key, std::unique_ptr<Channel>, KeyHash> channels_;
  size_t live_sessions_ = 0;
  uint64_t now_ns_ = 0;
  uint64_t handshake_credit_ns_ = 0;  // token bucket of key exchanges, in ns of refill
  uint64_t handshake_credit_at_ = 0;
  NodeCounters node_;     // events outside any session
  NodeCounters retired_;  // sessions that ended
};

}  // namespace ferry::device
