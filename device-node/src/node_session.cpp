// Per-session request path: authenticate, order, execute once, answer, cache the answer.
#include "node_session.h"

#include <cstring>

#include "ferry/proto/idle.h"

namespace ferry::device {

using proto::Descriptor;
using proto::Dir;
using proto::Kind;
using proto::Status;

namespace {
bool valid_size(unsigned size) {
  return size == 1 || size == 2 || size == 4 || size == 8;
}
uint64_t size_mask(unsigned size) {
  return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}
constexpr size_t kDescriptorWire = Outbox::kEntryHeader + proto::kDescriptorSize;
}  // namespace

Session::Session(proto::Aead &aead, const proto::SessionSecrets &secrets, const SessionSetup &setup,
                 proto::RecordSink &peer, Outbox &outbox, uint64_t now_ns)
    : setup_(setup),
      crypto_(aead, secrets),
      peer_(peer),
      outbox_(outbox),
      now_ns_(now_ns),
      dma_(*this, setup.opts, setup.dma) {
  const uint16_t n = crypto_.params().n_queues;
  queues_.reserve(n);
  for (uint16_t q = 0; q < n; ++q) {
    Queue &qs = queues_.emplace_back(setup.replay_window);
    qs.held.resize(setup.opts.reorder_slots);
    qs.cache.resize(setup.reply_cache);
  }
  model_ = make_model(setup.model, setup.params, *this);
  // No schedule of its own: its streams follow the guest's epochs (docs/protocol.md).
  proto::RekeyPolicy rekey;
  rekey.overlap_messages = setup.replay_window;
  crypto_.set_rekey(rekey);
}

Session::~Session() = default;

void Session::send(proto::RecordType type, std::span<const uint8_t> head,
                   std::span<const uint8_t> tail) {
  ++activity_;
  if (!outbox_.send(peer_, type, setup_.channel, head, tail, counters_.tx_deferred)) [[unlikely]]
    ++counters_.tx_dropped;
}

bool Session::seal_next(uint16_t q, Descriptor &d) {
  Queue &qs = queues_[q];
  const auto kind = static_cast<Kind>(d.hdr.kind);
  // Binds the DMA announcements to what depends on them: a completion or interrupt carries,
  // sealed, how many kDmaSync announcements went out before it (docs/protocol.md, DMA).
  if (kind == Kind::kCompletion || kind == Kind::kInterrupt) d.body.offset.set(announced_);
  d.hdr.queue.set(q);
  d.hdr.channel.set(setup_.channel);
  d.hdr.seq.set(qs.tx_seq + 1);  // the counter; seal() adds the key epoch
  const Status st = crypto_.seal(Dir::kDeviceToGuest, d);
  sync_rekey_stats();
  if (st != Status::kOk) [[unlikely]] {
    proto::secure_wipe(&d, sizeof(d));  // half-made: nothing of it may leave
    ++counters_.seal_failures;
    return false;
  }
  ++qs.tx_seq;
  ++qs.stats.sent;
  if (kind == Kind::kDmaSync) ++announced_;  // its caller sends it before sealing anything else
  return true;
}

bool Session::send_sealed(uint16_t q, Descriptor &d) {
  if (!seal_next(q, d)) return false;
  send(proto::RecordType::kDescriptor,
       std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&d), sizeof(d)));
  return true;
}

void Session::sync_rekey_stats() {
  const proto::RekeyStats &r = crypto_.rekey_stats();
  counters_.rekeys_tx = r.tx_rekeys;
  counters_.rekeys_rx = r.rx_rekeys;
  counters_.old_keys_wiped = r.old_keys_wiped;
  counters_.epoch_rejects = r.epoch_rejects;
  counters_.epoch_trials_refused = r.epoch_trials_refused;
}

