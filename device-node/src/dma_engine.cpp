// The session's DMA engine; see dma_engine.h and docs/protocol.md (DMA).
#include "dma_engine.h"

#include <algorithm>
#include <cstring>

#include "node_session.h"

namespace ferry::device {

using proto::Dir;
using proto::DmaPiece;
using proto::Status;
using proto::Writer;

bool DmaEngine::Coverage::add(uint32_t lo, uint32_t hi) {
  // Merge [lo, hi) with every interval it touches, keep the array sorted.
  std::array<std::pair<uint32_t, uint32_t>, 8> out{};
  uint8_t m = 0;
  bool placed = false;
  for (uint8_t i = 0; i < n; ++i) {
    auto [a, b] = iv[i];
    if (b < lo) {
      out[m++] = {a, b};
    } else if (hi < a) {
      if (!placed) {
        if (m == out.size()) return false;
        out[m++] = {lo, hi};
        placed = true;
      }
      if (m == out.size()) return false;
      out[m++] = {a, b};
    } else {
      lo = std::min(lo, a);
      hi = std::max(hi, b);
    }
  }
  if (!placed) {
    if (m == out.size()) return false;
    out[m++] = {lo, hi};
  }
  iv = out;
  n = m;
  return true;
}

DmaEngine::DmaEngine(Session &session, const NodeOptions &o, const proto::DmaGeometry &window)
    : s_(session),
      cs_(window.chunk_size),
      base_(window.dma_base),
      n_chunks_(window.n_chunks),
      max_piece_(o.max_piece),
      max_len_(o.max_dma_len),
      timeout_ns_(o.dma_timeout_ns),
      chunks_(window.n_chunks),
      ops_(o.max_dma_ops),
      fetches_(o.max_chunk_fetches),
      plain_(window.chunk_size),
      sealed_(window.chunk_size) {
  for (Op &op : ops_) op.work.resize(cs_);
  for (Fetch &f : fetches_) f.sealed.resize(cs_);
}

bool DmaEngine::in_window(uint64_t addr, uint64_t len) const {
  const uint64_t size = static_cast<uint64_t>(n_chunks_) * cs_;
  return addr >= base_ && len <= size && addr - base_ <= size - len;
}

uint64_t DmaEngine::chunk_start(uint64_t addr) const {
  return base_ + (addr - base_) / cs_ * cs_;
}

DmaEngine::ChunkState &DmaEngine::chunk(uint64_t chunk_addr) {
  return chunks_[(chunk_addr - base_) / cs_];
}

size_t DmaEngine::chunk_wire_bytes() const {
  const size_t pieces = (cs_ + max_piece_ - 1) / max_piece_;
  return pieces * (Outbox::kEntryHeader + sizeof(DmaPiece)) + cs_ + Outbox::kEntryHeader +
         proto::kDescriptorSize;
}

DmaEngine::Op *DmaEngine::new_op() {
  for (Op &op : ops_) {
    if (op.state == OpState::kFree) return &op;
  }
  return nullptr;
}

void DmaEngine::start_op(Op &op, bool is_write, uint64_t addr, uint32_t len, uint64_t cookie) {
  op.state = OpState::kRunning;
  op.is_write = is_write;
  op.waiting_rmw = op.rmw_ready = false;
  op.result = DmaStatus::kOk;
  op.outstanding = 0;
  op.addr = op.next = addr;
  op.end = addr + len;
  op.dst = nullptr;
  op.src = nullptr;
  op.cookie = cookie;
  op.order = next_order_++;
}

bool DmaEngine::read(uint64_t addr, uint32_t len, uint8_t *dst, uint64_t cookie) {
  Op *op = len == 0 || len > max_len_ || !in_window(addr, len) ? nullptr : new_op();
  if (op == nullptr) {
    ++s_.stats().dma_refused;
    return false;
  }
  ++s_.stats().dma_reads;
  start_op(*op, false, addr, len, cookie);
  op->next = chunk_start(addr);
  op->dst = dst;
  // Every chunk must have a version the guest announced (or the device wrote): without one
  // there is nothing to verify the bytes against.
  for (uint64_t c = op->next; c < op->end; c += cs_) {
    if (!chunk(c).known) {
      finish(*op, DmaStatus::kFailed);
      return true;
    }
  }
  issue_reads(static_cast<uint16_t>(op - ops_.data()));
  return true;
}

bool DmaEngine::write(uint64_t addr, const uint8_t *src, uint32_t len, uint64_t cookie) {
  Op *op = len == 0 || len > max_len_ || !in_window(addr, len) ? nullptr : new_op();
  if (op == nullptr) {
    ++s_.stats().dma_refused;
    return false;
  }
  ++s_.stats().dma_writes;
  start_op(*op, true, addr, len, cookie);
  op->src = src;
  advance_write(static_cast<uint16_t>(op - ops_.data()));
  return true;
}

bool DmaEngine::apply_guest_sync(uint64_t addr, uint64_t len, uint64_t first_version) {
  if (len == 0 || !in_window(addr, len) || (addr - base_) % cs_ != 0 || len % cs_ != 0 ||
      first_version == 0 || first_version > UINT64_MAX - len / cs_) {
    return false;
  }
  uint64_t v = first_version;
  for (uint64_t c = addr; c < addr + len; c += cs_) {
    ChunkState &st = chunk(c);
    st.version = v++;
    st.writer = static_cast<uint8_t>(Writer::kGuest);
    st.known = true;
    st.dirty_lo = st.dirty_hi = 0;
  }
  return true;
}

bool DmaEngine::start_fetch(uint16_t op, uint64_t chunk_addr) {
  for (Fetch &f : fetches_) {
    if (f.active) continue;
    const ChunkState &st = chunk(chunk_addr);
    f.active = true;
    f.sent = false;
    f.have_tag = f.tag_conflict = false;
    f.writer = st.writer;
    f.op = op;
    if (++next_req_id_ == 0) ++next_req_id_;
    f.req_id = next_req_id_;
    f.chunk = chunk_addr;
    f.version = st.version;
    f.cov = Coverage{};
    send_request(f);
    return true;
  }
  return false;
}

bool DmaEngine::send_request(Fetch &f) {
  if (!s_.tx_room(Outbox::kEntryHeader + sizeof(proto::DmaReadReq))) return false;
  proto::DmaReadReq r{};
  r.addr.set(f.chunk);
  r.len.set(cs_);
  r.req_id.set(f.req_id);
  s_.send(proto::RecordType::kDmaReadReq,
          std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&r), sizeof(r)));
  f.sent = true;
  f.deadline = s_.now_ns() + timeout_ns_;
  return true;
}

