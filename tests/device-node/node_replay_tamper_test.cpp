// Replayed, tampered, forged and malformed input is dropped and counted, never executed,
// never a crash.
#include <gtest/gtest.h>

#include <cstring>

#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::EduModel;

struct Rig : NodeRig {
  Rig() : g(bench, psk.psk(), guest_options(1)) { EXPECT_TRUE(g.connect()); }
  // Posts a liveness write and returns its record as it sits on the link.
  std::vector<uint8_t> captured_write(uint32_t v) {
    g.post_write(0, EduModel::kRegLiveness, 4, v);
    return bench.to_node.raw().back();
  }
  void inject(std::vector<uint8_t> rec) {
    bench.to_node.raw().push_back(std::move(rec));
    bench.pump();
  }
  uint32_t liveness() {
    return static_cast<uint32_t>(g.read(0, EduModel::kRegLiveness, 4).value());
  }
  TestGuest g;
};

constexpr size_t kBody = sizeof(proto::RecordHeader) + offsetof(proto::Descriptor, body);

TEST(NodeReplayTamper, replayed_descriptor_is_dropped_and_counted) {
  Rig r;
  std::vector<uint8_t> old = r.captured_write(1);
  r.bench.pump();
  r.g.write(0, EduModel::kRegLiveness, 4, 2);
  r.inject(old);  // the host replays "write 1"
  EXPECT_EQ(r.liveness(), ~2u);
  EXPECT_EQ(r.counters().replays_dropped, 1u);
}

TEST(NodeReplayTamper, tampered_body_fails_authentication_and_is_not_executed) {
  Rig r;
  std::vector<uint8_t> rec = r.captured_write(7);
  r.bench.to_node.raw().pop_back();
  rec[kBody + 8] ^= 1;  // a bit of the sealed offset
  r.inject(rec);
  EXPECT_EQ(r.counters().auth_failures, 1u);
  EXPECT_EQ(r.counters().mmio_writes, 0u);
  // Later requests wait for the genuine seq 1; when it never comes the session fails closed
  // (the read never runs past the missing write) and the guest gets a sealed kSeqGap notice.
  r.g.post_read(0, EduModel::kRegLiveness, 4);
  r.bench.advance(device::NodeOptions{}.reorder_timeout_ns);
  r.bench.pump();
  EXPECT_EQ(r.g.completion(2), nullptr);
  const proto::Descriptor *c = r.g.completion(0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->body.status, static_cast<uint8_t>(proto::Status::kSeqGap));
  EXPECT_EQ(r.counters().seq_gaps_failed, 1u);
}

TEST(NodeReplayTamper, tampered_header_fails_authentication) {
  Rig r;
  std::vector<uint8_t> rec = r.captured_write(7);
  r.bench.to_node.raw().pop_back();
  rec[sizeof(proto::RecordHeader) + offsetof(proto::DescHeader, seq)] += 5;  // another seq
  r.inject(rec);
  EXPECT_EQ(r.counters().auth_failures, 1u);
  EXPECT_EQ(r.counters().descriptors, 0u);
}

TEST(NodeReplayTamper, tampered_tag_fails_authentication) {
  Rig r;
  std::vector<uint8_t> rec = r.captured_write(7);
  r.bench.to_node.raw().pop_back();
  rec.back() ^= 0x10;
  r.inject(rec);
  EXPECT_EQ(r.counters().auth_failures, 1u);
}

TEST(NodeReplayTamper, a_forged_retransmission_of_a_read_gets_no_cached_answer) {
  Rig r;
  r.g.post_read(0, EduModel::kRegId, 4);
  std::vector<uint8_t> rec = r.bench.to_node.raw().back();
  r.bench.pump();
  const size_t received = r.g.received.size();
  rec[kBody + 1] ^= 1;  // same seq (seen), forged body
  r.inject(rec);
  EXPECT_EQ(r.g.received.size(), received);
  EXPECT_EQ(r.counters().auth_failures, 1u);
  EXPECT_EQ(r.counters().duplicates_answered_from_cache, 0u);
}

