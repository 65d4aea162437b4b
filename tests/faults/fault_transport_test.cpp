// The fault-injection decorator (engine/transport/fault_transport.h) around real kernel-udp
// sockets on loopback: each kind happens at its configured rate and is counted, reordering
// stays within its bound, delays hold frames for their time and no longer, the same seed
// makes the same decisions, rx faults work like tx ones; and two engines over it (corruption
// included) still deliver every record once, in order, intact, because a frame whose FCS does
// not match is dropped and sent again.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "engine_test_util.h"
#include "ferry/proto/frame.h"
#include "seq_handlers.h"
#include "transport/fault_transport.h"

namespace ferry::testing {
namespace {

using Kind = engine::TransportOptions::Kind;
using engine::FaultTransport;
using engine::FrameView;

// A test frame: 8-byte id, its complement, then a pattern derived from it (any changed byte
// shows).
constexpr size_t kLen = 96;
std::vector<uint8_t> make_frame(uint64_t id) {
  std::vector<uint8_t> f(kLen);
  const uint64_t inv = ~id;
  std::memcpy(f.data(), &id, 8);
  std::memcpy(f.data() + 8, &inv, 8);
  for (size_t i = 16; i < kLen; ++i) f[i] = static_cast<uint8_t>(id * 7 + i);
  return f;
}
// The id, or 0 when the frame was changed.
uint64_t frame_id(FrameView f) {
  if (f.size() != kLen) return 0;
  uint64_t id, inv;
  std::memcpy(&id, f.data(), 8);
  std::memcpy(&inv, f.data() + 8, 8);
  if (inv != ~id) return 0;
  for (size_t i = 16; i < kLen; ++i)
    if (f[i] != static_cast<uint8_t>(id * 7 + i)) return 0;
  return id;
}

struct Received {
  std::vector<uint64_t> order;  // ids in arrival order (0: corrupted)
  std::map<uint64_t, int> count;
  uint64_t corrupted = 0;
};

// Sends `n` frames from a to b in bursts of 8, receiving as it goes; wraps whichever side
// `faults` is for (tx on a, rx on b).
struct Link {
  uint16_t pa = free_port(SOCK_DGRAM), pb = free_port(SOCK_DGRAM);
  std::unique_ptr<engine::Transport> a, b;
  FaultTransport *fa = nullptr, *fb = nullptr;
  Link(const engine::FaultOptions &tx_side, const engine::FaultOptions &rx_side, uint64_t seed) {
    auto ca = kernel_cfg(Kind::kKernelUdp, "127.0.0.1", pa, "127.0.0.1", pb);
    auto cb = kernel_cfg(Kind::kKernelUdp, "127.0.0.1", pb, "127.0.0.1", pa);
    a = std::make_unique<FaultTransport>(engine::make_transport(ca, engine::Role::kConnect),
                                         tx_side, seed);
    b = std::make_unique<FaultTransport>(engine::make_transport(cb, engine::Role::kConnect),
                                         rx_side, seed + 1);
    fa = static_cast<FaultTransport *>(a.get());
    fb = static_cast<FaultTransport *>(b.get());
  }
  void drain(Received &r, int rounds) {
    FrameView in[32];
    for (int k = 0; k < rounds; ++k) {
      const int n = b->recv(in);
      for (int i = 0; i < n; ++i) {
        const uint64_t id = frame_id(in[i]);
        r.order.push_back(id);
        if (id == 0)
          ++r.corrupted;
        else
          ++r.count[id];
      }
      a->maintain(proto::now_ns());
      a->recv(std::span<FrameView>(in, 0));  // releases held tx frames that are due
    }
  }
  Received run(uint64_t n) {
    Received r;
    for (uint64_t id = 1; id <= n; id += 8) {
      std::vector<std::vector<uint8_t>> frames;
      std::vector<FrameView> views;
      for (uint64_t k = id; k < id + 8 && k <= n; ++k) frames.push_back(make_frame(k));
      for (auto &f : frames) views.emplace_back(f.data(), f.size());
      EXPECT_EQ(a->send(views), static_cast<int>(views.size()));
      drain(r, 2);
    }
    const uint64_t end = proto::now_ns() + 50'000'000;  // held frames come out
    while (proto::now_ns() < end) drain(r, 1);
    return r;
  }
};

engine::FaultOptions only_tx(engine::FaultDirection d) {
  engine::FaultOptions c;
  c.tx = d;
  return c;
}
engine::FaultOptions only_rx(engine::FaultDirection d) {
  engine::FaultOptions c;
  c.rx = d;
  return c;
}

TEST(FaultTransport, each_kind_happens_at_its_rate_and_is_counted) {
  engine::FaultDirection d;
  d.drop_ppm = 50000;
  d.duplicate_ppm = 20000;
  d.reorder_ppm = 50000;
  d.corrupt_ppm = 10000;
  d.delay_ppm = 10000;
  d.delay_us = 300;
  Link l(only_tx(d), {}, 5);
  const uint64_t n = 20000;
  Received r = l.run(n);
  const auto &c = l.fa->tx_faults();
  EXPECT_EQ(c.frames.get(), n);
  EXPECT_NEAR(c.drop.get() / double(n), 0.05, 0.01);
  EXPECT_NEAR(c.duplicate.get() / double(n), 0.02 * 0.95, 0.007);
  EXPECT_NEAR(c.reorder.get() / double(n), 0.05 * 0.95, 0.01);
  EXPECT_NEAR(c.corrupt.get() / double(n), 0.01 * 0.95, 0.004);
  EXPECT_NEAR(c.delay.get() / double(n), 0.01 * 0.95 * 0.95, 0.004);
  EXPECT_EQ(c.no_slot.get(), 0u);
  EXPECT_EQ(c.lost.get(), 0u);
  // What arrived matches what was counted: loopback itself loses nothing at this pace.
  uint64_t missing = 0, twice = 0;
  for (uint64_t id = 1; id <= n; ++id) {
    const int k = r.count.count(id) ? r.count[id] : 0;
    missing += k == 0;
    twice += k == 2;
    EXPECT_LE(k, 2) << id;
  }
  // A corrupted frame that was also duplicated arrives (changed) twice.
  EXPECT_GE(r.corrupted, c.corrupt.get());
  EXPECT_LE(r.corrupted, c.corrupt.get() + c.duplicate.get());
  // A corrupted frame is missing from the ids too (unless it was duplicated: both copies are
  // changed the same way).
  EXPECT_EQ(missing, c.drop.get() + c.corrupt.get());
  EXPECT_LE(twice, c.duplicate.get());
  EXPECT_GE(twice + r.corrupted, c.duplicate.get() - c.corrupt.get());
  // The inner transport's counters show through the decorator after maintain().
  EXPECT_EQ(l.a->counters().frames_tx.get(), n - c.drop.get() + c.duplicate.get());
}

TEST(FaultTransport, a_reordered_frame_is_passed_by_at_most_reorder_distance_frames) {
  engine::FaultDirection d;
  d.reorder_ppm = 100000;
  d.reorder_distance = 3;
  Link l(only_tx(d), {}, 9);
  Received r = l.run(5000);
  EXPECT_GT(l.fa->tx_faults().reorder.get(), 300u);
  // Late frames: a higher id arrived before them (only held frames can be late).
  std::set<uint64_t> late;
  uint64_t highest = 0;
  for (uint64_t id : r.order) {
    if (id < highest) late.insert(id);
    highest = std::max(highest, id);
  }
  const uint64_t reordered = l.fa->tx_faults().reorder.get();
  EXPECT_LE(late.size(), reordered);
  // Most are released by the frames behind them; one whose followers come more than
  // kReorderMaxUs later (a slow or loaded machine) leaves by time, passed by none.
  EXPECT_GE(late.size() * 2, reordered);
  // A held frame is released after 1 .. distance frames went out past it: frames that were
  // not held themselves pass it at most `distance` times.
  for (size_t i = 0; i < r.order.size(); ++i) {
    if (!late.count(r.order[i])) continue;
    uint64_t passed = 0;
    for (size_t j = 0; j < i; ++j) passed += r.order[j] > r.order[i] && !late.count(r.order[j]);
    EXPECT_LE(passed, d.reorder_distance) << "frame " << r.order[i];
  }
  EXPECT_EQ(r.count.size(), 5000u);  // nothing lost
}

TEST(FaultTransport, delayed_frames_wait_their_time_and_then_arrive) {
  engine::FaultDirection d;
  d.delay_ppm = 1000000;
  d.delay_us = 2000;
  Link l(only_tx(d), {}, 3);
  auto f = make_frame(42);
  FrameView v(f.data(), f.size());
  const uint64_t t0 = proto::now_ns();
  ASSERT_EQ(l.a->send(std::span<const FrameView>(&v, 1)), 1);
  Received r;
  uint64_t arrived = 0;
  while (proto::now_ns() < t0 + 20'000'000 && r.count.empty()) {
    l.drain(r, 1);
    if (!r.count.empty()) arrived = proto::now_ns();
  }
  ASSERT_EQ(r.count[42], 1);
  EXPECT_EQ(l.fa->tx_faults().delay.get(), 1u);
  EXPECT_LE(arrived - t0, 2'000'000u + 5'000'000u);  // at most delay_us, plus slack
}

TEST(FaultTransport, the_same_seed_makes_the_same_decisions) {
  engine::FaultDirection d;
  d.drop_ppm = 100000;
  d.duplicate_ppm = 50000;
  auto once = [&] {
    Link l(only_tx(d), {}, 1234);
    Received r = l.run(2000);
    std::vector<uint64_t> seen;
    for (auto &[id, k] : r.count) seen.insert(seen.end(), k, id);
    return seen;
  };
  const auto first = once();
  EXPECT_EQ(first, once());
  EXPECT_LT(first.size(), 2000u);
}

TEST(FaultTransport, rx_faults_change_what_the_engine_receives) {
  engine::FaultDirection d;
  d.drop_ppm = 100000;
  d.corrupt_ppm = 50000;
  d.duplicate_ppm = 50000;
  d.reorder_ppm = 50000;
  Link l({}, only_rx(d), 21);
  Received r = l.run(4000);
  const auto &c = l.fb->rx_faults();
  EXPECT_EQ(c.frames.get(), 4000u);
  EXPECT_GT(c.drop.get(), 0u);
  EXPECT_GT(c.reorder.get(), 0u);
  EXPECT_GE(r.corrupted, c.corrupt.get());
  EXPECT_LE(r.corrupted, c.corrupt.get() + c.duplicate.get());
  EXPECT_EQ(r.count.size() + c.drop.get() + c.corrupt.get(), 4000u)
      << "every frame arrives unless dropped or corrupted";
  EXPECT_EQ(l.fa->tx_faults().frames.get(), 4000u);  // the tx side did nothing
  EXPECT_EQ(l.fa->tx_faults().drop.get(), 0u);
}

// Two engines over the decorator with harsh faults both ways, corruption included: the FCS
// turns every corrupted frame into a lost one, so records still arrive once, in order, intact.
TEST(FaultTransport, engines_deliver_every_record_once_in_order_intact_through_all_faults) {
  const uint16_t pa = free_port(SOCK_DGRAM), pb = free_port(SOCK_DGRAM);
  auto ca = kernel_cfg(Kind::kKernelUdp, "127.0.0.1", pa, "127.0.0.1", pb);
  auto cb = kernel_cfg(Kind::kKernelUdp, "127.0.0.1", pb, "127.0.0.1", pa);
  ca.retransmit_us = cb.retransmit_us = 500;
  engine::FaultOptions f;
  f.tx.drop_ppm = f.rx.drop_ppm = 50000;
  f.tx.duplicate_ppm = f.rx.duplicate_ppm = 20000;
  f.tx.reorder_ppm = f.rx.reorder_ppm = 50000;
  f.tx.corrupt_ppm = f.rx.corrupt_ppm = 20000;  // 20x the e2e rate: many FCS failures
  f.tx.delay_ppm = f.rx.delay_ppm = 10000;
  f.tx.delay_us = f.rx.delay_us = 1000;
  f.seed = 99;
  SeqSource src(30000, 1);
  SeqSink echo(/*echo=*/true);
  engine::Engine a(engine::with_faults(engine::make_transport(ca, engine::Role::kConnect), f, 0),
                   src, opts(ca));
  engine::Engine b(engine::with_faults(engine::make_transport(cb, engine::Role::kConnect), f, 1),
                   echo, opts(cb));
  ASSERT_TRUE(drive(
      a, b, [&] { return src.echoes.received == 30000; }, 90000))
      << "echoes " << src.echoes.received;
  EXPECT_TRUE(echo.seq.clean()) << "out of order " << echo.seq.out_of_order << " corrupt "
                                << echo.seq.corrupt;
  EXPECT_TRUE(src.echoes.clean());
  EXPECT_EQ(echo.seq.received, 30000u);
  auto &fa = static_cast<FaultTransport &>(a.transport());
  auto &fb = static_cast<FaultTransport &>(b.transport());
  // b's rx faults may drop a frame a's tx corrupted; what b's rx corrupted reaches b's engine.
  const uint64_t corrupted_to_b = fa.tx_faults().corrupt.get() + fb.rx_faults().corrupt.get();
  EXPECT_GT(fb.rx_faults().corrupt.get(), 0u);
  EXPECT_GE(b.counters().bad_fcs.get(), fb.rx_faults().corrupt.get());
  EXPECT_LE(b.counters().bad_fcs.get(),
            corrupted_to_b + fa.tx_faults().duplicate.get() + fb.rx_faults().duplicate.get());
  EXPECT_GT(a.counters().bad_fcs.get(), 0u);
  EXPECT_GT(a.counters().retransmits.get(), 0u);
  EXPECT_GT(b.counters().duplicates.get(), 0u);
}

}  // namespace
}  // namespace ferry::testing
