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
  proto::GuestHandshake hs(rig.psk.psk(), params, 1);
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
  proto::GuestHandshake hs(rig.psk.psk(), params, 1);
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
  d.hdr.kind = static_cast<uint8_t>(proto::Kind::kMmioRead);
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
  EXPECT_THROW(make({{1, "edu", {{"chunk_size", 100}}}}), std::invalid_argument);
  device::NodeOptions o;
  o.max_piece = 1u << 20;
  EXPECT_THROW(make({{1, "edu", {}}}, o), std::invalid_argument);
  config::DeviceNodeConfig cfg = node_config({{1, "edu", {}}}, psk);
  cfg.devices[0].psk_file = "/nonexistent/psk";
  EXPECT_THROW(device::DeviceNode(cfg, *aead), std::runtime_error);
  EXPECT_NO_THROW(make({{1, "edu", {{"chunk_size", 8192}, {"n_chunks", 64}}}}));
}

}  // namespace
}  // namespace ferry::testing
