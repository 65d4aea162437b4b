// The data plane's counters per guest queue (HostRelay::queue_counters) and per region: the
// real relay alone for ring-full events and per-queue counts of sealed descriptors (whose kind
// it cannot see), and with the guest shim and a real device node for what a driver's reads,
// writes and DMA add up to on each queue.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <cstring>
#include <map>

#include "edu_ops.h"
#include "fake_link.h"
#include "guest_fixture.h"
#include "relay/host_region.h"
#include "relay/host_relay.h"

namespace ferry {
namespace {

using dataplane::HostRegion;
using dataplane::HostRelay;
using dataplane::RelayQueueCounters;
using proto::Descriptor;
using proto::Kind;
using proto::RecordType;
using testing::EduModel;

config::GuestRegion small_region() {
  config::GuestRegion r;
  r.path = testing::scratch_path("region");
  r.channel = 7;
  r.n_queues = 2;
  r.ring_slots = 8;
  r.chunk_size = 256;
  r.n_chunks = 16;
  r.dma_base = 0x100000;
  return r;
}

// A descriptor as the relay sees it: on the wire a sealed one says kSealed, whatever it carries.
Descriptor desc(Kind kind, uint16_t queue, uint64_t seq) {
  Descriptor d{};
  d.hdr.version = proto::kProtoVersion;
  d.hdr.kind = static_cast<uint8_t>(kind);
  d.hdr.queue.set(queue);
  d.hdr.channel.set(7);
  d.hdr.seq.set(seq);
  return d;
}

bool deliver(HostRelay &relay, const Descriptor &d, testing::FakeLink &out) {
  return relay.on_record(
      {RecordType::kDescriptor, 0, 7,
       std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&d), sizeof(d))},
      out);
}

TEST(RelayQueueCounters, a_full_completion_ring_counts_on_its_own_queue) {
  HostRegion region(small_region());
  HostRelay relay(region);
  testing::FakeLink out;
  for (uint64_t s = 1; s <= 8; ++s) ASSERT_TRUE(deliver(relay, desc(Kind::kSealed, 1, s), out));
  EXPECT_FALSE(deliver(relay, desc(Kind::kSealed, 1, 9), out));  // 8 slots: full
  EXPECT_FALSE(deliver(relay, desc(Kind::kSealed, 1, 9), out));
  EXPECT_EQ(relay.queue_counters(1).cq_full, 2u);
  EXPECT_EQ(relay.queue_counters(1).to_guest, 8u);
  EXPECT_EQ(relay.queue_counters(0).cq_full, 0u);
  EXPECT_EQ(relay.queue_counters(0).to_guest, 0u);
}

TEST(RelayQueueCounters, a_link_that_refuses_leaves_a_backlog_on_that_queue) {
  HostRegion region(small_region());
  HostRelay relay(region);
  proto::RingProducer sq0(region.sq(0), 8), sq1(region.sq(1), 8);
  for (uint64_t s = 1; s <= 4; ++s) ASSERT_EQ(sq0.push(desc(Kind::kSealed, 0, s)), 1);
  testing::FakeLink narrow(2);
  EXPECT_EQ(relay.poll_submissions(narrow, 32), 2);
  EXPECT_EQ(relay.queue_counters(0).sq_backlog, 1u);
  EXPECT_EQ(relay.queue_counters(0).to_device, 2u);
  EXPECT_EQ(relay.queue_counters(0).sq_drains, 1u);
  narrow.drain([](const proto::RecordView &) { return true; });
  ASSERT_EQ(sq1.push(desc(Kind::kSealed, 1, 1)), 1);
  // q0's pending one goes first, then q0's last; the link is full again when q1's turn comes.
  EXPECT_EQ(relay.poll_submissions(narrow, 32), 2);
  EXPECT_EQ(relay.queue_counters(0).sq_backlog, 1u);
  EXPECT_EQ(relay.queue_counters(1).sq_backlog, 1u);
  narrow.drain([](const proto::RecordView &) { return true; });
  EXPECT_EQ(relay.poll_submissions(narrow, 32), 1);
  EXPECT_EQ(relay.queue_counters(0).to_device, 4u);
  EXPECT_EQ(relay.queue_counters(1).to_device, 1u);
  EXPECT_EQ(relay.counters().sq_descriptors, 5u);
}

TEST(RelayQueueCounters, sealed_descriptors_count_on_their_queue_each_way) {
  HostRegion region(small_region());
  HostRelay relay(region);
  proto::RingProducer sq0(region.sq(0), 8), sq1(region.sq(1), 8);
  testing::FakeLink out;
  // Reads, writes and syncs look the same to the relay: three sealed descriptors.
  for (uint64_t s = 1; s <= 3; ++s) ASSERT_EQ(sq0.push(desc(Kind::kSealed, 0, s)), 1);
  ASSERT_EQ(sq1.push(desc(Kind::kSealed, 1, 1)), 1);
  ASSERT_EQ(sq0.push(desc(Kind::kHandshake, 0, 1)), 1);  // a new session: forwarded the same
  ASSERT_EQ(relay.poll_submissions(out, 32), 5);
  EXPECT_EQ(relay.queue_counters(0).to_device, 4u);
  EXPECT_EQ(relay.queue_counters(1).to_device, 1u);
  ASSERT_TRUE(deliver(relay, desc(Kind::kSealed, 0, 1), out));
  ASSERT_TRUE(deliver(relay, desc(Kind::kSealed, 1, 1), out));
  ASSERT_TRUE(deliver(relay, desc(Kind::kSealed, 1, 2), out));
  EXPECT_EQ(relay.queue_counters(0).to_guest, 1u);
  EXPECT_EQ(relay.queue_counters(1).to_guest, 2u);
  EXPECT_EQ(relay.counters().sq_descriptors, 5u);
  EXPECT_EQ(relay.counters().cq_descriptors, 3u);
}

