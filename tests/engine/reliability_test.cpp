// The engine's reliability over a real datagram transport (kernel-udp on loopback): order,
// exactly-once delivery, retransmission of the same bytes with backoff, the bounded window,
// acks when idle and resynchronisation after a peer restart. Losses come from the
// transport's test-only drop hook.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "engine_test_util.h"
#include "ferry/proto/frame.h"
#include "seq_handlers.h"

namespace ferry::testing {
namespace {

using Kind = engine::TransportOptions::Kind;

TEST(Reliability, records_arrive_in_order_exactly_once_over_kernel_udp) {
  UdpPair p;
  SeqSource src(20000, 1);
  SeqSink sink;
  auto a = p.make(src, true);
  auto b = p.make(sink, false);
  ASSERT_TRUE(drive(*a, *b, [&] { return sink.seq.received == 20000 && a->in_flight() == 0; }));
  EXPECT_TRUE(sink.seq.clean());
  EXPECT_EQ(sink.seq.received, 20000u);
  // Several records share a frame when they wait together.
  EXPECT_LT(a->counters().frames_tx.get(), 20000u / 4);
  EXPECT_EQ(b->counters().records_rx.get(), 20000u);
  EXPECT_GT(b->counters().ack_frames_tx.get(), 0u);  // b has nothing to say: ack-only frames
}

TEST(Reliability, lost_frames_are_retransmitted_and_records_stay_in_order_exactly_once) {
  UdpPair p;
  SeqSource src(20000, 1);
  SeqSink echo(/*echo=*/true);
  auto a = p.make(src, true);
  auto b = p.make(echo, false);
  a->transport().set_test_drops(0, 0, 100, 42);  // 10% of frames each way
  b->transport().set_test_drops(0, 0, 100, 43);
  ASSERT_TRUE(drive(
      *a, *b, [&] { return src.echoes.received == 20000; }, 60000))
      << "echoes " << src.echoes.received;
  EXPECT_TRUE(echo.seq.clean());
  EXPECT_TRUE(src.echoes.clean());
  EXPECT_EQ(echo.seq.received, 20000u);
  EXPECT_GT(a->transport().counters().test_drops.get(), 0u);
  EXPECT_GT(a->counters().retransmits.get(), 0u);
  EXPECT_GT(b->counters().retransmits.get(), 0u);
}

TEST(Reliability, handler_backpressure_holds_records_without_loss_or_reordering) {
  UdpPair p;
  SeqSource src(5000, 3);
  SeqSink sink(false, /*refuse_every=*/3);
  auto a = p.make(src, true);
  auto b = p.make(sink, false);
  ASSERT_TRUE(drive(*a, *b, [&] { return sink.seq.received == 5000; }));
  EXPECT_TRUE(sink.seq.clean());
  EXPECT_GT(b->counters().backpressure.get(), 1000u);
}

TEST(Reliability, a_retransmission_resends_the_same_frame_bytes_with_backoff) {
  RawUdp peer;  // receives, never acks
  const uint16_t pa = free_port(SOCK_DGRAM);
  auto c = kernel_cfg(Kind::kKernelUdp, "127.0.0.1", pa, "127.0.0.1", peer.port);
  c.retransmit_us = 2000;
  c.max_retransmit_us = 8000;
  SeqSource src(1, 1);
  engine::Engine e(engine::make_transport(c, engine::Role::kConnect), src, opts(c));
  // Send times are the engine's own: the `now` of the poll in which its counters say the frame
  // went out (first transmission, then each retransmission). The engine resends when `now`
  // reaches the due time, so a late poll can only lengthen an interval, never shorten it.
  std::vector<uint64_t> sent_at;
  const uint64_t end = proto::now_ns() + 2'000'000'000;
  while (proto::now_ns() < end && sent_at.size() < 7) {
    const uint64_t before = e.counters().frames_tx.get() + e.counters().retransmits.get();
    const uint64_t now = proto::now_ns();
    e.run_once(now);
    const uint64_t after = e.counters().frames_tx.get() + e.counters().retransmits.get();
    for (uint64_t i = before; i < after; ++i) sent_at.push_back(now);
  }
  ASSERT_EQ(sent_at.size(), 7u) << "transmissions seen in 2 s";
  std::vector<std::vector<uint8_t>> copies;
  for (int tries = 0; tries < 1000 && copies.size() < sent_at.size(); ++tries) {
    std::vector<uint8_t> buf;
    if (peer.recv(buf) > 0)
      copies.push_back(buf);
    else
      usleep(1000);
  }
  ASSERT_GE(copies.size(), 5u);  // loopback UDP does not lose them; the bytes are compared
  for (auto &f : copies) {
    ASSERT_EQ(f.size(), copies[0].size());
    // Only the header's ack and flags may change between copies; seq, stream id and the records
    // (sealed descriptors, in real use) are the bytes first sent.
    EXPECT_EQ(0, std::memcmp(
                     f.data() + offsetof(proto::FrameHeader, n_records),
                     copies[0].data() + offsetof(proto::FrameHeader, n_records),
                     offsetof(proto::FrameHeader, ack) - offsetof(proto::FrameHeader, n_records)));
    EXPECT_EQ(0, std::memcmp(f.data() + sizeof(proto::FrameHeader),
                             copies[0].data() + sizeof(proto::FrameHeader),
                             f.size() - sizeof(proto::FrameHeader)));
  }
  // Backoff: at least 2, 4, 8, 8 ms between transmissions, by the sender's clock.
  EXPECT_GE(sent_at[1] - sent_at[0], 2'000'000u);
  EXPECT_GE(sent_at[2] - sent_at[1], 4'000'000u);
  EXPECT_GE(sent_at[3] - sent_at[2], 8'000'000u);
  EXPECT_GE(sent_at[4] - sent_at[3], 8'000'000u);
  // Capped at max_retransmit_us: without the cap the intervals from the fourth on would be
  // 16, 32 and 64 ms. A loaded machine can delay one poll, not every one of three by 8 ms.
  const uint64_t shortest_capped =
      std::min({sent_at[4] - sent_at[3], sent_at[5] - sent_at[4], sent_at[6] - sent_at[5]});
  EXPECT_LT(shortest_capped, 16'000'000u);
  EXPECT_GE(e.counters().retransmits.get(), 4u);
}

TEST(Reliability, a_full_window_refuses_records_until_acks_free_it) {
  RawUdp peer;  // never acks
  const uint16_t pa = free_port(SOCK_DGRAM);
  auto c = kernel_cfg(Kind::kKernelUdp, "127.0.0.1", pa, "127.0.0.1", peer.port);
  c.window_frames = 4;
  c.mtu = 210;  // 182-byte frames: two 72-byte records each
  SeqSource src(1000, 1);
  engine::Engine e(engine::make_transport(c, engine::Role::kConnect), src, opts(c));
  for (int i = 0; i < 100; ++i) e.run_once(proto::now_ns());
  EXPECT_EQ(e.in_flight(), 4u);
  EXPECT_EQ(src.sent(), 8u);
  EXPECT_GT(e.counters().window_full.get(), 0u);
}

// A restarted peer challenges our stream and takes it where we stand: the frames the old peer
// never acked go to the new one, and our stream goes on (no renumbering, nothing dropped).
TEST(Reliability, a_restarted_peer_takes_our_stream_where_the_old_one_stopped_acking) {
  UdpPair p;
  SeqSource src(UINT32_MAX, 1);
  auto a = p.make(src, true);
  uint64_t last_old = 0;
  {
    SeqSink sink1;
    auto b1 = p.make(sink1, false);
    ASSERT_TRUE(drive(*a, *b1, [&] { return sink1.seq.received >= 3000; }));
    EXPECT_TRUE(sink1.seq.clean());
    for (int i = 0; i < 5; ++i) a->run_once(proto::now_ns());  // frames left in flight
    last_old = sink1.seq.expected - 1;
  }
  SeqSink sink2;
  auto b2 = p.make(sink2, false);  // same address, new process state, new stream id
  ASSERT_TRUE(drive(*a, *b2, [&] { return sink2.seq.received >= 3000; }));
  EXPECT_EQ(a->counters().peer_restarts.get(), 1u);
  EXPECT_EQ(b2->counters().peer_restarts.get(), 0u);  // its first peer stream
  EXPECT_GE(b2->counters().challenges_tx.get(), 1u);
  EXPECT_GE(a->counters().echoes_tx.get(), 1u);
  // Nothing the old peer missed is lost: the new one starts at or before where it stopped,
  // and runs on without a gap.
  EXPECT_EQ(sink2.seq.out_of_order, 1u);
  const uint64_t first_new = sink2.seq.expected - sink2.seq.received;
  EXPECT_LE(first_new, last_old + 1);
  EXPECT_EQ(sink2.seq.corrupt, 0u);
}

TEST(Reliability, frames_from_strangers_and_malformed_frames_are_dropped_and_counted) {
  UdpPair p;
  SeqSink sink;
  SeqSource idle_src(0, 1);
  auto b = p.make(sink, false);
  RawUdp stranger;
  uint8_t junk[64] = {1, 2, 3};
  stranger.send_to(p.pb, junk, sizeof(junk));
  // From the expected peer address but not a frame: a bound socket on the peer's port.
  {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(p.pa);
    ASSERT_EQ(0, bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)));
    a.sin_port = htons(p.pb);
    sendto(fd, junk, sizeof(junk), 0, reinterpret_cast<sockaddr *>(&a), sizeof(a));
    close(fd);
  }
  for (int i = 0; i < 1000 && b->counters().malformed.get() == 0; ++i) b->run_once(proto::now_ns());
  EXPECT_EQ(b->counters().malformed.get(), 1u);
  EXPECT_EQ(b->transport().counters().rx_dropped.get(), 1u);
  EXPECT_EQ(sink.seq.received, 0u);
}

}  // namespace
}  // namespace ferry::testing
