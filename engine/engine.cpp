#include "ferry/engine/engine.h"

#include <sys/prctl.h>
#include <sys/random.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <stdexcept>

#include "ferry/engine/log.h"
#include "ferry/proto/idle.h"
#include "frame_packer.h"
#include "reliability/reliable_rx.h"
#include "reliability/reliable_tx.h"

namespace ferry::engine {

namespace {

uint32_t random_stream_id() {
  uint32_t e = 0;
  while (e == 0) {
    if (getrandom(&e, sizeof(e), 0) != sizeof(e)) e = static_cast<uint32_t>(proto::now_ns());
  }
  return e;
}

// Collects the handler's stats into the engine's fixed snapshot table.
class SnapshotWriter final : public StatsWriter {
 public:
  SnapshotWriter(std::array<Engine::AppStat, Engine::kMaxAppStats> &t, std::atomic<int> &used)
      : t_(t), used_(used) {}
  void put(const char *name, uint64_t value) override {
    int n = used_.load(std::memory_order_relaxed);
    for (int i = 0; i < n; ++i) {
      if (t_[i].name == name || std::strcmp(t_[i].name, name) == 0) {
        t_[i].value.set(value);
        return;
      }
    }
    if (n == Engine::kMaxAppStats) return;
    t_[n].name = name;
    t_[n].value.set(value);
    used_.store(n + 1, std::memory_order_release);
  }