// Through the shim, a real relay and a real device node.
struct Snapshot {
  RelayQueueCounters q[2];
  dataplane::RelayCounters region;
  std::map<uint16_t, device::QueueCounters> node;  // the live session's queues
};

Snapshot snapshot(testing::Responder &r) {
  Snapshot s;
  r.paused([&] {
    for (uint32_t q = 0; q < 2 && q < r.relay().n_queues(); ++q)
      s.q[q] = r.relay().queue_counters(q);
    s.region = r.relay().counters();
    struct V : device::StatsVisitor {
      Snapshot *s;
      void session(const device::SessionStats &) override {}
      void queue(const device::SessionStats &, uint16_t q,
                 const device::QueueCounters &c) override {
        s->node[q] = c;
      }
    } v;
    v.s = &s;
    r.node().visit_stats(v);
  });
  return s;
}

TEST(RelayQueueCounters, a_drivers_reads_and_writes_add_up_on_the_queue_it_used) {
  testing::ResponderOptions o;
  o.region.n_queues = 2;
  testing::Responder r(o);
  config::GuestConfig cfg = r.guest_config(5000);
  cfg.n_queues = 2;
  auto dev = testing::open_guest(cfg);
  ASSERT_TRUE(dev);
  // The Confirm that ends ferry_open may still be on its way: count from the live session on.
  size_t live = 0;
  for (int i = 0; i < 5000 && live == 0; ++i) {
    r.paused([&] { live = r.node().session_count(); });
    if (live == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(live, 1u);
  const Snapshot before = snapshot(r);
  for (int i = 0; i < 40; ++i)
    ASSERT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegId), 0x010000edu);
  ASSERT_EQ(ferry_bind_queue(dev.get(), 1), 0);
  for (uint32_t v = 1; v <= 10; ++v) ferry_iowrite32(dev.get(), 0, EduModel::kRegLiveness, v);
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegLiveness), ~10u);
  ASSERT_EQ(ferry_last_error(dev.get()), 0);
  const Snapshot after = snapshot(r);

  const RelayQueueCounters &a0 = after.q[0], &b0 = before.q[0];
  const RelayQueueCounters &a1 = after.q[1], &b1 = before.q[1];
  EXPECT_EQ(a0.to_device - b0.to_device, 40u);
  EXPECT_EQ(a0.to_guest - b0.to_guest, 40u);
  EXPECT_EQ(a1.to_device - b1.to_device, 30u);
  EXPECT_EQ(a1.to_guest - b1.to_guest, 20u);  // the 20 reads' completions; writes are posted
  EXPECT_GE(a0.sq_drains - b0.sq_drains, 1u);
  EXPECT_LE(a0.sq_drains - b0.sq_drains, 40u);

  // The device node saw the same on each queue of the session.
  EXPECT_EQ(after.node.at(0).descriptors - before.node.at(0).descriptors, 40u);
  EXPECT_EQ(after.node.at(1).descriptors - before.node.at(1).descriptors, 30u);
  EXPECT_EQ(after.node.at(1).completions - before.node.at(1).completions, 20u);
  // Read latency is the node's (and the guest's) to measure: only they know which is a read.
  EXPECT_EQ(after.node.at(0).service_ns.count() - before.node.at(0).service_ns.count(), 40u);
  EXPECT_GT(after.node.at(0).service_ns.sum_ns() - before.node.at(0).service_ns.sum_ns(), 0u);
}

TEST(RelayQueueCounters, dma_chunks_and_bytes_served_and_stored_are_counted_per_region) {
  testing::ResponderOptions o;
  testing::Responder r(o);
  auto dev = testing::open_guest(r.guest_config(5000));
  ASSERT_TRUE(dev);
  constexpr size_t n = 4096;  // one chunk
  uint64_t src_dma = 0, dst_dma = 0;
  auto *src = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), n, &src_dma));
  auto *dst = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), n, &dst_dma));
  ASSERT_NE(src, nullptr);
  ASSERT_NE(dst, nullptr);
  std::memset(src, 0x5a, n);
  const Snapshot before = snapshot(r);
  ASSERT_EQ(ferry_dma_sync_for_device(dev.get(), src_dma, n), 0);
  ASSERT_EQ(testing::edu_dma(dev.get(), src_dma, EduModel::kDmaBufferAddr, n, false), 0);
  ASSERT_EQ(testing::edu_dma(dev.get(), EduModel::kDmaBufferAddr, dst_dma, n, true), 0);
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, n), 0);
  EXPECT_EQ(dst[n - 1], 0x5a);
  const Snapshot after = snapshot(r);
  EXPECT_EQ(after.region.dma_chunks_served - before.region.dma_chunks_served, 1u);
  EXPECT_EQ(after.region.dma_bytes_served - before.region.dma_bytes_served, n);
  EXPECT_EQ(after.region.dma_bytes_stored - before.region.dma_bytes_stored, n);
  ferry_dma_free(dev.get(), src, n);
  ferry_dma_free(dev.get(), dst, n);
}

}  // namespace
}  // namespace ferry
