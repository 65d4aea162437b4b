#include "transport/fault_transport.h"

#include <algorithm>
#include <cstring>

#include "ferry/proto/idle.h"

namespace ferry::engine {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

constexpr int kOut = kBurst * 2 + FaultTransport::kSlots;

}  // namespace

FaultTransport::FaultTransport(std::unique_ptr<Transport> inner, const FaultOptions &cfg,
                               uint64_t seed)
    : inner_(std::move(inner)), seed_(seed), cap_(inner_->max_frame()) {
  tx_.cfg = cfg.tx;
  rx_.cfg = cfg.rx;
  tx_.rng = splitmix64(seed ^ 0x7478) | 1;
  rx_.rng = splitmix64(seed ^ 0x7278) | 1;
  for (Direction *d : {&tx_, &rx_}) d->storage.assign(size_t(kSlots + kBurst) * cap_, 0);
  fault_telemetry_add(this);
}

FaultTransport::~FaultTransport() {
  fault_telemetry_remove(this);
}

uint64_t FaultTransport::next(Direction &d) {
  d.rng ^= d.rng >> 12;  // xorshift64*
  d.rng ^= d.rng << 25;
  d.rng ^= d.rng >> 27;
  return d.rng * 0x2545f4914f6cdd1dull;
}

bool FaultTransport::roll(Direction &d, uint32_t ppm) {
  return ppm != 0 && next(d) % 1000000 < ppm;
}

int FaultTransport::hold(Direction &d, FrameView f) {
  if (d.n_held == kSlots || f.size() > cap_ || f.empty()) return -1;
  for (int i = 0; i < kSlots; ++i) {
    if (d.held[i].len != 0) continue;
    std::memcpy(slot_buf(d, i), f.data(), f.size());
    d.held[i] = Held{static_cast<uint32_t>(f.size()), 0, 0, false};
    ++d.n_held;
    return i;
  }
  return -1;
}

void FaultTransport::apply(Direction &d, FrameView f, uint64_t now, FrameView *out, int &n,
                           int cap) {
  const FaultDirection &p = d.cfg;
  d.c.frames.add();
  if (roll(d, p.drop_ppm)) {
    d.c.drop.add();
    return;
  }
  if (roll(d, p.corrupt_ppm)) {
    if (d.scratch_used < kBurst && !f.empty() && f.size() <= cap_) {
      uint8_t *s = scratch_buf(d, d.scratch_used++);
      std::memcpy(s, f.data(), f.size());
      for (uint32_t k = 0; k < p.corrupt_bytes; ++k) {
        const uint64_t r = next(d);
        s[r % f.size()] ^= static_cast<uint8_t>(1 + (r >> 32) % 255);  // always a change
      }
      f = FrameView(s, f.size());
      d.c.corrupt.add();
    } else {
      d.c.no_slot.add();
    }
  }
  if (roll(d, p.reorder_ppm)) {
    const int i = hold(d, f);
    if (i >= 0) {
      d.held[i].after_frames = 1 + static_cast<uint32_t>(next(d) % p.reorder_distance);
      d.held[i].release_ns = now + uint64_t{kReorderMaxUs} * 1000;
      d.next_release_ns = std::min(d.next_release_ns, d.held[i].release_ns);
      d.c.reorder.add();
      return;
    }
    d.c.no_slot.add();
  }
  if (roll(d, p.delay_ppm)) {
    const int i = hold(d, f);
    if (i >= 0) {
      d.held[i].release_ns = now + (1 + next(d) % p.delay_us) * 1000;
      d.next_release_ns = std::min(d.next_release_ns, d.held[i].release_ns);
      d.c.delay.add();
      return;
    }
    d.c.no_slot.add();
  }
  if (n < cap) out[n++] = f;
  if (roll(d, p.duplicate_ppm) && n < cap) {
    out[n++] = f;
    d.c.duplicate.add();
  }
  release(d, now, 1, out, n, cap);
}

void FaultTransport::release(Direction &d, uint64_t now, int passed, FrameView *out, int &n,
                             int cap) {
  if (d.n_held == 0) return;
  if (passed == 0 && now < d.next_release_ns) return;
  uint64_t next_ns = UINT64_MAX;
  int seen = 0;
  for (int i = 0; i < kSlots && seen < d.n_held; ++i) {
    Held &h = d.held[i];
    if (h.len == 0) continue;
    ++seen;
    if (h.handed_out) continue;
    bool due = h.release_ns <= now;
    if (h.after_frames != 0) {
      h.after_frames = h.after_frames > uint32_t(passed) ? h.after_frames - passed : 0;
      due = due || h.after_frames == 0;
    }
    if (due && n < cap) {
      out[n++] = FrameView(slot_buf(d, i), h.len);
      h.handed_out = true;  // the slot is freed once the view is no longer used
    } else {
      next_ns = std::min(next_ns, due ? now : h.release_ns);
    }
  }
  d.next_release_ns = next_ns;
}

