// A guest that rekeys (session.h, docs/protocol.md "Rekeying") against the real device node:
// every request runs exactly once across many epochs, the node's answers follow the guest's
// epochs, a duplicate inside the overlap still gets its cached answer, and a request replayed
// once its epoch's key is gone is dropped as a replay, never executed. The previous key goes
// on its timer, with no traffic; an answer the node cannot seal (its rekey step fails) is
// counted and never sent.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "kdf_outage.h"
#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::EduModel;

TEST(NodeRekey, requests_run_exactly_once_across_epochs_and_answers_follow_the_guest) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.crypto().set_rekey({.after_messages = 16});
  for (uint32_t i = 0; i < 200; ++i) {
    g.write(0, EduModel::kRegLiveness, 4, i * 7919u);
    ASSERT_EQ(g.read(0, EduModel::kRegLiveness, 4), ~(i * 7919u) & 0xffffffffu) << i;
  }
  const device::NodeCounters c = rig.counters();
  EXPECT_EQ(c.mmio_writes, 200u);
  EXPECT_EQ(c.mmio_reads, 200u);
  EXPECT_EQ(c.rekeys_rx, 400u / 16 - 1);  // 400 descriptors, 16 per epoch, from epoch 0
  EXPECT_EQ(c.rekeys_tx, c.rekeys_rx);    // one answer per read: the node caught up
  EXPECT_EQ(g.crypto().rekey_stats().rx_rekeys, c.rekeys_tx);
  EXPECT_EQ(c.auth_failures, 0u);
  EXPECT_EQ(c.epoch_rejects, 0u);
  EXPECT_EQ(g.auth_failures, 0u);
}

TEST(NodeRekey, a_duplicate_arriving_after_the_switch_is_answered_from_the_cache) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.crypto().set_rekey({.after_messages = 16});
  for (int i = 0; i < 15; ++i) g.write(0, EduModel::kRegLiveness, 4, 1);
  // The last descriptor of epoch 0, a read; its copy arrives after epoch 1 began.
  proto::Descriptor read{};
  read.hdr.kind = static_cast<uint8_t>(proto::Kind::kMmioRead);
  read.hdr.channel.set(g.channel());
  const uint64_t seq = g.next_seq(0);
  read.hdr.seq.set(seq);
  read.body.kind = read.hdr.kind;
  read.body.size = 4;
  read.body.offset.set(EduModel::kRegLiveness);
  ASSERT_EQ(g.crypto().seal(proto::Dir::kGuestToDevice, read), proto::Status::kOk);
  ASSERT_EQ(proto::seq_key_epoch(read.hdr.seq.get()), 0u);
  g.send_raw(read);
  rig.bench.pump();
  g.write(0, EduModel::kRegLiveness, 4, 2);  // epoch 1
  rig.bench.pump();
  ASSERT_EQ(rig.counters().rekeys_rx, 1u);
  g.send_raw(read);
  rig.bench.pump();
  const device::NodeCounters c = rig.counters();
  EXPECT_EQ(c.duplicates_answered_from_cache, 1u);
  EXPECT_EQ(c.mmio_reads, 1u);
  EXPECT_EQ(c.mmio_writes, 16u);
  EXPECT_EQ(c.auth_failures, 0u);
  ASSERT_NE(g.completion(seq), nullptr);
  EXPECT_EQ(g.completion(seq)->body.value.get(), ~uint64_t{1} & 0xffffffffu);
}

TEST(NodeRekey, a_request_replayed_after_its_epoch_key_is_gone_is_a_replay_and_does_not_run) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.crypto().set_rekey({.after_messages = 16});
  // A sealed factorial start of epoch 0, as a host on the path would have recorded it.
  proto::Descriptor old{};
  old.hdr.kind = static_cast<uint8_t>(proto::Kind::kMmioWrite);
  old.hdr.channel.set(g.channel());
  old.hdr.seq.set(g.next_seq(0));
  old.body.kind = old.hdr.kind;
  old.body.size = 4;
  old.body.offset.set(EduModel::kRegFactorial);
  old.body.value.set(5);
  ASSERT_EQ(g.crypto().seal(proto::Dir::kGuestToDevice, old), proto::Status::kOk);
  g.send_raw(old);
  rig.bench.advance(1'000'000);
  rig.bench.pump();
  ASSERT_EQ(g.read(0, EduModel::kRegFactorial, 4), 120u);
  // Three more epochs: epoch 0's key is wiped at the device.
  for (int i = 0; i < 3 * 16; ++i) g.write(0, EduModel::kRegLiveness, 4, 1);
  rig.bench.pump();
  const device::NodeCounters before = rig.counters();
  ASSERT_GE(before.rekeys_rx, 2u);
  g.send_raw(old);
  rig.bench.advance(1'000'000);
  rig.bench.pump();
  const device::NodeCounters after = rig.counters();
  EXPECT_EQ(after.replays_dropped, before.replays_dropped + 1);
  EXPECT_EQ(after.auth_failures, before.auth_failures);
  EXPECT_EQ(after.mmio_writes, before.mmio_writes);
  EXPECT_EQ(rig.edu(g)->factorials_started(), 1u);
}

TEST(NodeRekey, the_previous_key_is_wiped_when_its_overlap_time_ends_with_no_traffic) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.crypto().set_rekey({.after_messages = 4});
  for (int i = 0; i < 5; ++i) g.write(0, EduModel::kRegLiveness, 4, 1);  // the 5th: epoch 1
  ASSERT_EQ(rig.counters().rekeys_rx, 1u);
  rig.node.poll(rig.bench.now_ns);
  EXPECT_EQ(rig.counters().old_keys_wiped, 0u);  // inside the overlap: still held
  // Nothing arrives any more; only the node's loop runs once the overlap (1 s) is over.
  std::this_thread::sleep_for(proto::RekeyPolicy{}.overlap_ns * std::chrono::nanoseconds(1) +
                              std::chrono::milliseconds(100));
  rig.bench.advance(1'000'000);
  rig.node.poll(rig.bench.now_ns);
  EXPECT_EQ(rig.counters().old_keys_wiped, 1u) << "epoch 0's key outlived its overlap";
}

TEST(NodeRekey, an_answer_that_cannot_be_sealed_is_not_sent_and_is_counted) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  g.crypto().set_rekey({.after_messages = 4});
  constexpr uint32_t kMarker = 0x5ec7e7;
  for (int i = 0; i < 5; ++i) g.write(0, EduModel::kRegLiveness, 4, kMarker);  // guest: epoch 1
  ASSERT_EQ(rig.counters().rekeys_rx, 1u);
  const size_t received = g.received.size();
  {
    KdfOutage outage;  // the node's answer needs its step to epoch 1: it cannot derive it
    EXPECT_FALSE(g.read(0, EduModel::kRegLiveness, 4).has_value());
  }
  EXPECT_EQ(rig.counters().seal_failures, 1u);
  EXPECT_EQ(rig.counters().completions, 0u);
  for (size_t i = received; i < g.received.size(); ++i)
    EXPECT_NE(g.received[i].body.value.get(), ~kMarker) << "the answer left the node in clear";
  EXPECT_EQ(g.received.size(), received) << "a descriptor that could not be sealed was sent";
  // With the KDF back, the next read is answered, sealed, in epoch 1.
  EXPECT_EQ(g.read(0, EduModel::kRegLiveness, 4), ~kMarker);
  EXPECT_EQ(rig.counters().rekeys_tx, 1u);
  EXPECT_EQ(g.auth_failures, 0u);
}

}  // namespace
}  // namespace ferry::testing
