// The poll-mode engine: moves records between the protocol logic above it (host relay or
// device node core) and one transport below it. Records are packed into frames (several per
// frame when they wait together, flushed at the end of every poll iteration); datagram
// transports get sequence numbers, cumulative acks, retransmission and in-order, exactly-once
// delivery (reliable_tx.h, reliable_rx.h). One Engine runs on one lcore, run to completion.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "ferry/engine/counters.h"
#include "ferry/engine/options.h"
#include "ferry/engine/transport.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/record_sink.h"

namespace ferry::engine {

class FramePacker;
class TxWindow;
class RxWindow;

// Named values an application publishes through telemetry (see RecordHandler::collect_stats).
class StatsWriter {
 public:
  virtual ~StatsWriter() = default;
  // `name` must outlive the engine (a string literal).
  virtual void put(const char *name, uint64_t value) = 0;
};

// What sits above the engine. All calls come from the engine's polling thread.
class RecordHandler {
 public:
  virtual ~RecordHandler() = default;
  // One record from the peer, in the order the peer emitted it. False: cannot take it now
  // (backpressure); the engine offers the same record again later and nothing after it first.
  virtual bool on_record(proto::RecordSink &out, const proto::RecordView &rec) = 0;
  // Looks for local work (submission rings, the device model) and emits records. Returns the
  // amount of work done; 0 means idle.
  virtual int poll(proto::RecordSink &out, uint64_t now_ns) = 0;
  // Called every housekeeping pass (timers, heartbeats).
  virtual void housekeeping(uint64_t now_ns) { (void)now_ns; }
  // Publishes the application's own counters; called at housekeeping, not from telemetry.
  virtual void collect_stats(StatsWriter &w) { (void)w; }
};

class Engine {
 public:
  // The engine owns the transport; the handler outlives the engine.
  Engine(std::unique_ptr<Transport> transport, RecordHandler &handler, const EngineOptions &opt);
  ~Engine();
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  // One poll iteration: receive, deliver, poll the handler, retransmit, flush. Returns the work
  // done (0 = idle).
  int run_once(uint64_t now_ns);
  // One housekeeping pass (transport upkeep, handler timers, stats snapshot).
  void housekeeping(uint64_t now_ns);
  // Polls until `stop` is set, applying the idle policy and housekeeping; then stops polling
  // the handler for new work and drains frames in flight for up to drain_ms.
  void run(const std::atomic<bool> &stop);

  // The sink records go to (for tests and for handlers that emit outside poll()).
  proto::RecordSink &sink();
  Transport &transport() { return *transport_; }
  const EngineCounters &counters() const { return counters_; }
  const ChannelCounters &channels() const { return channels_; }
  uint32_t stream_id() const { return stream_id_; }
  // Frames sent but not yet acknowledged (always 0 on reliable transports).
  uint32_t in_flight() const;
  // Snapshot of the handler's collect_stats() values, for telemetry.
  struct AppStat {
    const char *name = nullptr;
    Counter value;
  };
  static constexpr int kMaxAppStats = 48;
  const std::array<AppStat, kMaxAppStats> &app_stats() const { return app_stats_; }
  int app_stats_used() const { return app_stats_used_.load(std::memory_order_acquire); }

 private:
  friend class FramePacker;
  void process_frame(std::span<const uint8_t> frame, uint64_t now_ns);
  void link_replaced();
  void challenge(uint32_t stream, uint64_t now_ns);
  void answer_challenge(uint64_t nonce);
  void take_echo(const proto::FrameHeader &h, uint64_t now_ns);
  void watch_progress(uint64_t now_ns);
  int flush(uint64_t now_ns);
  bool send_control(uint8_t flags, uint64_t seq, uint64_t ack);
  void send_ack_only();

  std::unique_ptr<Transport> transport_;
  RecordHandler &handler_;
  EngineOptions opt_;
  bool datagram_;
  const uint32_t stream_id_;     // random id of our tx stream (new at every start)
  uint32_t peer_stream_id_ = 0;  // the peer's stream we take frames from; 0 until one echoed
  uint32_t pending_stream_ = 0;  // the stream last challenged, and the nonce it must echo
  uint64_t pending_nonce_ = 0;
  uint64_t challenge_sent_ns_ = 0;
  uint64_t challenge_gap_ns_ = 0;  // at most one challenge per gap (retransmit_us)
  uint64_t stall_ns_ = 0;          // no progress this long while frames arrive: challenge
  uint64_t rx_last_ack_ = 0;
  uint64_t rx_progress_ns_ = 0;
  bool ack_owed_ = false;
  bool gap_ack_ = false;   // a frame arrived after a hole: ack at once, even beside data
  bool draining_ = false;  // shutting down: the handler is not polled for new work
  uint64_t link_gen_ = 0;
  std::unique_ptr<TxWindow> tx_;
  std::unique_ptr<RxWindow> rx_;
  std::unique_ptr<FramePacker> packer_;
  alignas(8) uint8_t ack_buf_[sizeof(proto::FrameHeader) + proto::kFrameFcsSize];
  EngineCounters counters_;
  ChannelCounters channels_;
  std::array<AppStat, kMaxAppStats> app_stats_{};
  std::atomic<int> app_stats_used_{0};
};

}  // namespace ferry::engine