TEST(NodeReplayTamper, descriptor_of_an_old_session_is_rejected_after_a_new_handshake) {
  Rig r;
  std::vector<uint8_t> old = r.captured_write(3);
  r.bench.to_node.raw().pop_back();
  ASSERT_TRUE(r.g.connect());  // new session, new keys
  r.inject(old);
  EXPECT_EQ(r.counters().auth_failures, 1u);
  EXPECT_EQ(r.liveness(), 0u);
}

TEST(NodeReplayTamper, header_channel_must_match_the_record_channel) {
  Rig r;
  std::vector<uint8_t> rec = r.captured_write(3);
  r.bench.to_node.raw().pop_back();
  rec[4] = 9;  // the record's channel (its header is not sealed), descriptor says 1
  r.inject(rec);
  EXPECT_EQ(r.counters().malformed, 1u);
}

TEST(NodeReplayTamper, malformed_records_are_counted_and_ignored) {
  Rig r;
  const uint64_t before = r.counters().malformed;
  uint8_t junk[64];
  std::memset(junk, 0xff, sizeof(junk));
  device::DeviceNode &node = r.node;
  auto deliver = [&](proto::RecordType t, std::span<const uint8_t> p) {
    node.on_record(r.bench.from_node, proto::RecordView{t, 0, 1, p});
  };
  deliver(proto::RecordType::kDescriptor, {junk, 10});     // short
  deliver(proto::RecordType::kDescriptor, {junk, 64});     // bad version/kind
  deliver(proto::RecordType::kDmaReadReq, {junk, 16});     // wrong direction
  deliver(proto::RecordType::kDmaWrite, {junk, 64});       // wrong direction
  deliver(static_cast<proto::RecordType>(77), {junk, 8});  // unknown type
  deliver(proto::RecordType::kDmaData, {junk, 8});         // short piece
  EXPECT_EQ(r.counters().malformed - before, 6u);
  EXPECT_EQ(r.liveness(), 0u);  // the session still works
}

TEST(NodeReplayTamper, a_guest_cannot_send_device_kinds_or_bad_queues) {
  Rig r;
  for (auto kind : {proto::Kind::kCompletion, proto::Kind::kInterrupt}) {
    proto::Descriptor d{};
    d.hdr.kind = static_cast<uint8_t>(kind);
    d.hdr.channel.set(1);
    d.hdr.seq.set(r.g.next_seq(0));
    r.g.crypto().seal(proto::Dir::kGuestToDevice, d);
    r.g.send_raw(d);
  }
  proto::Descriptor d{};
  d.hdr.version = proto::kProtoVersion;
  d.hdr.kind = static_cast<uint8_t>(proto::Kind::kMmioRead);
  d.hdr.channel.set(1);
  d.hdr.queue.set(5);  // the session has one queue
  d.hdr.seq.set(1);
  r.g.send_raw(d);
  r.bench.pump();
  EXPECT_EQ(r.counters().malformed, 3u);
}

TEST(NodeReplayTamper, guest_dma_announcement_outside_the_window_is_rejected) {
  Rig r;
  proto::Descriptor d{};
  d.hdr.kind = static_cast<uint8_t>(proto::Kind::kDmaSync);
  d.hdr.channel.set(1);
  d.hdr.seq.set(r.g.next_seq(0));
  d.body.addr.set(0x1000000 + 1024ull * 4096);  // one past the last chunk
  d.body.len.set(4096);
  d.body.value.set(1);
  r.g.crypto().seal(proto::Dir::kGuestToDevice, d);
  r.g.send_raw(d);
  r.bench.pump();
  EXPECT_EQ(r.counters().malformed, 1u);
  EXPECT_EQ(r.counters().dma_syncs, 0u);
}

}  // namespace
}  // namespace ferry::testing
