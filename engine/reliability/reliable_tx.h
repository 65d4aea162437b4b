// The sending half of the engine's reliability: a bounded window of frame slots. Frames are
// built in place in a slot (so a retransmission resends the very bytes first sent, sealed
// descriptors untouched; only the header's ack and flags are refreshed), numbered when
// closed, transmitted in order, and kept until the peer's cumulative ack covers them. On a
// reliable transport (TCP) a slot is freed as soon as the transport takes the frame.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ferry/engine/engine.h"
#include "ferry/engine/transport.h"
#include "ferry/proto/frame.h"

namespace ferry::engine {

class TxWindow {
 public:
  TxWindow(uint32_t slots, size_t frame_cap, bool acked, uint32_t rto_us, uint32_t max_rto_us);

  // Bytes a frame built in a slot may use (the slot also holds the FCS on datagram paths).
  size_t frame_cap() const { return acked_ ? cap_ - proto::kFrameFcsSize : cap_; }
  // Buffer of the next slot to build a frame in, or nullptr when the window is full.
  uint8_t *open();
  // Sequence number the frame built in the open slot gets.
  uint64_t next_seq() const { return next_seq_; }
  // Closes the open slot: its frame of `len` bytes (header already written with next_seq()).
  void close(size_t len);

  // Transmits closed frames not sent yet, refreshing ack/flags. Returns frames sent.
  int pump(Transport &t, uint64_t now_ns, uint64_t ack, uint8_t flags);
  // Retransmits frames whose timer expired (exponential backoff). Returns frames resent.
  int retransmit_due(Transport &t, uint64_t now_ns, uint64_t ack, uint8_t flags, EngineCounters &c);
  // Cumulative ack from the peer. Returns frames it freed (0 for stale or impossible acks).
  // The third ack-only frame in a row that frees nothing while frames are in flight means the
  // oldest one was lost while later ones arrived (the receiver acks each gap at once): it is
  // made due now (fast retransmit), so the frames behind it are acked before their own timers
  // fire. Acks riding on data frames repeat naturally and are not counted.
  int on_ack(uint64_t ack, bool ack_only, uint64_t now_ns, proto::LatencyHistogram &rtt);
  uint64_t fast_retransmits() const { return fast_retransmits_; }
  // The oldest frame not yet acked (what an echo tells a peer that takes our stream).
  uint64_t first_held() const { return base_; }
  // Makes every frame in flight due now (a new peer took our stream: it needs them all).
  void make_due(uint64_t now_ns);

  uint32_t in_flight() const { return static_cast<uint32_t>(sent_upto_ - base_); }
  bool has_unsent() const { return sent_upto_ != next_seq_; }
  uint32_t used() const { return static_cast<uint32_t>(next_seq_ - base_); }

 private:
  struct Slot {
    uint32_t len = 0;          // bytes on the wire (with the FCS on datagram paths)
    uint32_t records_crc = 0;  // datagram paths: the records' part of the FCS
    uint32_t rto_us = 0;
    uint64_t first_sent_ns = 0;
    uint64_t deadline_ns = 0;
    uint32_t tries = 0;
  };
  Slot &slot(uint64_t seq) { return slots_[seq % n_]; }
  uint8_t *buf(uint64_t seq) { return storage_.data() + (seq % n_) * cap_; }
  void patch(uint64_t seq, uint64_t ack, uint8_t flags);

  uint32_t n_;
  size_t cap_;
  bool acked_;
  uint32_t rto_us_, max_rto_us_;
  std::vector<uint8_t> storage_;
  std::vector<Slot> slots_;
  uint64_t base_ = 1;       // oldest frame not yet acked (or not yet taken, on TCP)
  uint64_t sent_upto_ = 1;  // next frame to transmit for the first time
  uint64_t next_seq_ = 1;   // number the next closed frame gets
  uint64_t next_deadline_ = UINT64_MAX;
  uint32_t dup_acks_ = 0;
  uint64_t fast_retx_seq_ = 0;  // the frame last fast-retransmitted (once per frame)
  uint64_t fast_retransmits_ = 0;
};

}  // namespace ferry::engine
