// Sessions: the handshake through the device node, rejection of wrong keys and unknown
// devices, retransmitted Hellos, and a new Hello replacing a channel's session.
#include <gtest/gtest.h>

#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::EduModel;

TEST(NodeHandshake, guest_with_the_right_psk_gets_a_session) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect()) << g.error();
  EXPECT_EQ(rig.node.session_count(), 1u);
  EXPECT_EQ(rig.counters().handshakes, 1u);
  auto s = rig.node.sessions();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].channel, 1u);
  EXPECT_EQ(s[0].device_id, 1u);
  EXPECT_EQ(s[0].model, "edu");
  EXPECT_EQ(s[0].session_id, g.crypto().session_id());
  EXPECT_EQ(g.read(0, EduModel::kRegId, 4), EduModel::kId);
}

TEST(NodeHandshake, wrong_psk_is_rejected_and_counted) {
  NodeRig rig;
  TempPsk other(0x99);
  TestGuest g(rig.bench, other.psk(), rig.guest_options(1));
  EXPECT_FALSE(g.connect());
  EXPECT_NE(g.error(), "no answer");  // a Reject came back
  EXPECT_EQ(rig.node.session_count(), 0u);
  EXPECT_EQ(rig.counters().handshake_failures, 1u);
  EXPECT_EQ(rig.counters().auth_failures, 1u);
}

TEST(NodeHandshake, unknown_device_is_rejected) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1, 77));
  EXPECT_FALSE(g.connect());
  EXPECT_EQ(rig.node.session_count(), 0u);
  EXPECT_EQ(rig.counters().handshake_failures, 1u);
}

TEST(NodeHandshake, hello_for_another_channel_than_its_route_is_rejected) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(5));
  // The Hello says channel 5 but the host routes it on channel 6.
  proto::SessionParams params;
  params.channel = 5;
  proto::GuestHandshake hs(rig.psk.psk(), params, 1, 1, proto::DmaGeometry{4096, 1024, 0x1000000});
  for (proto::Descriptor d :
       proto::handshake_fragments(6, proto::HandshakeMsg::kHello, hs.hello())) {
    rig.bench.to_node.emit(proto::RecordType::kDescriptor, 6,
                           {reinterpret_cast<const uint8_t *>(&d), sizeof(d)});
  }
  rig.bench.pump();
  EXPECT_EQ(rig.node.session_count(), 0u);
  EXPECT_EQ(rig.counters().handshake_failures, 1u);
  EXPECT_EQ(rig.bench.from_node.emitted(), 0u);  // no Accept for a session that does not exist
}

TEST(NodeHandshake, unfinished_handshakes_on_many_channels_do_not_lock_out_a_guest) {
  NodeRig rig;
  proto::SessionParams params;
  proto::GuestHandshake hs(rig.psk.psk(), params, 1, 1, proto::DmaGeometry{4096, 1024, 0x1000000});
  for (uint32_t ch = 100; ch < 400; ++ch) {
    // The first fragment of a Hello only: the message never completes.
    proto::Descriptor d =
        proto::handshake_fragments(ch, proto::HandshakeMsg::kHello, hs.hello()).front();
    rig.bench.to_node.emit(proto::RecordType::kDescriptor, ch,
                           {reinterpret_cast<const uint8_t *>(&d), sizeof(d)});
  }
  rig.bench.pump();
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect()) << g.error();
  EXPECT_EQ(g.read(0, EduModel::kRegId, 4), EduModel::kId);
}

TEST(NodeHandshake, retransmitted_hello_gets_the_same_accept_and_keeps_the_session) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect()) << g.error();
  g.write(0, EduModel::kRegLiveness, 4, 0x55);
  g.resend_hello();
  ASSERT_EQ(g.answers.size(), 2u);
  EXPECT_EQ(g.answers[0], g.answers[1]);
  EXPECT_EQ(rig.counters().handshakes, 1u);
  EXPECT_EQ(rig.counters().handshake_retransmits, 1u);
  EXPECT_EQ(rig.node.session_count(), 1u);
  EXPECT_EQ(g.read(0, EduModel::kRegLiveness, 4), ~0x55u);  // same keys, same device
}