void DmaEngine::issue_reads(uint16_t i) {
  Op &op = ops_[i];
  while (op.state == OpState::kRunning && op.next < op.end && start_fetch(i, op.next)) {
    op.next += cs_;
    ++op.outstanding;
  }
}

void DmaEngine::on_piece(const DmaPiece &p, std::span<const uint8_t> bytes) {
  Fetch *f = nullptr;
  for (Fetch &c : fetches_) {
    if (c.active && c.req_id == p.req_id.get()) f = &c;
  }
  if (f == nullptr || p.addr.get() != f->chunk) {
    ++s_.stats().dma_pieces_dropped;
    return;
  }
  if (p.status != static_cast<uint8_t>(Status::kOk)) {
    f->active = false;  // the data plane could not serve the chunk
    finish(ops_[f->op], DmaStatus::kFailed);
    return;
  }
  const uint64_t off = p.piece_off.get(), len = p.piece_len.get();
  if (p.chunk_len.get() != cs_ || len == 0 || len != bytes.size() || off > cs_ || len > cs_ - off) {
    ++s_.stats().dma_pieces_dropped;
    return;
  }
  if (!f->have_tag) {
    std::memcpy(f->tag, p.tag, sizeof(f->tag));
    f->have_tag = true;
  } else if (std::memcmp(f->tag, p.tag, sizeof(f->tag)) != 0) {
    f->tag_conflict = true;
  }
  std::memcpy(f->sealed.data() + off, bytes.data(), len);
  if (!f->cov.add(static_cast<uint32_t>(off), static_cast<uint32_t>(off + len))) {
    f->active = false;
    finish(ops_[f->op], DmaStatus::kFailed);
    return;
  }
  if (f->cov.full(cs_)) complete_fetch(*f);
}

