#include "ferry/engine/engine.h"

#include <sys/prctl.h>
#include <sys/random.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

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
}

Engine::~Engine() = default;

proto::RecordSink &Engine::sink() {
  return *packer_;
}

uint32_t Engine::in_flight() const {
  return tx_->in_flight();
}

void Engine::reset_link(bool restart_tx_stream) {
  counters_.link_resets.add();
  if (restart_tx_stream) {
    packer_->abandon();
    stream_id_ = random_stream_id();  // the peer's receiver starts afresh on the new stream
    if (opt_.resend_after_peer_restart)
      counters_.frames_resent.add(tx_->restart(stream_id_));
    else
      counters_.frames_discarded.add(tx_->reset());
  }
  handler_.on_link_reset();
}

// Stream ids: each side numbers its outgoing stream from 1 under a random stream id, and flags
// its frames kFrameReset until something it sent is acked after a (re)start. A new stream id
// from the peer starts a new incoming stream; if it carries kFrameReset and we knew an older
// one, the peer process restarted and lost our stream too, so ours restarts under a new id.
void Engine::handle_stream_id(const proto::FrameHeader &h) {
  const uint32_t e = h.stream_id.get();
  if (__builtin_expect(e == peer_stream_id_, 1)) return;
  const bool peer_restarted = (h.flags & proto::kFrameReset) && peer_stream_id_ != 0;
  counters_.frames_discarded.add(rx_->reset());
  peer_stream_id_ = e;
  if (peer_restarted) {
    counters_.peer_restarts.add();
    reset_link(true);
  }
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
  handle_stream_id(h);
  if (tx_->on_ack(h.ack.get(), h.flags & proto::kFrameAckOnly, now_ns, counters_.rtt) > 0)
    fresh_ = false;
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
}

void Engine::send_ack_only() {
  proto::FrameWriter w{std::span<uint8_t>(ack_buf_, sizeof(ack_buf_))};
  w.reset();
  const uint8_t flags = proto::kFrameAckOnly | (fresh_ ? proto::kFrameReset : 0);
  size_t len = w.finish(flags, stream_id_, 0, rx_->ack());
  len = proto::frame_put_fcs(ack_buf_, len, proto::frame_records_crc({ack_buf_, len}));
  FrameView v(ack_buf_, len);
  if (transport_->send(std::span<const FrameView>(&v, 1)) == 1) {
    counters_.ack_frames_tx.add();
    ack_owed_ = false;
  }
}

int Engine::flush(uint64_t now_ns) {
  packer_->close();
  const uint64_t ack = datagram_ ? rx_->ack() : 0;
  const uint8_t flags = fresh_ && datagram_ ? proto::kFrameReset : 0;
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
    reset_link(false);
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
