// The data plane's shared-memory side for one guest region: it drains the guest's submission
// rings into kDescriptor records, puts the device node's descriptors into the completion
// rings, and serves the device's DMA from the window (kDmaReadReq -> kDmaData pieces,
// kDmaWrite pieces -> window chunk + ChunkMeta).
//
// The relay holds no keys and never looks inside a sealed descriptor or chunk. What it reads
// from the region was written by the guest and is checked only as far as the relay itself
// needs (ring indices, queue index, chunk address and bounds); authenticity is the device
// node's and the guest's business. Single-threaded: one polling lcore owns a relay.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "ferry/proto/frame.h"
#include "ferry/proto/latency_histogram.h"
#include "ferry/proto/record_sink.h"
#include "ferry/proto/shm_ring.h"
#include "relay/host_region.h"

namespace ferry::dataplane {

struct RelayCounters {
  uint64_t sq_descriptors = 0;  // descriptors taken from SQs and emitted
  uint64_t sq_bad_index = 0;    // polls that found an impossible SQ producer index
  uint64_t sq_bad_queue = 0;    // descriptors naming a queue outside the region (dropped)
  uint64_t emit_refused = 0;    // emits refused by the sink (kept, retried later)
  uint64_t cq_descriptors = 0;  // descriptors put into CQs
  uint64_t cq_full = 0;         // descriptors refused because a CQ was full (retried)
  uint64_t cq_bad_index = 0;    // impossible CQ consumer index: descriptor dropped
  uint64_t bad_records = 0;     // records for another channel, bad queue or unknown type
  uint64_t dma_read_reqs = 0;
  uint64_t dma_read_failed = 0;    // requests answered with kDmaFailed
  uint64_t dma_pieces_out = 0;     // kDmaData pieces emitted
  uint64_t dma_chunks_served = 0;  // read requests answered with every piece of the chunk
  uint64_t dma_bytes_served = 0;   // sealed chunk bytes sent in kDmaData pieces
  uint64_t dma_write_pieces = 0;   // kDmaWrite pieces stored
  uint64_t dma_bytes_stored = 0;   // sealed chunk bytes stored from kDmaWrite pieces
  uint64_t dma_write_bad = 0;      // kDmaWrite pieces refused (address or bounds)
};

// Per guest queue. The relay sees only cleartext headers, and a sealed descriptor's header
// does not say its kind (docs/protocol.md, "The kind is sealed"): the relay counts descriptors
// each way but cannot tell reads from writes or completions, so it has no read latency; the
// guest and the device node, which open the descriptors, measure that.
struct RelayQueueCounters {
  uint64_t to_device = 0;   // descriptors taken off the SQ and sent to the device node
  uint64_t to_guest = 0;    // descriptors written into the CQ
  uint64_t sq_drains = 0;   // poll passes that took at least one descriptor off the SQ
  uint64_t sq_backlog = 0;  // sends the link refused (the descriptor waits; each retry counts)
  uint64_t cq_full = 0;     // descriptors refused by a full CQ (offered again; each time counts)
};

class HostRelay {
 public:
  static constexpr size_t kDefaultMaxPiece = 1024;

  // Serves `region` (which must outlive the relay) and marks it kHostReady. max_piece bounds
  // the bytes of sealed chunk in one kDmaData record (1 .. kMaxChunkSize).
  explicit HostRelay(HostRegion &region, size_t max_piece = kDefaultMaxPiece);
  // Marks the region kFormatted again: the guest sees that its host went away.
  ~HostRelay();
  HostRelay(const HostRelay &) = delete;
  HostRelay &operator=(const HostRelay &) = delete;

  // Drains up to `budget` descriptors from the SQs (round robin from queue 0) into `out` as
  // kDescriptor records. A record `out` refuses stays pending and goes first next time.
  // Returns the number emitted.
  int poll_submissions(proto::RecordSink &out, int budget);

  // Handles one record from the device node. Returns false when it cannot be taken now (a
  // full CQ, or `out` refusing DMA data): nothing is lost, the caller offers it again later.
  bool on_record(const proto::RecordView &rec, proto::RecordSink &out);

  // Housekeeping: advances the heartbeat the guest watches.
  void housekeeping() { region_.beat(); }

  // The guest's line: a shim has the region open (written by the guest: a hint for the
  // operator, never trusted for anything else).
  bool guest_attached() const;
  const std::string &path() const { return region_.path(); }

  const RelayCounters &counters() const { return counters_; }
  uint32_t channel() const { return channel_; }
  uint32_t n_queues() const { return static_cast<uint32_t>(sq_.size()); }
  // Counters of guest queue q (q < n_queues()).
  const RelayQueueCounters &queue_counters(uint32_t q) const { return queues_[q].c; }

 private:
  bool on_descriptor(const proto::RecordView &rec);
  bool on_dma_read(const proto::RecordView &rec, proto::RecordSink &out);
  bool on_dma_write(const proto::RecordView &rec);

  HostRegion &region_;
  size_t max_piece_;
  uint32_t channel_;
  std::vector<proto::RingConsumer> sq_;
  std::vector<proto::RingProducer> cq_;
  // A descriptor popped from an SQ that the sink refused; emitted before the next one.
  std::vector<proto::Descriptor> pending_;
  std::vector<uint8_t> has_pending_;
  uint32_t next_queue_ = 0;
  // A DMA read answered only in part because the sink refused a piece: resumed when the
  // same request is offered again.
  struct PartialRead {
    bool active = false;
    uint64_t addr = 0;
    uint32_t req_id = 0;
    uint32_t next_off = 0;
  } partial_;
  RelayCounters counters_;
  struct QueueState {
    RelayQueueCounters c;
  };
  std::vector<QueueState> queues_;
};

}  // namespace ferry::dataplane
