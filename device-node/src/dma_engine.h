// The device side of DMA (docs/protocol.md, DMA), one per session. A model's transfer
// becomes chunk reads (kDmaReadReq, answered by kDmaData pieces that are reassembled and
// opened against the version this engine expects) and chunk writes (sealed whole with the
// device's DMA stream, sent as kDmaWrite pieces and announced to the guest with a sealed
// kDmaSync). Everything is bounded and allocated when the session is set up.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "ferry/device/device_node.h"
#include "ferry/device/model.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/handshake.h"

namespace ferry::device {

class Session;

class DmaEngine {
 public:
  // `window`: the guest's DMA window as its Hello gave it (checked against the node's limits).
  DmaEngine(Session &session, const NodeOptions &opts, const proto::DmaGeometry &window);

  // DeviceContext::dma_read / dma_write (see model.h).
  bool read(uint64_t addr, uint32_t len, uint8_t *dst, uint64_t cookie);
  bool write(uint64_t addr, const uint8_t *src, uint32_t len, uint64_t cookie);
  // A guest kDmaSync: chunks [addr, addr + len) now hold versions first, first + 1, ...
  // Returns false (nothing changed) if the range is not whole chunks of the window.
  bool apply_guest_sync(uint64_t addr, uint64_t len, uint64_t first_version);
  // A kDmaData piece (header already copied out of the record; bytes follow it).
  void on_piece(const proto::DmaPiece &p, std::span<const uint8_t> bytes);
  // Sends requests and chunks that waited for room or a free slot; expires chunk reads.
  void progress(uint64_t now_ns);
  // Calls model.dma_done() for transfers that finished before this call; returns how many.
  size_t deliver(DeviceModel &model);
  bool idle() const;

 private:
  struct ChunkState {
    uint64_t version = 0;
    uint32_t dirty_lo = 0, dirty_hi = 0;  // bytes the device wrote since the guest's sync
    uint8_t writer = 0;
    bool known = false;
  };
  enum class OpState : uint8_t { kFree, kRunning, kDone };
  struct Op {
    OpState state = OpState::kFree;
    bool is_write = false;
    bool waiting_rmw = false;  // write: the current chunk is being read first
    bool rmw_ready = false;    // write: work holds the current chunk's plaintext
    DmaStatus result = DmaStatus::kOk;
    uint32_t outstanding = 0;  // read: chunk reads in flight
    uint64_t addr = 0, end = 0, next = 0;
    uint8_t *dst = nullptr;
    const uint8_t *src = nullptr;
    uint64_t cookie = 0;
    uint64_t order = 0;
    std::vector<uint8_t> work;  // write: a partial chunk's plaintext
  };
  // Which byte ranges of a chunk arrived: a few disjoint intervals, merged as pieces come.
  struct Coverage {
    std::array<std::pair<uint32_t, uint32_t>, 8> iv{};
    uint8_t n = 0;
    bool add(uint32_t lo, uint32_t hi);  // false when the pieces are too fragmented
    bool full(uint32_t len) const { return n == 1 && iv[0].first == 0 && iv[0].second == len; }
  };
  struct Fetch {
    bool active = false;
    bool sent = false;
    bool have_tag = false;
    bool tag_conflict = false;
    uint8_t writer = 0;
    uint16_t op = 0;
    uint32_t req_id = 0;
    uint64_t chunk = 0;
    uint64_t version = 0;
    uint64_t deadline = 0;
    uint8_t tag[proto::kTagSize]{};
    Coverage cov;
    std::vector<uint8_t> sealed;
  };

  bool in_window(uint64_t addr, uint64_t len) const;
  uint64_t chunk_start(uint64_t addr) const;
  ChunkState &chunk(uint64_t chunk_addr);
  Op *new_op();
  void start_op(Op &op, bool is_write, uint64_t addr, uint32_t len, uint64_t cookie);
  bool start_fetch(uint16_t op, uint64_t chunk_addr);
  bool send_request(Fetch &f);
  void issue_reads(uint16_t op);
  void complete_fetch(Fetch &f);
  void advance_write(uint16_t op);
  bool write_chunk(Op &op, uint64_t chunk_addr, uint32_t lo, uint32_t hi);
  void finish(Op &op, DmaStatus st);
  size_t chunk_wire_bytes() const;

  Session &s_;
  const uint32_t cs_;
  const uint64_t base_;
  const uint32_t n_chunks_;
  const uint32_t max_piece_;
  const uint32_t max_len_;
  const uint64_t timeout_ns_;
  std::vector<ChunkState> chunks_;
  std::vector<Op> ops_;
  std::vector<Fetch> fetches_;
  std::vector<uint8_t> plain_;   // an opened chunk
  std::vector<uint8_t> sealed_;  // a chunk being written
  uint64_t device_version_ = 0;  // the device DMA stream's sequence
  uint32_t next_req_id_ = 0;
  uint64_t next_order_ = 0;
};

}  // namespace ferry::device