TEST(NodeHandshake, new_hello_replaces_the_session_with_fresh_keys_and_a_reset_device) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  const uint32_t first_id = g.crypto().session_id();
  g.write(0, EduModel::kRegLiveness, 4, 0x1234);
  EXPECT_EQ(g.read(0, EduModel::kRegLiveness, 4), ~0x1234u);
  ASSERT_TRUE(g.connect());  // a restarted guest on the same channel
  EXPECT_NE(g.crypto().session_id(), first_id);
  EXPECT_EQ(rig.counters().sessions_replaced, 1u);
  EXPECT_EQ(rig.node.session_count(), 1u);
  EXPECT_EQ(g.read(0, EduModel::kRegLiveness, 4), 0u);  // fresh model: nothing carried over
}

TEST(NodeHandshake, duplicated_hello_fragments_are_tolerated) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  rig.bench.to_node.duplicate_next(2);
  ASSERT_TRUE(g.connect()) << g.error();
  EXPECT_EQ(rig.node.session_count(), 1u);
  EXPECT_EQ(g.read(0, EduModel::kRegId, 4), EduModel::kId);
}

TEST(NodeHandshake, requests_before_any_handshake_are_counted_as_without_session) {
  NodeRig rig;
  proto::Descriptor d{};
  d.hdr.version = proto::kProtoVersion;
  d.hdr.kind = static_cast<uint8_t>(proto::Kind::kSealed);  // as a sealed one on the wire
  d.hdr.channel.set(3);
  d.hdr.seq.set(1);
  rig.bench.to_node.emit(proto::RecordType::kDescriptor, 3,
                         {reinterpret_cast<const uint8_t *>(&d), sizeof(d)});
  rig.bench.pump();
  EXPECT_EQ(rig.counters().no_session, 1u);
  EXPECT_EQ(rig.bench.from_node.emitted(), 0u);
}

TEST(NodeHandshake, max_sessions_bounds_the_sessions) {
  auto cfg_devices = edu_and_accel();
  TempPsk psk(0x42);
  auto aead = proto::Aead::create_best();
  config::DeviceNodeConfig cfg = node_config(cfg_devices, psk);
  cfg.max_sessions = 2;
  device::DeviceNode node(cfg, *aead);
  TestBench bench(node);
  TestGuest::Options o;
  std::vector<std::unique_ptr<TestGuest>> guests;
  for (uint32_t ch = 1; ch <= 3; ++ch) {
    o.channel = ch;
    guests.push_back(std::make_unique<TestGuest>(bench, psk.psk(), o));
  }
  EXPECT_TRUE(guests[0]->connect());
  EXPECT_TRUE(guests[1]->connect());
  EXPECT_FALSE(guests[2]->connect());
  EXPECT_EQ(node.session_count(), 2u);
  EXPECT_EQ(node.counters().sessions_refused, 1u);
}

TEST(NodeHandshake, configuration_problems_throw_at_construction) {
  TempPsk psk(1);
  auto aead = proto::Aead::create_best();
  auto make = [&](std::vector<TestDevice> devs, device::NodeOptions o = {}) {
    device::DeviceNode n(node_config(devs, psk), *aead, o);
  };
  EXPECT_THROW(make({}), std::invalid_argument);
  EXPECT_THROW(make({{1, "gpu", {}}}), std::invalid_argument);
  EXPECT_THROW(make({{1, "edu", {{"colour", 1}}}}), std::invalid_argument);
  EXPECT_THROW(make({{1, "edu", {}}, {1, "accel", {}}}), std::invalid_argument);
  // The DMA geometry is the guest's (its Hello), no longer a device parameter.
  EXPECT_THROW(make({{1, "edu", {{"chunk_size", 8192}}}}), std::invalid_argument);
  device::NodeOptions o;
  o.max_piece = 1u << 20;
  EXPECT_THROW(make({{1, "edu", {}}}, o), std::invalid_argument);
  o = {};
  o.max_chunks = 0;
  EXPECT_THROW(make({{1, "edu", {}}}, o), std::invalid_argument);
  config::DeviceNodeConfig cfg = node_config({{1, "edu", {}}}, psk);
  cfg.devices[0].guests[0].psk_file = "/nonexistent/psk";
  EXPECT_THROW(device::DeviceNode(cfg, *aead), std::runtime_error);
  cfg = node_config({{1, "edu", {}}}, psk);
  cfg.devices[0].guests.clear();
  EXPECT_THROW(device::DeviceNode(cfg, *aead), std::invalid_argument);
  cfg = node_config({{1, "edu", {}}}, psk);
  cfg.devices[0].guests.push_back(cfg.devices[0].guests[0]);
  EXPECT_THROW(device::DeviceNode(cfg, *aead), std::invalid_argument);
}