void Session::on_descriptor(Descriptor &d) {
  const uint16_t q = d.hdr.queue.get();
  const uint64_t seq = proto::seq_counter(d.hdr.seq.get());  // without the key epoch
  // The kind is sealed (header: kSealed): it is known, and checked, only once d is open.
  if (q >= queues_.size() || seq == 0) {
    ++counters_.malformed;
    return;
  }
  Queue &qs = queues_[q];
  const uint64_t received_ns = proto::now_ns();
  if (!qs.window.check(seq)) {
    // Seen before. Authenticate it anyway: only a genuine duplicate earns a cached answer.
    const uint64_t stale_epochs = crypto_.rekey_stats().epoch_rejects;
    const Status dup = crypto_.open(Dir::kGuestToDevice, d);
    if (dup == Status::kBadKind) {
      ++counters_.malformed;  // authentic, but of no kind a guest sends
      return;
    }
    if (dup != Status::kOk) {
      sync_rekey_stats();
      if (crypto_.rekey_stats().epoch_rejects != stale_epochs) {
        ++counters_.replays_dropped;  // an old number of a key epoch already wiped: stale
        ++qs.stats.replays_dropped;
        return;
      }
      ++counters_.auth_failures;
      ++qs.stats.auth_failures;
      return;
    }
    const Cached &c = qs.cache[seq % qs.cache.size()];
    if (d.hdr.kind == static_cast<uint8_t>(Kind::kMmioRead) && c.seq == seq) {
      send(proto::RecordType::kDescriptor,
           std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&c.reply), sizeof(c.reply)));
      ++counters_.duplicates_answered_from_cache;
      ++qs.stats.cache_replies;
      return;
    }
    ++counters_.replays_dropped;
    ++qs.stats.replays_dropped;
    return;
  }
  if (seq >= qs.next_exec && seq - qs.next_exec >= qs.held.size()) {
    ++counters_.backlog_dropped;  // window untouched: a retransmission may still get in
    return;
  }
  const Status opened = crypto_.open(Dir::kGuestToDevice, d);
  sync_rekey_stats();
  if (opened == Status::kBadKind) {
    ++counters_.malformed;  // authentic, but of no kind at all: never run (a gap, if kept)
    return;
  }
  if (opened != Status::kOk) {
    ++counters_.auth_failures;
    ++qs.stats.auth_failures;
    return;
  }
  const auto kind = static_cast<Kind>(d.hdr.kind);  // the sealed kind, now authentic
  const uint64_t arrived = kind == Kind::kMmioRead ? received_ns : 0;
  if (failed_) [[unlikely]] {
    // The session failed on a gap: nothing runs any more; a read learns why.
    qs.window.update(seq);
    ++counters_.late_dropped;
    if (kind == Kind::kMmioRead) send_gap_error(q, seq);
    return;
  }
  qs.window.update(seq);
  ++counters_.descriptors;
  ++qs.stats.descriptors;
  Held &h = qs.held[seq % qs.held.size()];
  h.seq = seq;
  h.used = true;
  h.d = d;
  h.arrived_ns = arrived;
  ++qs.n_held;
  if (seq != qs.next_exec) ++counters_.out_of_order_held;
  drain(q);
}

void Session::drain(uint16_t q) {
  Queue &qs = queues_[q];
  while (!failed_ && qs.n_held > 0) {
    Held &h = qs.held[qs.next_exec % qs.held.size()];
    if (!h.used || h.seq != qs.next_exec) {
      if (!qs.gap) {
        qs.gap = true;
        qs.gap_since = now_ns_;
      }
      return;
    }
    // A read needs room for its completion; under backpressure it waits for poll().
    if (h.d.hdr.kind == static_cast<uint8_t>(Kind::kMmioRead) && !tx_room(kDescriptorWire)) return;
    const Descriptor d = h.d;
    qs.exec_arrived_ns = h.arrived_ns;
    h.used = false;
    --qs.n_held;
    ++qs.next_exec;
    qs.gap = false;
    execute(q, d);
  }
  qs.gap = false;
}

// Fail closed: the host can drop any one descriptor, and running what follows would let it
// delete a chosen posted write or kDmaSync unnoticed. So a gap that stays open ends the
// session: nothing more is executed, every queue gets a sealed kSeqGap notice and every later
// read a kSeqGap answer; the guest fails its calls with -EPROTO from then on.
void Session::fail_on_gap(uint16_t q) {
  failed_ = true;
  ++counters_.seq_gaps_failed;
  report(NodeEvent::kSessionFailed, q);
  for (Queue &qs : queues_) {
    for (Held &h : qs.held) h = Held{};
    qs.n_held = 0;
    qs.gap = false;
  }
  send_gap_error(q, 0);
  for (uint16_t other = 0; other < queues_.size(); ++other) {
    if (other != q) send_gap_error(other, 0);
  }
}

void Session::send_gap_error(uint16_t q, uint64_t seq) {
  Descriptor c;
  std::memset(&c, 0, sizeof(c));
  c.hdr.kind = static_cast<uint8_t>(Kind::kCompletion);
  c.body.status = static_cast<uint8_t>(Status::kSeqGap);
  c.body.value.set(~0ull);
  c.body.addr.set(seq);
  if (send_sealed(q, c)) ++counters_.completions;
}