void FaultTransport::send_all(FrameView *views, int n) {
  int off = 0;
  while (off < n) {
    const int t = inner_->send(std::span<const FrameView>(views + off, size_t(n - off)));
    if (t <= 0) {
      tx_.c.lost.add(uint64_t(n - off));
      break;
    }
    off += t;
  }
}

int FaultTransport::send(std::span<const FrameView> frames) {
  const uint64_t now = proto::now_ns();
  size_t i = 0;
  do {
    FrameView out[kOut];
    int n = 0;
    tx_.scratch_used = 0;
    release(tx_, now, 0, out, n, kOut);
    for (int taken = 0; i < frames.size() && taken < kBurst; ++i, ++taken)
      apply(tx_, frames[i], now, out, n, kOut);
    send_all(out, n);
    free_handed_out(tx_);
  } while (i < frames.size());
  return static_cast<int>(frames.size());  // a datagram path: every frame is consumed
}

void FaultTransport::free_handed_out(Direction &d) {
  if (d.n_held == 0) return;
  for (Held &h : d.held) {
    if (h.len != 0 && h.handed_out) {
      h = Held{};
      --d.n_held;
    }
  }
}

void FaultTransport::release_tx_due(uint64_t now) {
  if (tx_.n_held == 0 || now < tx_.next_release_ns) return;
  FrameView out[kSlots];
  int n = 0;
  release(tx_, now, 0, out, n, kSlots);
  send_all(out, n);
  free_handed_out(tx_);
}

int FaultTransport::recv(std::span<FrameView> out) {
  free_handed_out(rx_);  // the engine is done with what the last recv() returned
  rx_.scratch_used = 0;
  const uint64_t now = proto::now_ns();
  release_tx_due(now);  // delayed frames go out even while the engine has nothing to send
  const int cap = static_cast<int>(out.size());
  int n = 0;
  release(rx_, now, 0, out.data(), n, cap);
  // Each frame received may come out twice (duplicate): leave room for that.
  const int want = std::min(kBurst, (cap - n) / 2);
  const int got = want > 0 ? inner_->recv(std::span<FrameView>(rx_in_, size_t(want))) : 0;
  for (int k = 0; k < got; ++k) apply(rx_, rx_in_[k], now, out.data(), n, cap - 2 * (got - k - 1));
  return n;
}

void FaultTransport::maintain(uint64_t now_ns) {
  inner_->maintain(now_ns);
  release_tx_due(now_ns);
  // The engine's telemetry reads this transport's counters: mirror the inner one's.
  const TransportCounters &c = inner_->counters();
  counters_.frames_tx.set(c.frames_tx.get());
  counters_.frames_rx.set(c.frames_rx.get());
  counters_.bytes_tx.set(c.bytes_tx.get());
  counters_.bytes_rx.set(c.bytes_rx.get());
  counters_.tx_drops.set(c.tx_drops.get());
  counters_.rx_dropped.set(c.rx_dropped.get());
  counters_.test_drops.set(c.test_drops.get());
  counters_.arp_requests_tx.set(c.arp_requests_tx.get());
  counters_.arp_replies_tx.set(c.arp_replies_tx.get());
  counters_.arp_rx.set(c.arp_rx.get());
  counters_.connects.set(c.connects.get());
  counters_.disconnects.set(c.disconnects.get());
  counters_.ring_full.set(c.ring_full.get());
}

void FaultTransport::idle_wait(uint32_t us) {
  const uint64_t due = std::min(tx_.n_held ? tx_.next_release_ns : UINT64_MAX,
                                rx_.n_held ? rx_.next_release_ns : UINT64_MAX);
  if (due != UINT64_MAX) {
    const uint64_t now = proto::now_ns();
    if (due <= now) return;
    us = static_cast<uint32_t>(std::min<uint64_t>(us, (due - now) / 1000 + 1));
  }
  inner_->idle_wait(us);
}

std::unique_ptr<Transport> with_faults(std::unique_ptr<Transport> t, const FaultOptions &faults,
                                       unsigned lane) {
  if (!faults.enabled()) return t;
  return std::make_unique<FaultTransport>(std::move(t), faults, faults.seed + lane);
}

}  // namespace ferry::engine
