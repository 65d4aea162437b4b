#include "relay/host_relay.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

#include "ferry/proto/descriptor.h"
#include "ferry/proto/idle.h"

namespace ferry::dataplane {

using proto::ChunkMeta;
using proto::Descriptor;
using proto::DmaPiece;
using proto::DmaReadReq;
using proto::RecordType;

HostRelay::HostRelay(HostRegion &region, size_t max_piece)
    : region_(region), max_piece_(max_piece), channel_(region.geometry().channel) {
  if (max_piece_ == 0 || max_piece_ > proto::kMaxChunkSize)
    throw std::invalid_argument("host relay: max_piece must be 1 .. 65536");
  const proto::ShmGeometry &g = region.geometry();
  for (uint32_t q = 0; q < g.n_queues; ++q) {
    sq_.emplace_back(region.sq(q), g.ring_slots);
    cq_.emplace_back(region.cq(q), g.ring_slots);
  }
  pending_.resize(g.n_queues);
  has_pending_.assign(g.n_queues, 0);
  queues_.resize(g.n_queues);
  region_.set_state(proto::ShmState::kHostReady);
}

HostRelay::~HostRelay() {
  region_.set_state(proto::ShmState::kFormatted);
}

int HostRelay::poll_submissions(proto::RecordSink &out, int budget) {
  const uint32_t n_queues = static_cast<uint32_t>(sq_.size());
  int emitted = 0;
  for (uint32_t i = 0; i < n_queues && emitted < budget; ++i) {
    uint32_t q = (next_queue_ + i) % n_queues;
    QueueState &qs = queues_[q];
    bool took = false;
    while (emitted < budget) {
      Descriptor &d = pending_[q];
      if (!has_pending_[q]) {
        int r = sq_[q].pop(d);
        if (r < 0) [[unlikely]] {
          ++counters_.sq_bad_index;
          break;
        }
        if (r == 0) break;
        // The only field the relay needs: the queue whose CQ will get the answer. Everything
        // else is the device node's to authenticate.
        if (d.hdr.queue.get() >= n_queues) [[unlikely]] {
          ++counters_.sq_bad_queue;
          continue;
        }
        took = true;
        has_pending_[q] = 1;
      }
      if (!out.emit(RecordType::kDescriptor, channel_,
                    {reinterpret_cast<const uint8_t *>(&d), sizeof(d)})) {
        ++counters_.emit_refused;
        ++qs.c.sq_backlog;
        if (took) ++qs.c.sq_drains;
        next_queue_ = q;  // keep this queue's order: it goes first next time
        return emitted;
      }
      has_pending_[q] = 0;
      ++counters_.sq_descriptors;
      ++qs.c.to_device;
      ++emitted;
    }
    if (took) ++qs.c.sq_drains;
  }
  next_queue_ = (next_queue_ + 1) % n_queues;
  return emitted;
}

bool HostRelay::on_record(const proto::RecordView &rec, proto::RecordSink &out) {
  if (rec.channel != channel_ || proto::check_record(rec.type, rec.payload) != proto::Status::kOk)
      [[unlikely]] {
    ++counters_.bad_records;
    return true;  // consumed: a record that can never be taken is dropped and counted
  }
  switch (rec.type) {
    case RecordType::kDescriptor:
      return on_descriptor(rec);
    case RecordType::kDmaReadReq:
      return on_dma_read(rec, out);
    case RecordType::kDmaWrite:
      return on_dma_write(rec);
    default:
      ++counters_.bad_records;
      return true;
  }
}

bool HostRelay::on_descriptor(const proto::RecordView &rec) {
  Descriptor d;
  std::memcpy(&d, rec.payload.data(), sizeof(d));
  uint16_t q = d.hdr.queue.get();
  if (q >= cq_.size()) [[unlikely]] {
    ++counters_.bad_records;
    return true;
  }
  QueueState &qs = queues_[q];
  int r = cq_[q].push(d);
  if (r == 0) {
    ++counters_.cq_full;
    ++qs.c.cq_full;
    return false;
  }
  if (r < 0) [[unlikely]] {
    // The guest wrote an impossible consumer index: its own ring is broken, and holding the
    // record would stall every other queue behind it.
    ++counters_.cq_bad_index;
    return true;
  }
  ++counters_.cq_descriptors;
  ++qs.c.to_guest;
  return true;
}

bool HostRelay::on_dma_read(const proto::RecordView &rec, proto::RecordSink &out) {
  DmaReadReq req;
  std::memcpy(&req, rec.payload.data(), sizeof(req));
  const uint64_t addr = req.addr.get();
  const uint32_t req_id = req.req_id.get();
  uint32_t off = 0;
  if (partial_.active && partial_.addr == addr && partial_.req_id == req_id) {
    off = partial_.next_off;
  } else {
    ++counters_.dma_read_reqs;
  }
  partial_.active = false;

  DmaPiece piece{};
  piece.addr.set(addr);
  piece.req_id.set(req_id);
  const uint32_t chunk_size = region_.geometry().chunk_size;
  const uint32_t len = req.len.get();
  const int64_t idx = region_.chunk_index(addr);
  ChunkMeta meta{};
  if (idx >= 0) std::memcpy(&meta, region_.meta(static_cast<uint32_t>(idx)), sizeof(meta));
  if (idx < 0 || len == 0 || len > chunk_size || meta.valid != 1) {
    piece.status = static_cast<uint8_t>(proto::Status::kDmaFailed);
    piece.chunk_len.set(len);
    if (!out.emit(RecordType::kDmaData, channel_,
                  {reinterpret_cast<const uint8_t *>(&piece), sizeof(piece)}))
      return false;
    ++counters_.dma_read_failed;
    return true;
  }
  // Version, writer and tag are passed on as stored; the device node checks the chunk
  // against the version it expects, never against these.
  piece.version = meta.version;
  // Any writer other than 0 or 1 would make the whole frame malformed at the device node (and
  // the link would resend it forever): a scribbled value is passed on as a valid, wrong hint.
  piece.writer = meta.writer == 1 ? 1 : 0;
  std::memcpy(piece.tag, meta.tag, sizeof(piece.tag));
  piece.chunk_len.set(len);
  piece.status = static_cast<uint8_t>(proto::Status::kOk);
  const uint8_t *bytes = region_.chunk(static_cast<uint32_t>(idx));
  while (off < len) {
    uint32_t n = static_cast<uint32_t>(std::min<size_t>(max_piece_, len - off));
    piece.piece_off.set(off);
    piece.piece_len.set(n);
    if (!out.emit(RecordType::kDmaData, channel_,
                  {reinterpret_cast<const uint8_t *>(&piece), sizeof(piece)}, {bytes + off, n})) {
      partial_ = {true, addr, req_id, off};
      ++counters_.emit_refused;
      return false;
    }
    ++counters_.dma_pieces_out;
    counters_.dma_bytes_served += n;
    off += n;
  }
  ++counters_.dma_chunks_served;
  return true;
}

bool HostRelay::on_dma_write(const proto::RecordView &rec) {
  DmaPiece piece;
  std::memcpy(&piece, rec.payload.data(), sizeof(piece));
  const int64_t idx = region_.chunk_index(piece.addr.get());
  const uint64_t chunk_len = piece.chunk_len.get();
  const uint64_t off = piece.piece_off.get();
  const uint64_t n = piece.piece_len.get();
  if (idx < 0 || chunk_len == 0 || chunk_len > region_.geometry().chunk_size ||
      off + n > chunk_len || n != rec.payload.size() - sizeof(piece)) [[unlikely]] {
    ++counters_.dma_write_bad;
    return true;
  }
  std::memcpy(region_.chunk(static_cast<uint32_t>(idx)) + off, rec.payload.data() + sizeof(piece),
              n);
  ChunkMeta meta{};
  meta.version = piece.version;
  meta.len.set(static_cast<uint32_t>(chunk_len));
  meta.writer = piece.writer;
  meta.valid = 1;
  std::memcpy(meta.tag, piece.tag, sizeof(meta.tag));
  std::memcpy(region_.meta(static_cast<uint32_t>(idx)), &meta, sizeof(meta));
  ++counters_.dma_write_pieces;
  counters_.dma_bytes_stored += n;
  return true;
}

bool HostRelay::guest_attached() const {
  return std::atomic_ref<uint32_t>(region_.header()->guest.attached)
             .load(std::memory_order_acquire) != 0;
}

}  // namespace ferry::dataplane