void DmaEngine::complete_fetch(Fetch &f) {
  f.active = false;
  Op &op = ops_[f.op];
  const auto aad =
      proto::make_chunk_aad(s_.channel(), f.chunk, cs_, static_cast<Writer>(f.writer), f.version);
  const Dir dir =
      f.writer == static_cast<uint8_t>(Writer::kGuest) ? Dir::kGuestToDevice : Dir::kDeviceToGuest;
  if (f.tag_conflict ||
      s_.crypto().open_chunk(dir, aad, f.sealed.data(), plain_.data(), cs_, f.tag) != Status::kOk) {
    ++s_.stats().dma_chunk_auth_failures;
    finish(op, DmaStatus::kFailed);
    return;
  }
  ++s_.stats().dma_chunks_read;
  if (op.is_write) {
    std::memcpy(op.work.data(), plain_.data(), cs_);
    op.rmw_ready = true;
    op.waiting_rmw = false;
    advance_write(f.op);
    return;
  }
  const uint64_t lo = std::max(op.addr, f.chunk), hi = std::min(op.end, f.chunk + cs_);
  std::memcpy(op.dst + (lo - op.addr), plain_.data() + (lo - f.chunk), hi - lo);
  if (--op.outstanding == 0 && op.next >= op.end) {
    finish(op, DmaStatus::kOk);
  } else {
    issue_reads(f.op);
  }
}

void DmaEngine::advance_write(uint16_t i) {
  Op &op = ops_[i];
  while (op.state == OpState::kRunning && op.next < op.end && !op.waiting_rmw) {
    const uint64_t c = chunk_start(op.next);
    const uint32_t lo = static_cast<uint32_t>(op.next - c);
    const uint32_t hi = static_cast<uint32_t>(std::min<uint64_t>(op.end - c, cs_));
    const bool whole = lo == 0 && hi == cs_;
    if (!whole && chunk(c).known && !op.rmw_ready) {
      // Read-modify-write: the bytes around the write must keep their verified content.
      if (start_fetch(i, c)) op.waiting_rmw = true;
      return;  // no free fetch slot: progress() retries
    }
    if (!write_chunk(op, c, lo, hi)) return;  // no room: progress() retries
    op.next = c + hi;
    op.rmw_ready = false;
  }
  if (op.state == OpState::kRunning && op.next >= op.end) finish(op, DmaStatus::kOk);
}

