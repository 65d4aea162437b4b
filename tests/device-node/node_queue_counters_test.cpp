// The device node's counters per session and queue (DeviceNode::visit_stats): each queue
// counts its own descriptors, completions, authentication failures, replays, reply-cache
// answers and the service time of its reads; a session reports its queues and its DMA.
#include <gtest/gtest.h>

#include <map>

#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::EduModel;
using device::QueueCounters;
using device::SessionStats;

struct Collected : device::StatsVisitor {
  std::vector<SessionStats> sessions;
  std::map<std::pair<uint32_t, uint16_t>, QueueCounters> queues;  // (channel, queue)
  void session(const SessionStats &s) override { sessions.push_back(s); }
  void queue(const SessionStats &s, uint16_t q, const QueueCounters &c) override {
    queues[{s.channel, q}] = c;
  }
};

Collected collect(const device::DeviceNode &node) {
  Collected c;
  node.visit_stats(c);
  return c;
}

struct Rig : NodeRig {
  Rig() : g(bench, psk.psk(), two_queues()) { EXPECT_TRUE(g.connect()) << g.error(); }
  TestGuest::Options two_queues() const {
    TestGuest::Options o = guest_options(1);
    o.n_queues = 2;
    return o;
  }
  TestGuest g;
};

TEST(NodeQueueCounters, each_queue_counts_its_own_descriptors_completions_and_read_times) {
  Rig r;
  for (int i = 0; i < 5; ++i) ASSERT_EQ(r.g.read(0, EduModel::kRegId, 4, 0), 0x010000edu);
  for (uint32_t v = 1; v <= 3; ++v) r.g.write(0, EduModel::kRegLiveness, 4, v, 1);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(r.g.read(0, EduModel::kRegLiveness, 4, 1), ~3u);

  Collected c = collect(r.node);
  ASSERT_EQ(c.sessions.size(), 1u);
  EXPECT_EQ(c.sessions[0].channel, 1u);
  EXPECT_EQ(c.sessions[0].device_id, 1u);
  EXPECT_EQ(c.sessions[0].n_queues, 2u);
  ASSERT_EQ(c.queues.size(), 2u);
  const QueueCounters &q0 = c.queues[{1, 0}], &q1 = c.queues[{1, 1}];
  EXPECT_EQ(q0.descriptors, 5u);
  EXPECT_EQ(q0.executed, 5u);
  EXPECT_EQ(q0.completions, 5u);
  EXPECT_EQ(q0.sent, 5u);
  EXPECT_EQ(q0.service_ns.count(), 5u);
  EXPECT_GT(q0.service_ns.quantile_upper_ns(0.5), 0u);
  EXPECT_EQ(q1.descriptors, 5u);
  EXPECT_EQ(q1.executed, 5u);
  EXPECT_EQ(q1.completions, 2u);
  EXPECT_EQ(q1.service_ns.count(), 2u);  // writes are posted: no completion, no sample
  for (const QueueCounters *q : {&q0, &q1}) {
    EXPECT_EQ(q->auth_failures, 0u);
    EXPECT_EQ(q->replays_dropped, 0u);
    EXPECT_EQ(q->cache_replies, 0u);
  }
}

TEST(NodeQueueCounters, a_tampered_descriptor_is_an_auth_failure_of_its_own_queue) {
  Rig r;
  r.g.post_write(0, EduModel::kRegLiveness, 4, 9, 1);
  std::vector<uint8_t> rec = r.bench.to_node.raw().back();
  r.bench.to_node.raw().pop_back();
  rec.back() ^= 0x10;  // a bit of the tag
  r.bench.to_node.raw().push_back(rec);
  r.bench.pump();
  Collected c = collect(r.node);
  EXPECT_EQ((c.queues[{1, 1}].auth_failures), 1u);
  EXPECT_EQ((c.queues[{1, 1}].descriptors), 0u);
  EXPECT_EQ((c.queues[{1, 0}].auth_failures), 0u);
  EXPECT_EQ(r.counters().auth_failures, 1u);  // the session's total agrees
}

TEST(NodeQueueCounters, replays_and_reply_cache_answers_count_on_their_queue) {
  Rig r;
  r.bench.to_node.duplicate_next();
  r.g.write(0, EduModel::kRegLiveness, 4, 5, 1);  // a duplicated posted write: a replay
  r.bench.to_node.duplicate_next();
  ASSERT_EQ(r.g.read(0, EduModel::kRegLiveness, 4, 1), ~5u);  // a duplicated read: the cache
  r.bench.pump();
  Collected c = collect(r.node);
  const QueueCounters &q1 = c.queues[{1, 1}];
  EXPECT_EQ(q1.replays_dropped, 1u);
  EXPECT_EQ(q1.cache_replies, 1u);
  EXPECT_EQ(q1.executed, 2u);  // each ran once
  EXPECT_EQ((c.queues[{1, 0}].replays_dropped), 0u);
  EXPECT_EQ((c.queues[{1, 0}].cache_replies), 0u);
}

TEST(NodeQueueCounters, a_session_reports_its_dma_and_a_new_session_starts_from_zero) {
  Rig r;
  edu_dma(r.g, EduModel::kDmaBufferAddr, r.g.options().dma_base, 64,
          EduModel::kDmaCmdStart | EduModel::kDmaCmdToRam);
  r.bench.pump();
  Collected c = collect(r.node);
  ASSERT_EQ(c.sessions.size(), 1u);
  EXPECT_EQ(c.sessions[0].counters->dma_chunks_written, 1u);
  const uint32_t first = c.sessions[0].session_id;

  TestGuest again(r.bench, r.psk.psk(), r.two_queues());  // the same channel: replaces it
  ASSERT_TRUE(again.connect()) << again.error();
  ASSERT_EQ(again.read(0, EduModel::kRegId, 4, 1), 0x010000edu);
  c = collect(r.node);
  ASSERT_EQ(c.sessions.size(), 1u);
  EXPECT_NE(c.sessions[0].session_id, first);
  EXPECT_EQ(c.sessions[0].counters->dma_chunks_written, 0u);
  EXPECT_EQ((c.queues[{1, 0}].descriptors), 0u);
  EXPECT_EQ((c.queues[{1, 1}].descriptors), 1u);
}

}  // namespace
}  // namespace ferry::testing