void Session::execute(uint16_t q, const Descriptor &d) {
  ++queues_[q].stats.executed;
  const unsigned size = d.body.size;
  switch (static_cast<Kind>(d.hdr.kind)) {
    case Kind::kMmioRead:
      answer_read(q, d);
      break;
    case Kind::kMmioWrite:
      ++counters_.mmio_writes;
      if (!valid_size(size) || !model_->mmio_write(d.body.bar, d.body.offset.get(), size,
                                                   d.body.value.get() & size_mask(size))) {
        ++counters_.bad_accesses;
      }
      break;
    case Kind::kDmaSync:
      if (dma_.apply_guest_sync(d.body.addr.get(), d.body.len.get(), d.body.value.get())) {
        ++counters_.dma_syncs;
      } else {
        ++counters_.malformed;
      }
      break;
    default:
      ++counters_.malformed;  // authentic, but a kind only the device sends (its seq is used)
      break;
  }
}

void Session::answer_read(uint16_t q, const Descriptor &d) {
  ++counters_.mmio_reads;
  const unsigned size = d.body.size;
  Status st = Status::kOk;
  uint64_t value = ~0ull;
  std::optional<uint64_t> v;
  if (valid_size(size)) v = model_->mmio_read(d.body.bar, d.body.offset.get(), size);
  if (v) {
    value = *v & size_mask(size);
  } else {
    st = Status::kBadAccess;
    ++counters_.bad_accesses;
  }
  Descriptor c;
  std::memset(&c, 0, sizeof(c));
  c.hdr.kind = static_cast<uint8_t>(Kind::kCompletion);
  c.body.bar = d.body.bar;
  c.body.size = d.body.size;
  c.body.status = static_cast<uint8_t>(st);
  c.body.value.set(value);
  const uint64_t seq = proto::seq_counter(d.hdr.seq.get());
  c.body.addr.set(seq);
  if (!send_sealed(q, c)) return;  // counted; the guest's read fails (no answer, no cache)
  ++counters_.completions;
  Queue &qs = queues_[q];
  ++qs.stats.completions;
  if (qs.exec_arrived_ns != 0) qs.stats.service_ns.record(proto::now_ns() - qs.exec_arrived_ns);
  Cached &slot = qs.cache[seq % qs.cache.size()];
  slot.seq = seq;
  slot.reply = c;
}

void Session::on_dma_piece(const proto::DmaPiece &p, std::span<const uint8_t> bytes) {
  dma_.on_piece(p, bytes);
}

void Session::after_input() {
  dma_.deliver(*model_);
}

bool Session::dma_read(uint64_t addr, uint32_t len, uint8_t *dst, uint64_t cookie) {
  return dma_.read(addr, len, dst, cookie);
}

bool Session::dma_write(uint64_t addr, const uint8_t *src, uint32_t len, uint64_t cookie) {
  return dma_.write(addr, src, len, cookie);
}

void Session::raise_irq(uint32_t vectors) {
  pending_irq_ |= vectors;
  flush_irq();
}

void Session::flush_irq() {
  if (pending_irq_ == 0 || !tx_room(kDescriptorWire)) return;
  Descriptor d;
  std::memset(&d, 0, sizeof(d));
  d.hdr.kind = static_cast<uint8_t>(Kind::kInterrupt);
  d.body.value.set(pending_irq_);
  pending_irq_ = 0;
  if (!send_sealed(0, d)) return;  // counted; the guest's wait for it fails
  ++counters_.irqs;
}

size_t Session::poll(uint64_t now_ns) {
  now_ns_ = now_ns;
  activity_ = outbox_.flush(peer_);
  model_->tick(now_ns);
  if (crypto_.expire_old_keys() != 0) sync_rekey_stats();  // the overlap ended: key wiped
  dma_.progress(now_ns);
  activity_ += dma_.deliver(*model_);
  flush_irq();
  for (uint16_t q = 0; q < queues_.size(); ++q) {
    Queue &qs = queues_[q];
    if (qs.n_held == 0) continue;
    drain(q);
    if (qs.gap && now_ns >= qs.gap_since && now_ns - qs.gap_since >= setup_.opts.reorder_timeout_ns)
      fail_on_gap(q);
  }
  activity_ += dma_.deliver(*model_);
  activity_ += outbox_.flush(peer_);
  return activity_;
}

bool Session::quiescent() const {
  if (!outbox_.empty() || pending_irq_ != 0 || !dma_.idle()) return false;
  for (const Queue &qs : queues_) {
    if (qs.n_held != 0) return false;
  }
  return true;
}

void Session::report(NodeEvent what, uint64_t addr) const {
  if (setup_.opts.events == nullptr) return;
  setup_.opts.events->on_event(NodeEventInfo{what, setup_.channel, setup_.device_id,
                                             setup_.guest_id, session_id(), addr, ""});
}

}  // namespace ferry::device
