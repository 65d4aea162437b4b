#include "reliability/reliable_tx.h"

#include <cinttypes>
#include <cstring>

#include "ferry/engine/log.h"
#include "ferry/proto/frame.h"

namespace ferry::engine {

namespace {
constexpr uint32_t kDupAcks = 3;
}  // namespace

TxWindow::TxWindow(uint32_t slots, size_t frame_cap, bool acked, uint32_t rto_us,
                   uint32_t max_rto_us)
    : n_(slots ? slots : 1),
      cap_(frame_cap),
      acked_(acked),
      rto_us_(rto_us ? rto_us : 1),
      max_rto_us_(max_rto_us < rto_us ? rto_us : max_rto_us),
      storage_(static_cast<size_t>(n_) * cap_),
      slots_(n_) {}

uint8_t *TxWindow::open() {
  if (next_seq_ - base_ >= n_) return nullptr;
  return buf(next_seq_);
}

void TxWindow::close(size_t len) {
  Slot &s = slot(next_seq_);
  s.len = static_cast<uint32_t>(len);
  if (acked_) {  // the FCS follows the frame; patch() completes it before every send
    s.records_crc = proto::frame_records_crc({buf(next_seq_), len});
    s.len += proto::kFrameFcsSize;
  }
  s.tries = 0;
  ++next_seq_;
}

void TxWindow::patch(uint64_t seq, uint64_t ack, uint8_t flags) {
  auto *h = reinterpret_cast<proto::FrameHeader *>(buf(seq));
  h->ack.set(ack);
  h->flags = flags;
  if (acked_) {
    const Slot &s = slot(seq);
    proto::frame_put_fcs(buf(seq), s.len - proto::kFrameFcsSize, s.records_crc);
  }
}

int TxWindow::pump(Transport &t, uint64_t now_ns, uint64_t ack, uint8_t flags) {
  int total = 0;
  while (sent_upto_ != next_seq_) {
    FrameView views[kBurst];
    int n = 0;
    for (uint64_t s = sent_upto_; s != next_seq_ && n < kBurst; ++s, ++n) {
      patch(s, ack, flags);
      views[n] = FrameView(buf(s), slot(s).len);
    }
    int taken = t.send(std::span<const FrameView>(views, n));
    if (taken <= 0) break;
    for (int i = 0; i < taken; ++i) {
      Slot &s = slot(sent_upto_ + i);
      s.first_sent_ns = now_ns;
      s.tries = 1;
      s.rto_us = rto_us_;
      s.deadline_ns = now_ns + uint64_t{rto_us_} * 1000;
      if (s.deadline_ns < next_deadline_) next_deadline_ = s.deadline_ns;
    }
    sent_upto_ += taken;
    total += taken;
    if (!acked_) base_ = sent_upto_;  // the stream transport owns them now
    if (taken < n) break;
  }
  return total;
}

int TxWindow::retransmit_due(Transport &t, uint64_t now_ns, uint64_t ack, uint8_t flags,
                             EngineCounters &c) {
  if (!acked_ || now_ns < next_deadline_) return 0;
  FrameView views[kBurst];
  uint64_t seqs[kBurst];
  int n = 0;
  uint64_t next = UINT64_MAX;
  for (uint64_t s = base_; s != sent_upto_; ++s) {
    Slot &sl = slot(s);
    if (sl.deadline_ns <= now_ns && n < kBurst) {
      patch(s, ack, flags);
      views[n] = FrameView(buf(s), sl.len);
      seqs[n++] = s;
    } else if (sl.deadline_ns < next) {
      next = sl.deadline_ns;
    }
  }
  int taken = n ? t.send(std::span<const FrameView>(views, n)) : 0;
  if (taken < 0) taken = 0;
  for (int i = 0; i < n; ++i) {
    Slot &sl = slot(seqs[i]);
    if (i < taken) {
      c.timeouts.add();
      c.retransmits.add();
      ++sl.tries;
      sl.rto_us = sl.rto_us * 2 > max_rto_us_ ? max_rto_us_ : sl.rto_us * 2;
      FERRY_LOG_LIMITED(Engine, DEBUG, "retransmitted frame %" PRIu64 " (try %u, next in %u us)",
                        seqs[i], unsigned{sl.tries}, unsigned{sl.rto_us});
    }
    // A frame the transport did not take is tried again soon, without backing off.
    sl.deadline_ns = now_ns + uint64_t{sl.rto_us} * 1000;
    if (sl.deadline_ns < next) next = sl.deadline_ns;
  }
  next_deadline_ = next;
  return taken;
}

int TxWindow::on_ack(uint64_t ack, bool ack_only, uint64_t now_ns, proto::LatencyHistogram &rtt) {
  if (!acked_) return 0;
  if (ack + 1 == base_ && base_ != sent_upto_) {  // nothing new acked, frames in flight
    if (ack_only && ++dup_acks_ >= kDupAcks && fast_retx_seq_ != base_) {
      fast_retx_seq_ = base_;
      ++fast_retransmits_;
      slot(base_).deadline_ns = now_ns;
      next_deadline_ = now_ns;
    }
    return 0;
  }
  if (ack < base_ || ack >= sent_upto_) return 0;  // stale, or for frames not sent
  dup_acks_ = 0;
  Slot &last = slot(ack);
  if (last.tries == 1) rtt.record(now_ns - last.first_sent_ns);  // Karn: first sends only
  int freed = static_cast<int>(ack + 1 - base_);
  base_ = ack + 1;
  if (base_ == sent_upto_) next_deadline_ = UINT64_MAX;
  return freed;
}

void TxWindow::make_due(uint64_t now_ns) {
  if (!acked_ || base_ == sent_upto_) return;
  for (uint64_t s = base_; s != sent_upto_; ++s) slot(s).deadline_ns = now_ns;
  next_deadline_ = now_ns;
  dup_acks_ = 0;
}

}  // namespace ferry::engine
