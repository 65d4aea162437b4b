// Link resets cost transport state, never more, and only when the peer proves it: the engine
// takes a new frame stream only after its sender echoes a challenge nonce, so one forged
// datagram (FCS recomputed, the peer's source address forged through a raw socket) neither
// resets nor wedges a running stream; and a stream that stopped moving (its sender gave up on
// frames we never got) is resynchronised by the progress watchdog. Real kernel UDP on
// loopback; the forgeries are real datagrams.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine_test_util.h"
#include "ferry/proto/frame.h"
#include "require.h"
#include "seq_handlers.h"
#include "spoof_udp.h"

namespace ferry::testing {
namespace {

using Kind = engine::TransportOptions::Kind;

// A frame as the attacker builds it: header fields of its choice, records, a correct FCS.
std::vector<uint8_t> forged_frame(uint8_t flags, uint32_t stream_id, uint64_t seq, uint64_t ack,
                                  uint64_t record_seq) {
  std::vector<uint8_t> buf(512);
  proto::FrameWriter w{std::span<uint8_t>(buf.data(), buf.size() - proto::kFrameFcsSize)};
  w.reset();
  if (record_seq != 0) {
    uint8_t record[kSeqRecordSize];
    fill_seq_record(record, record_seq);
    uint8_t *p = w.append(proto::RecordType::kDescriptor, 1, kSeqRecordSize);
    std::memcpy(p, record, sizeof(record));
  }
  size_t n = w.finish(flags, stream_id, seq, ack);
  n = proto::frame_put_fcs(buf.data(), n, proto::frame_records_crc({buf.data(), n}));
  buf.resize(n);
  return buf;
}

// Before: the receiver dropped its window for the new stream id and then expected seq 1 from
// a sender that kept its numbering - the stream never moved again (and with the old reset
// flag, the peer's sessions were dropped).
TEST(LinkReset, a_forged_frame_of_a_new_stream_neither_resets_nor_wedges_the_stream) {
  FERRY_REQUIRE(running_as_root(), "forging a source address needs a raw socket (root)");
  UdpPair p;
  SeqSource src(20000, 1);
  SeqSink sink;
  auto a = p.make(src, true);
  auto b = p.make(sink, false);
  ASSERT_TRUE(drive(*a, *b, [&] { return sink.seq.received >= 2000; }));
  const uint32_t forged_stream = a->stream_id() ^ 0x5a5a5a5a;
  const engine::EngineCounters &c = b->counters();
  const uint64_t foreign = c.foreign_frames.get(), discarded = c.frames_discarded.get();
  const uint64_t challenges = c.challenges_tx.get(), refused = c.echoes_refused.get();
  // A data frame that would start a new stream at seq 1, and an ack-only frame of it.
  ASSERT_TRUE(spoof_udp_loopback(p.pa, p.pb, forged_frame(0, forged_stream, 1, 0, 777)));
  ASSERT_TRUE(
      spoof_udp_loopback(p.pa, p.pb, forged_frame(proto::kFrameAckOnly, forged_stream, 0, 0, 0)));
  ASSERT_TRUE(drive(*a, *b, [&] { return sink.seq.received == 20000 && a->in_flight() == 0; }))
      << "the stream stopped at " << sink.seq.received;
  EXPECT_TRUE(sink.seq.clean()) << "the forged record or a gap reached the handler";
  EXPECT_EQ(c.foreign_frames.get() - foreign, 2u);
  EXPECT_EQ(c.peer_restarts.get(), 0u);
  EXPECT_EQ(c.frames_discarded.get() - discarded, 0u);
  // The challenge went to the genuine sender, which answered for its own stream: refused.
  EXPECT_GE(c.challenges_tx.get() - challenges, 1u);
  EXPECT_GE(c.echoes_refused.get() - refused, 1u);
}

// A forged ack (the attacker reads the receiver's stream id on the path) makes the sender give
// up on a frame the receiver never got. Before: the receiver waited for it for ever. Now the
// watchdog challenges the stream, the echo says where the sender stands, and the receiver
// moves past the lost frame: the layer above sees one gap (sessions detect it), then the
// stream runs again.
TEST(LinkReset, a_stream_that_stopped_moving_is_resynchronised_by_the_watchdog) {
  FERRY_REQUIRE(running_as_root(), "forging a source address needs a raw socket (root)");
  UdpPair p;
  p.ca.max_retransmit_us = p.cb.max_retransmit_us = 10000;  // the watchdog waits 2x this
  SeqSource src(UINT32_MAX, 1);
  SeqSink sink;
  auto a = p.make(src, true);
  auto b = p.make(sink, false);
  ASSERT_TRUE(drive(*a, *b, [&] { return sink.seq.received >= 2000; }));
  a->transport().set_test_drops(1, 0, 0);  // the next frame a sends is lost
  a->run_once(proto::now_ns());
  const uint64_t sent = a->counters().frames_tx.get();  // a's last sequence number
  ASSERT_TRUE(spoof_udp_loopback(p.pb, p.pa,
                                 forged_frame(proto::kFrameAckOnly, b->stream_id(), 0, sent, 0)));
  const uint64_t at_attack = sink.seq.received;
  ASSERT_TRUE(drive(*a, *b, [&] { return sink.seq.received >= at_attack + 5000; }))
      << "the stream stayed stopped at " << sink.seq.received;
  EXPECT_EQ(b->counters().resyncs.get(), 1u);
  EXPECT_EQ(sink.seq.out_of_order, 1u);  // the records of the lost frame: one gap
  EXPECT_EQ(sink.seq.corrupt, 0u);
  EXPECT_EQ(b->counters().peer_restarts.get(), 0u);
}

// A flood of strangers' streams costs at most one challenge per retransmit interval.
TEST(LinkReset, a_flood_of_forged_streams_gets_a_bounded_number_of_challenges) {
  FERRY_REQUIRE(running_as_root(), "forging a source address needs a raw socket (root)");
  UdpPair p;
  p.cb.retransmit_us = 50000;  // one challenge per 50 ms at most
  SeqSink sink;
  auto b = p.make(sink, false);
  const uint64_t start = proto::now_ns();
  for (uint32_t i = 1; i <= 200; ++i) {
    ASSERT_TRUE(spoof_udp_loopback(p.pa, p.pb, forged_frame(0, 0x1000 + i, 1, 0, i)));
    b->run_once(proto::now_ns());
  }
  for (int i = 0; i < 1000; ++i) b->run_once(proto::now_ns());
  const uint64_t elapsed_ms = (proto::now_ns() - start) / 1000000;
  EXPECT_EQ(b->counters().foreign_frames.get(), 200u);
  EXPECT_LE(b->counters().challenges_tx.get(), 1 + elapsed_ms / 50);
  EXPECT_EQ(sink.seq.received, 0u);
}

}  // namespace
}  // namespace ferry::testing