 private:
  std::array<Engine::AppStat, Engine::kMaxAppStats> &t_;
  std::atomic<int> &used_;
};

}  // namespace

Engine::Engine(std::unique_ptr<Transport> transport, RecordHandler &handler,
               const EngineOptions &opt)
    : transport_(std::move(transport)),
      handler_(handler),
      opt_(opt),
      datagram_(!transport_->reliable()),
      stream_id_(random_stream_id()) {
  const size_t cap = std::min(transport_->max_frame(), proto::kMaxFrameSize);
  if (cap < sizeof(proto::FrameHeader) + sizeof(proto::RecordHeader) + 64)
    throw std::runtime_error("transport frame size too small for one descriptor record");
  const uint32_t window = std::max<uint32_t>(opt_.window_frames, 2);
  tx_ = std::make_unique<TxWindow>(window, cap, datagram_, opt_.retransmit_us,
                                   opt_.max_retransmit_us);
  rx_ = std::make_unique<RxWindow>(window, cap);
  packer_ = std::make_unique<FramePacker>(*tx_, counters_, channels_, stream_id_);
  link_gen_ = transport_->link_generation();
  stall_ns_ = 2 * uint64_t{std::max(opt_.max_retransmit_us, opt_.retransmit_us)} * 1000;
  challenge_gap_ns_ = uint64_t{std::max<uint32_t>(opt_.retransmit_us, 1)} * 1000;
}

Engine::~Engine() = default;

proto::RecordSink &Engine::sink() {
  return *packer_;
}

uint32_t Engine::in_flight() const {
  return tx_->in_flight();
}

// A stream transport that lost its connection: what the kernel held is gone (the sessions
// above notice the missing records); the sessions themselves are not touched.
void Engine::link_replaced() {
  counters_.link_resets.add();
  FERRY_LOG_LIMITED(Engine, WARNING, "stream %08x: link reset: the connection was replaced",
                    stream_id_);
}

// Frame streams (proto/frame.h, engine/README.md): each side numbers its outgoing stream from
// 1 under a random stream id. Frames of any other stream than the one taken from the peer are
// not used (no records, no acks); their stream is challenged, and taken only when its sender
// echoes the nonce with the first frame it still holds, where our receive window resumes. A
// spoofer that cannot read our frames cannot move the stream; one that can only makes the real
// stream challenged back, and the sessions above never see a reset.
void Engine::challenge(uint32_t stream, uint64_t now_ns) {
  if (stream == pending_stream_ && now_ns - challenge_sent_ns_ < challenge_gap_ns_) return;
  if (stream != pending_stream_ && challenge_sent_ns_ != 0 &&
      now_ns - challenge_sent_ns_ < challenge_gap_ns_)
    return;  // one challenge in flight at a time: a flood of strangers costs one per gap
  uint64_t nonce = 0;
  while (nonce == 0) {
    if (getrandom(&nonce, sizeof(nonce), 0) != sizeof(nonce)) return;
  }
  pending_stream_ = stream;
  pending_nonce_ = nonce;
  challenge_sent_ns_ = now_ns;
  if (send_control(proto::kFrameAckOnly | proto::kFrameChallenge, nonce, rx_->ack()))
    counters_.challenges_tx.add();
}

void Engine::answer_challenge(uint64_t nonce) {
  if (send_control(proto::kFrameAckOnly | proto::kFrameEcho, nonce, tx_->first_held() - 1))
    counters_.echoes_tx.add();
}

void Engine::take_echo(const proto::FrameHeader &h, uint64_t now_ns) {
  const uint32_t stream = h.stream_id.get();
  if (pending_nonce_ == 0 || stream != pending_stream_ || h.seq.get() != pending_nonce_) {
    counters_.echoes_refused.add();
    return;
  }
  // Frames already handed up must be delivered first: the window is about to move.
  if (!rx_->head().empty()) return;  // the next challenge asks again
  pending_nonce_ = 0;
  pending_stream_ = 0;
  challenge_sent_ns_ = 0;
  const uint64_t resume = h.ack.get() + 1;  // the first frame the peer still holds
  if (stream == peer_stream_id_) {
    if (resume <= rx_->ack() + 1) return;  // nothing the sender gave up on is missing
    counters_.resyncs.add();               // frames it gave up on never came: move past them
    FERRY_LOG_LIMITED(Engine, WARNING,
                      "stream %08x: peer stream %08x gave up on frames %" PRIu64 "..%" PRIu64
                      ": resynchronised, the sessions above see the gap",
                      stream_id_, stream, rx_->ack() + 1, resume - 1);
  } else if (peer_stream_id_ != 0) {
    counters_.peer_restarts.add();
    FERRY_LOG_LIMITED(Engine, NOTICE,
                      "stream %08x: peer restart: peer stream %08x replaces %08x, resuming at "
                      "frame %" PRIu64,
                      stream_id_, stream, peer_stream_id_, resume);
  } else {
    FERRY_LOG_LIMITED(Engine, NOTICE,
                      "stream %08x: peer stream %08x taken, resuming at frame %" PRIu64, stream_id_,
                      stream, resume);
  }
  counters_.frames_discarded.add(rx_->reset(resume));
  peer_stream_id_ = stream;
  rx_progress_ns_ = now_ns;
  tx_->make_due(now_ns);  // a new peer needs what we still hold; send it now, not at its timer
}

// The stream stopped moving: its frames keep arriving but nothing new is complete for
// stall_ns_ (the sender gave up on frames we never got, or its numbering moved away from our
// window). Ask where it stands.
void Engine::watch_progress(uint64_t now_ns) {
  if (rx_->ack() != rx_last_ack_) {
    rx_last_ack_ = rx_->ack();
    rx_progress_ns_ = now_ns;
    return;
  }
  if (now_ns - rx_progress_ns_ >= stall_ns_) challenge(peer_stream_id_, now_ns);
}

void Engine::process_frame(std::span<const uint8_t> frame, uint64_t now_ns) {
  if (datagram_) {  // frames on a datagram path carry an FCS (proto/frame.h)
    frame = proto::frame_check_fcs(frame);
    if (__builtin_expect(frame.empty(), 0)) {
      counters_.bad_fcs.add();
      counters_.malformed.add();
      return;
    }
  }
  proto::FrameReader r;
  if (__builtin_expect(r.parse(frame) != proto::Status::kOk, 0)) {
    counters_.malformed.add();
    return;
  }
  const proto::FrameHeader &h = r.header();
  counters_.frames_rx.add();
  counters_.bytes_rx.add(frame.size());
  if (!datagram_) {
    rx_->store(rx_->ack() + 1, frame);  // recv() was limited to the free slots
    return;
  }
  if (__builtin_expect(h.flags & (proto::kFrameChallenge | proto::kFrameEcho), 0)) {
    counters_.ack_frames_rx.add();
    if (h.flags & proto::kFrameChallenge) {
      answer_challenge(h.seq.get());
    } else {
      take_echo(h, now_ns);
    }
    return;
  }
  if (__builtin_expect(h.stream_id.get() != peer_stream_id_ || peer_stream_id_ == 0, 0)) {
    if (h.stream_id.get() == 0) {  // no sender uses it: it would stand for "none taken"
      counters_.malformed.add();
      return;
    }
    counters_.foreign_frames.add();
    challenge(h.stream_id.get(), now_ns);
    return;
  }
  tx_->on_ack(h.ack.get(), h.flags & proto::kFrameAckOnly, now_ns, counters_.rtt);
  if (h.flags & proto::kFrameAckOnly) {
    counters_.ack_frames_rx.add();
    return;
  }
  const uint64_t seq = h.seq.get();
  switch (rx_->store(seq, frame)) {
    case RxWindow::Store::kStored:
      if (seq > rx_->ack()) gap_ack_ = true;  // a hole before it: tell the sender now
      break;
    case RxWindow::Store::kDuplicate:
      counters_.duplicates.add();
      break;
    case RxWindow::Store::kOutOfWindow:
    case RxWindow::Store::kTooBig:
      counters_.out_of_window.add();
      break;
  }
  ack_owed_ = true;  // duplicates too: our earlier ack may have been lost
  watch_progress(now_ns);
}

bool Engine::send_control(uint8_t flags, uint64_t seq, uint64_t ack) {
  proto::FrameWriter w{std::span<uint8_t>(ack_buf_, sizeof(ack_buf_))};
  w.reset();
  size_t len = w.finish(flags, stream_id_, seq, ack);
  len = proto::frame_put_fcs(ack_buf_, len, proto::frame_records_crc({ack_buf_, len}));
  FrameView v(ack_buf_, len);
  return transport_->send(std::span<const FrameView>(&v, 1)) == 1;
}

void Engine::send_ack_only() {
  if (send_control(proto::kFrameAckOnly, 0, rx_->ack())) {
    counters_.ack_frames_tx.add();
    ack_owed_ = false;
  }
}

int Engine::flush(uint64_t now_ns) {
  packer_->close();
  const uint64_t ack = datagram_ ? rx_->ack() : 0;
  const uint8_t flags = 0;
  int sent = tx_->pump(*transport_, now_ns, ack, flags);
  counters_.frames_tx.add(sent);
  if (datagram_) {
    sent += tx_->retransmit_due(*transport_, now_ns, ack, flags, counters_);
    if (sent > 0 && !gap_ack_) ack_owed_ = false;
    if (ack_owed_) send_ack_only();
    gap_ack_ = false;
  }
  return sent;
}

int Engine::run_once(uint64_t now_ns) {
  counters_.iterations.add();
  int work = 0;

  // A stream transport that lost its connection: what it held is gone, tell the layer above.
  if (__builtin_expect(transport_->link_generation() != link_gen_, 0)) {
    link_gen_ = transport_->link_generation();
    link_replaced();
  }

  // Receive.
  FrameView in[kBurst];
  size_t want = kBurst;
  if (!datagram_) want = std::min<size_t>(want, rx_->free_slots());
  int n = want ? transport_->recv(std::span<FrameView>(in, want)) : 0;
  for (int i = 0; i < n; ++i) {
    if (i + 1 < n) __builtin_prefetch(in[i + 1].data());
    process_frame(in[i], now_ns);
  }
  work += n;

  // Deliver in order, resuming where the handler last refused.
  proto::FrameReader r;
  proto::RecordView rec;
  for (auto f = rx_->head(); !f.empty(); f = rx_->head()) {
    r.parse(f);  // validated when stored
    uint16_t &cursor = rx_->head_cursor();
    for (uint16_t skip = 0; skip < cursor && r.next(rec); ++skip) {
    }
    bool refused = false;
    while (r.next(rec)) {
      if (!handler_.on_record(*packer_, rec)) {
        counters_.backpressure.add();
        refused = true;
        break;
      }
      ++cursor;
      ++work;
      counters_.records_rx.add();
      if (rec.type == proto::RecordType::kDescriptor) counters_.descriptors_rx.add();
      auto &e = channels_.lookup(rec.channel);
      e.records_rx.add();
      e.bytes_rx.add(rec.payload.size());
    }
    if (refused) break;
    rx_->pop_head();
  }

  // New local work.
  if (!draining_) work += handler_.poll(*packer_, now_ns);

  // Transmit.
  work += flush(now_ns);
  if (work) counters_.busy_iterations.add();
  return work;
}

void Engine::housekeeping(uint64_t now_ns) {
  transport_->maintain(now_ns);
  counters_.fast_retransmits.set(tx_->fast_retransmits());
  handler_.housekeeping(now_ns);
  SnapshotWriter w(app_stats_, app_stats_used_);
  handler_.collect_stats(w);
}

void Engine::run(const std::atomic<bool> &stop) {
  proto::IdlePoller idle(opt_.idle, transport_.get());
  // Sleeps of a few microseconds mean what they say (the default slack is 50 us).
  if (opt_.idle.mode == proto::IdlePolicy::Mode::kSpinThenSleep) prctl(PR_SET_TIMERSLACK, 1000);
  uint32_t until_housekeeping = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    const uint64_t now = proto::now_ns();
    if (until_housekeeping-- == 0) {
      housekeeping(now);
      until_housekeeping = opt_.housekeeping_every;
    }
    idle.after_poll(run_once(now));
  }
  // Stop taking new work; give frames in flight drain_ms to be acknowledged.
  draining_ = true;
  const uint64_t deadline = proto::now_ns() + uint64_t{opt_.drain_ms} * 1000000;
  for (uint64_t now = proto::now_ns(); now < deadline; now = proto::now_ns()) {
    if (tx_->used() == 0) break;
    if (until_housekeeping-- == 0) {
      housekeeping(now);
      until_housekeeping = opt_.housekeeping_every;
    }
    idle.after_poll(run_once(now));
  }
}

}  // namespace ferry::engine