// --- key confirmation, replayed Hellos, reaping (issue 14.4) ------------------------------

// The host records a Hello and replays it later: descriptors of kHandshake are not sealed.
void replay(TestBench &bench, uint32_t channel, const std::vector<proto::Descriptor> &hello) {
  for (const proto::Descriptor &d : hello) {
    bench.to_node.emit(proto::RecordType::kDescriptor, channel,
                       {reinterpret_cast<const uint8_t *>(&d), sizeof(d)});
  }
  bench.pump();
}

TEST(NodeHandshake, a_replayed_old_hello_neither_displaces_the_live_session_nor_resets_the_device) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  const std::vector<proto::Descriptor> old_hello = g.hello_fragments();
  ASSERT_TRUE(g.connect());  // the guest reopened: a new live session
  const uint32_t live_id = g.crypto().session_id();
  g.write(0, EduModel::kRegLiveness, 4, 0x1234);
  replay(rig.bench, 1, old_hello);
  EXPECT_EQ(rig.counters().sessions_replaced, 1u);  // the reopen only
  EXPECT_EQ(rig.node.session_count(), 1u);
  ASSERT_EQ(rig.node.sessions().size(), 1u);
  EXPECT_EQ(rig.node.sessions()[0].session_id, live_id);
  EXPECT_EQ(g.read(0, EduModel::kRegLiveness, 4), ~0x1234u);  // same keys, same device state
  // Never confirmed, the replay's pending session is reaped.
  rig.bench.advance(device::NodeOptions{}.confirm_timeout_ns);
  rig.bench.pump();
  EXPECT_EQ(rig.counters().pending_expired, 1u);
  EXPECT_EQ(g.read(0, EduModel::kRegLiveness, 4), ~0x1234u);
}

TEST(NodeHandshake, alternating_recorded_hellos_cost_a_bounded_number_of_key_exchanges) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  const auto a = g.hello_fragments();
  ASSERT_TRUE(g.connect());
  const auto b = g.hello_fragments();
  ASSERT_TRUE(g.connect());
  g.write(0, EduModel::kRegLiveness, 4, 7);
  const uint64_t work_before = rig.counters().handshake_work;
  for (int i = 0; i < 200; ++i) replay(rig.bench, 1, i % 2 ? a : b);
  const device::NodeCounters c = rig.counters();
  EXPECT_EQ(c.handshakes, 3u);  // sessions established: the guest's three, no replay
  // At most a burst of key exchanges; the rest throttled or answered as retransmissions.
  EXPECT_LE(c.handshake_work - work_before, device::NodeOptions{}.handshake_burst);
  EXPECT_GT(c.handshakes_throttled, 0u);
  EXPECT_EQ(g.read(0, EduModel::kRegLiveness, 4), ~7u);
  // The bucket refills with time: a genuine reopen a second later goes through.
  rig.bench.advance(1'000'000'000);
  rig.bench.pump();  // the node learns the time from its poll
  ASSERT_TRUE(g.connect()) << g.error();
  EXPECT_EQ(g.read(0, EduModel::kRegId, 4), EduModel::kId);
}

