// One guest<->device session: its keys, per-queue replay windows, in-order execution and
// reply cache, its model instance and DMA engine. The model sees the session only as its
// DeviceContext, so it can reach nothing but its own session's guest memory.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dma_engine.h"
#include "ferry/device/device_node.h"
#include "ferry/device/model.h"
#include "ferry/proto/descriptor.h"
#include "ferry/proto/replay_window.h"
#include "ferry/proto/session.h"
#include "outbox.h"

namespace ferry::device {

struct SessionSetup {
  uint32_t channel = 0;
  uint32_t device_id = 0;
  std::string model;
  ModelParams params;
  NodeOptions opts;
  proto::DmaGeometry dma;  // the guest's DMA window, from its Hello
  uint32_t replay_window = 1024;
  uint32_t reply_cache = 256;
  uint32_t guest_id = 0;  // from the Hello (events name it)
};

class Session final : public DeviceContext {
 public:
  // Throws (set-up) if the model cannot be made. `peer` and `outbox` outlive the session.
  Session(proto::Aead &aead, const proto::SessionSecrets &secrets, const SessionSetup &setup,
          proto::RecordSink &peer, Outbox &outbox, uint64_t now_ns);
  ~Session() override;

  // A kDescriptor for this session (a private copy whose header passed check_header).
  void on_descriptor(proto::Descriptor &d);
  void on_dma_piece(const proto::DmaPiece &p, std::span<const uint8_t> bytes);
  // After each record: hand finished DMA to the model.
  void after_input();
  // Returns the records and DMA completions this poll produced (0: idle).
  size_t poll(uint64_t now_ns);
  bool quiescent() const;
  // True once a sequence gap outlived reorder_timeout_ns (fail closed, docs/protocol.md).
  bool failed() const { return failed_; }

  DeviceModel &model() { return *model_; }
  const NodeCounters &counters() const { return counters_; }
  const QueueCounters &queue_counters(uint16_t q) const { return queues_[q].stats; }
  uint32_t session_id() const { return crypto_.session_id(); }
  uint16_t n_queues() const { return crypto_.params().n_queues; }
  uint32_t device_id() const { return setup_.device_id; }
  const std::string &model_name() const { return setup_.model; }
  const proto::RecordSink *peer() const { return &peer_; }

  // DeviceContext.
  bool dma_read(uint64_t addr, uint32_t len, uint8_t *dst, uint64_t cookie) override;
  bool dma_write(uint64_t addr, const uint8_t *src, uint32_t len, uint64_t cookie) override;
  void raise_irq(uint32_t vectors) override;
  uint64_t now_ns() const override { return now_ns_; }

  // For the DMA engine.
  NodeCounters &stats() { return counters_; }
  proto::SessionCrypto &crypto() { return crypto_; }
  uint32_t channel() const { return setup_.channel; }
  uint32_t guest_id() const { return setup_.guest_id; }
  // Tells NodeOptions::events (when set) of `what` on this session.
  void report(NodeEvent what, uint64_t addr = 0) const;
  bool tx_room(size_t bytes) const { return outbox_.free_bytes() >= bytes; }
  // Sends a record (in order behind anything queued); counts a drop when there is no room.
  void send(proto::RecordType type, std::span<const uint8_t> head,
            std::span<const uint8_t> tail = {});
  // Numbers (next sequence of queue q, device -> guest) and seals a descriptor whose kind
  // and body the caller filled; a kCompletion or kInterrupt gets body.offset = the kDmaSync
  // announcements sealed so far (a sealed kDmaSync must be sent before the next seal). False when
  // it could not be sealed (a rekey step failed): then d is wiped, the failure counted
  // (seal_failures) and the number stays unused.
  bool seal_next(uint16_t q, proto::Descriptor &d);
  // seal_next(), then sends d (which holds the sealed bytes afterwards). False: nothing sent.
  bool send_sealed(uint16_t q, proto::Descriptor &d);

 private:
  struct Held {
    uint64_t seq = 0;
    bool used = false;
    uint64_t arrived_ns = 0;  // MMIO reads: when it reached the session (service time)
    proto::Descriptor d{};
  };
  struct Cached {
    uint64_t seq = 0;  // request sequence; 0 = empty
    proto::Descriptor reply{};
  };
  struct Queue {
    explicit Queue(uint32_t window_bits) : window(window_bits) {}
    proto::ReplayWindow window;
    std::vector<Held> held;
    uint32_t n_held = 0;
    uint64_t next_exec = 1;
    bool gap = false;
    uint64_t gap_since = 0;
    uint64_t tx_seq = 0;
    std::vector<Cached> cache;
    QueueCounters stats;
    uint64_t exec_arrived_ns = 0;  // arrived_ns of the descriptor being executed
  };

  void drain(uint16_t q);
  // A gap on queue q outlived reorder_timeout_ns: the session fails closed (see .cpp).
  void fail_on_gap(uint16_t q);
  // Seals and sends a kCompletion with status kSeqGap on queue q answering request `seq`
  // (0: the notice that the session failed, answering no request).
  void send_gap_error(uint16_t q, uint64_t seq);
  void execute(uint16_t q, const proto::Descriptor &d);
  void answer_read(uint16_t q, const proto::Descriptor &d);
  void flush_irq();
  void sync_rekey_stats();

  SessionSetup setup_;
  proto::SessionCrypto crypto_;
  proto::RecordSink &peer_;
  Outbox &outbox_;
  uint64_t now_ns_;
  NodeCounters counters_;
  std::vector<Queue> queues_;
  DmaEngine dma_;
  uint32_t pending_irq_ = 0;
  uint64_t announced_ = 0;  // device kDmaSync announcements sealed (each is sent at once)
  bool failed_ = false;     // a guest->device gap was never filled: nothing more is executed
  size_t activity_ = 0;     // records sent or queued, DMA completions delivered
  std::unique_ptr<DeviceModel> model_;  // last: built once the context is complete
};

}  // namespace ferry::device