bool DmaEngine::write_chunk(Op &op, uint64_t c, uint32_t lo, uint32_t hi) {
  if (!s_.tx_room(chunk_wire_bytes())) return false;
  const uint8_t *plain;
  if (lo == 0 && hi == cs_) {
    plain = op.src + (c - op.addr);
  } else {
    if (!op.rmw_ready) std::memset(op.work.data(), 0, cs_);  // a chunk never written: zeros
    std::memcpy(op.work.data() + lo, op.src + (c + lo - op.addr), hi - lo);
    plain = op.work.data();
  }
  const uint64_t version = ++device_version_;
  const auto aad = proto::make_chunk_aad(s_.channel(), c, cs_, Writer::kDevice, version);
  DmaPiece p{};
  p.addr.set(c);
  p.version.set(version);
  p.chunk_len.set(cs_);
  p.writer = static_cast<uint8_t>(Writer::kDevice);
  s_.crypto().seal_chunk(Dir::kDeviceToGuest, aad, plain, sealed_.data(), cs_, p.tag);
  ChunkState &st = chunk(c);
  const bool had_dirty = st.dirty_hi != st.dirty_lo;
  const uint32_t dirty_lo = had_dirty ? std::min(st.dirty_lo, lo) : lo;
  const uint32_t dirty_hi = had_dirty ? std::max(st.dirty_hi, hi) : hi;
  // The announcement is sealed before anything is sent: when it cannot be, nothing of this
  // chunk leaves and the transfer fails.
  proto::Descriptor d;
  std::memset(&d, 0, sizeof(d));
  d.hdr.kind = static_cast<uint8_t>(proto::Kind::kDmaSync);
  d.body.addr.set(c);
  d.body.value.set(version);
  d.body.offset.set(dirty_lo);
  d.body.len.set(dirty_hi - dirty_lo);
  if (!s_.seal_next(0, d)) [[unlikely]] {
    finish(op, DmaStatus::kFailed);
    return true;  // done with this op: advance_write() stops on the failed state
  }
  for (uint32_t off = 0; off < cs_; off += max_piece_) {
    const uint32_t n = std::min(max_piece_, cs_ - off);
    p.piece_off.set(off);
    p.piece_len.set(n);
    s_.send(proto::RecordType::kDmaWrite,
            std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&p), sizeof(p)),
            std::span<const uint8_t>(sealed_.data() + off, n));
  }
  st.dirty_lo = dirty_lo;
  st.dirty_hi = dirty_hi;
  st.version = version;
  st.writer = static_cast<uint8_t>(Writer::kDevice);
  st.known = true;
  s_.send(proto::RecordType::kDescriptor,
          std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&d), sizeof(d)));
  ++s_.stats().dma_chunks_written;
  return true;
}

void DmaEngine::finish(Op &op, DmaStatus st) {
  if (op.state != OpState::kRunning) return;
  op.state = OpState::kDone;
  op.result = st;
  if (st != DmaStatus::kOk) ++s_.stats().dma_failures;
  const uint16_t i = static_cast<uint16_t>(&op - ops_.data());
  for (Fetch &f : fetches_) {
    if (f.active && f.op == i) f.active = false;  // late pieces will match nothing
  }
}

void DmaEngine::progress(uint64_t now_ns) {
  for (Fetch &f : fetches_) {
    if (!f.active) continue;
    if (!f.sent) {
      send_request(f);
    } else if (now_ns >= f.deadline) {
      f.active = false;
      ++s_.stats().dma_timeouts;
      s_.report(NodeEvent::kDmaTimeout, f.chunk);
      finish(ops_[f.op], DmaStatus::kTimeout);
    }
  }
  for (uint16_t i = 0; i < ops_.size(); ++i) {
    if (ops_[i].state != OpState::kRunning) continue;
    if (ops_[i].is_write) {
      advance_write(i);
    } else {
      issue_reads(i);
    }
  }
}

size_t DmaEngine::deliver(DeviceModel &model) {
  // Only transfers that finished before this call: a model that starts (and fails) new ones
  // from dma_done() gets those on the next call, so this loop always ends.
  const uint64_t limit = next_order_;
  for (size_t n = 0;; ++n) {
    Op *first = nullptr;
    for (Op &op : ops_) {
      if (op.state == OpState::kDone && op.order < limit && (!first || op.order < first->order))
        first = &op;
    }
    if (first == nullptr) return n;
    first->state = OpState::kFree;
    model.dma_done(first->cookie, first->result);
  }
}

bool DmaEngine::idle() const {
  for (const Op &op : ops_) {
    if (op.state != OpState::kFree) return false;
  }
  return true;
}

}  // namespace ferry::device