TEST(NodeHandshake, a_hello_replayed_on_another_lane_leaves_no_session_that_uses_up_max_sessions) {
  // Lane 1 and lane 2 run one node each (the same devices and keys). The host replays a
  // Hello recorded on lane 1 into lane 2, whose max_sessions is 1.
  NodeRig lane1;
  auto devs = edu_and_accel();
  auto aead = proto::Aead::create_best();
  config::DeviceNodeConfig cfg = node_config(devs, lane1.psk);
  cfg.max_sessions = 1;
  device::DeviceNode node2(cfg, *aead);
  TestBench lane2(node2);
  TestGuest g1(lane1.bench, lane1.psk.psk(), lane1.guest_options(1));
  ASSERT_TRUE(g1.connect());
  replay(lane2, 1, g1.hello_fragments());
  EXPECT_EQ(node2.session_count(), 0u);  // pending, not a session
  TestGuest g2(lane2, lane1.psk.psk(), lane1.guest_options(2));
  ASSERT_TRUE(g2.connect()) << g2.error();
  EXPECT_EQ(g2.read(0, EduModel::kRegId, 4), EduModel::kId);
  lane2.advance(device::NodeOptions{}.confirm_timeout_ns);
  lane2.pump();
  EXPECT_EQ(node2.counters().pending_expired, 1u);
  EXPECT_EQ(node2.session_count(), 1u);
}

TEST(NodeHandshake, a_session_is_live_only_after_the_guests_confirm) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect_unconfirmed()) << g.error();
  EXPECT_EQ(rig.node.session_count(), 0u);
  EXPECT_EQ(rig.node.model(rig.bench.from_node, 1), nullptr);
  // A forged Confirm (here: one byte off) does not make it live.
  proto::Descriptor bad =
      proto::handshake_fragments(1, proto::HandshakeMsg::kConfirm, std::vector<uint8_t>(40, 1))[0];
  g.send_raw(bad);
  rig.bench.pump();
  EXPECT_EQ(rig.counters().confirms_bad, 1u);
  EXPECT_EQ(rig.node.session_count(), 0u);
  g.confirm();
  EXPECT_EQ(rig.node.session_count(), 1u);
  EXPECT_EQ(g.read(0, EduModel::kRegId, 4), EduModel::kId);
}

TEST(NodeHandshake, an_idle_session_is_reaped_after_the_idle_timeout) {
  device::NodeOptions o;
  o.idle_timeout_ns = 2'000'000'000;
  NodeRig rig(edu_and_accel(), o);
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  rig.bench.advance(1'500'000'000);
  EXPECT_EQ(g.read(0, EduModel::kRegId, 4), EduModel::kId);  // traffic keeps it alive
  rig.bench.advance(1'500'000'000);
  rig.bench.pump();
  EXPECT_EQ(rig.node.session_count(), 1u);
  rig.bench.advance(1'000'000'000);
  rig.bench.pump();
  EXPECT_EQ(rig.node.session_count(), 0u);
  EXPECT_EQ(rig.counters().sessions_idle_reaped, 1u);
}

// --- per-guest keys (issue 14.6) ------------------------------------------------------------

TEST(NodeHandshake, each_guest_authenticates_with_its_own_psk_only) {
  TempPsk psk1(0x11), psk2(0x22);
  config::DeviceNodeConfig cfg = node_config({{1, "edu", {}}}, psk1);
  cfg.devices[0].guests.push_back({2, psk2.path()});
  auto aead = proto::Aead::create_best();
  device::DeviceNode node(cfg, *aead);
  TestBench bench(node);
  TestGuest::Options o;
  o.guest_id = 2;
  TestGuest g2(bench, psk2.psk(), o);
  ASSERT_TRUE(g2.connect()) << g2.error();
  // Guest 2's key does not pass for guest 1 (and so cannot answer for the device to guest 1).
  o.channel = 2;
  o.guest_id = 1;
  TestGuest impostor(bench, psk2.psk(), o);
  EXPECT_FALSE(impostor.connect());
  EXPECT_NE(impostor.error().find("rejected"), std::string::npos) << impostor.error();
  o.guest_id = 3;  // a guest the device does not list
  o.channel = 3;
  TestGuest unknown(bench, psk2.psk(), o);
  EXPECT_FALSE(unknown.connect());
  EXPECT_EQ(node.session_count(), 1u);
}

}  // namespace
}  // namespace ferry::testing
