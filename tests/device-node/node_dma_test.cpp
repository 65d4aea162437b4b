// DMA through the device node in both directions, with the data verified end to end:
// guest-sealed chunks read by the device, device-sealed chunks opened by the guest, partial
// chunks (read-modify-write and zero-fill), pieces of any size, and the accel model's rings.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>

#include "ferry/device/accel.h"
#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::AccelModel;
using device::EduModel;
constexpr uint64_t kBase = 0x1000000;
constexpr uint64_t kBuf = EduModel::kDmaBufferAddr;
constexpr uint64_t kStartIrq = EduModel::kDmaCmdStart | EduModel::kDmaCmdIrq;
constexpr uint64_t kToRamIrq = kStartIrq | EduModel::kDmaCmdToRam;

void fill(uint8_t *p, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(rng());
}

TEST(NodeDma, edu_copies_guest_memory_in_and_out_with_the_bytes_intact) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  fill(g.mem(kBase + 0x10), 100, 1);
  g.sync_for_device(kBase + 0x10, 100);
  edu_dma(g, kBase + 0x10, kBuf, 100, kStartIrq);
  EduModel *edu = rig.edu(g);
  ASSERT_NE(edu, nullptr);
  EXPECT_EQ(std::memcmp(edu->buffer().data(), g.mem(kBase + 0x10), 100), 0);
  EXPECT_EQ(g.irqs(), std::vector<uint64_t>{EduModel::kDmaIrq});
  EXPECT_EQ(g.read(0, EduModel::kRegDmaCmd, 4).value() & EduModel::kDmaCmdStart, 0u);

  edu_dma(g, kBuf, kBase + 0x2005, 100, kToRamIrq);  // into a chunk the guest never wrote
  ASSERT_EQ(g.irqs().size(), 2u);
  ASSERT_TRUE(g.sync_for_cpu(kBase + 0x2005, 100));
  EXPECT_EQ(std::memcmp(g.mem(kBase + 0x2005), g.mem(kBase + 0x10), 100), 0);
  EXPECT_EQ(rig.counters().dma_failures, 0u);
  EXPECT_EQ(rig.counters().dma_chunks_read, 1u);
  EXPECT_EQ(rig.counters().dma_chunks_written, 1u);
}

TEST(NodeDma, transfers_spanning_chunks_round_trip_at_odd_offsets) {
  NodeRig rig(big_edu_and_accel());
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  const uint64_t src = kBase + 4096 * 3 + 1000, len = 10000;
  fill(g.mem(src), len, 2);
  g.sync_for_device(src, len);
  edu_dma(g, src, kBuf + 123, len, kStartIrq);
  EXPECT_EQ(std::memcmp(rig.edu(g)->buffer().data() + 123, g.mem(src), len), 0);
  const uint64_t dst = kBase + 4096 * 20 + 4000;
  edu_dma(g, kBuf + 123, dst, len, kToRamIrq);
  ASSERT_TRUE(g.sync_for_cpu(dst, len));
  EXPECT_EQ(std::memcmp(g.mem(dst), g.mem(src), len), 0);
  EXPECT_EQ(rig.counters().dma_chunks_read, 3u);     // bytes [1000, 11000) of the 4th chunk on
  EXPECT_EQ(rig.counters().dma_chunks_written, 4u);  // bytes [4000, 14000) of the 21st on
}

TEST(NodeDma, partial_write_to_a_known_chunk_keeps_the_bytes_around_it) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  const uint64_t chunk = kBase + 4096 * 5;
  fill(g.mem(chunk), 4096, 3);
  std::vector<uint8_t> before(g.mem(chunk), g.mem(chunk) + 4096);
  g.sync_for_device(chunk, 4096);
  // The device writes 16 bytes into the middle of the guest's chunk (read-modify-write) ...
  std::memset(g.mem(kBase), 0xee, 16);
  g.sync_for_device(kBase, 16);
  edu_dma(g, kBase, kBuf, 16, kStartIrq);
  edu_dma(g, kBuf, chunk + 2000, 16, kToRamIrq);
  EXPECT_EQ(rig.counters().dma_chunks_read, 2u);  // the source, then the chunk for RMW
  // ... then reads the whole chunk back: everything but those 16 bytes is the guest's.
  edu_dma(g, chunk, kBuf, 4096, kStartIrq);
  std::vector<uint8_t> expect = before;
  std::memset(expect.data() + 2000, 0xee, 16);
  EXPECT_EQ(std::memcmp(rig.edu(g)->buffer().data(), expect.data(), 4096), 0);
  ASSERT_TRUE(g.sync_for_cpu(chunk, 4096));
  EXPECT_EQ(std::memcmp(g.mem(chunk), expect.data(), 4096), 0);
  EXPECT_EQ(rig.counters().dma_failures, 0u);
}

TEST(NodeDma, device_announces_the_dirty_range_it_wrote) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  const uint64_t chunk = kBase + 4096 * 7;
  std::memset(g.mem(chunk), 0x11, 4096);  // guest-private bytes the device never wrote
  edu_dma(g, kBuf, chunk + 100, 50, kToRamIrq);
  edu_dma(g, kBuf, chunk + 300, 20, kToRamIrq);
  ASSERT_TRUE(g.sync_for_cpu(chunk, 4096));
  // The union [100, 320) came back (zeros from the device buffer); the rest is untouched.
  for (size_t i = 0; i < 4096; ++i) {
    const bool dirty = i >= 100 && i < 320;
    ASSERT_EQ(*g.mem(chunk + i), dirty ? 0 : 0x11) << i;
  }
}

TEST(NodeDma, completions_and_interrupts_carry_the_dma_syncs_sent_before_them) {
  NodeRig rig(big_edu_and_accel());
  TestGuest::Options o = rig.guest_options(1);
  o.n_queues = 2;
  TestGuest g(rig.bench, rig.psk.psk(), o);
  ASSERT_TRUE(g.connect());
  edu_dma(g, kBuf, kBase, 3 * 4096, kToRamIrq);  // three chunks announced, then the interrupt
  edu_dma(g, kBuf, kBase + 0x8000, 100, kToRamIrq);
  ASSERT_EQ(g.irqs().size(), 2u);
  // A completion on the other queue counts every announcement sent before it.
  const uint64_t seq = g.post_read(0, EduModel::kRegDmaCmd, 8, 1);
  rig.bench.pump();
  ASSERT_NE(g.completion(seq, 1), nullptr);
  EXPECT_EQ(g.completion(seq, 1)->body.offset.get(), 4u);
  // On queue 0, each completion and interrupt carries the announcements that precede it.
  uint64_t announced = 0, stamped = 0;
  for (const proto::Descriptor &d : g.opened) {
    if (d.hdr.queue.get() != 0) continue;
    if (d.hdr.kind == static_cast<uint8_t>(proto::Kind::kDmaSync)) {
      ++announced;
    } else {
      EXPECT_EQ(d.body.offset.get(), announced) << "kind " << unsigned{d.hdr.kind};
      ++stamped;
    }
  }
  EXPECT_EQ(announced, 4u);
  EXPECT_EQ(stamped, 2u);  // the two interrupts
}

TEST(NodeDma, pieces_of_any_size_are_reassembled) {
  for (uint32_t piece : {7u, 64u, 1000u, 4096u}) {
    NodeRig rig;
    rig.bench.serve_piece = piece;
    TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
    ASSERT_TRUE(g.connect());
    fill(g.mem(kBase), 4096, piece);
    g.sync_for_device(kBase, 4096);
    edu_dma(g, kBase, kBuf, 4096, kStartIrq);
    EXPECT_EQ(std::memcmp(rig.edu(g)->buffer().data(), g.mem(kBase), 4096), 0) << piece;
  }
}

TEST(NodeDma, write_pieces_respect_the_configured_piece_size) {
  device::NodeOptions o;
  o.max_piece = 512;
  NodeRig rig(edu_and_accel(), o);
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  const uint64_t emitted = rig.bench.from_node.emitted();
  edu_dma(g, kBuf, kBase, 4096, EduModel::kDmaCmdStart | EduModel::kDmaCmdToRam);
  // 8 pieces + 1 announcement (edu sends no interrupt without 0x04; posted writes, no reply).
  EXPECT_EQ(rig.bench.from_node.emitted() - emitted, 9u);
  EXPECT_TRUE(g.sync_for_cpu(kBase, 4096));
}

TEST(NodeDma, every_device_chunk_write_uses_a_fresh_version) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  std::set<uint64_t> versions;
  for (int i = 0; i < 5; ++i) {
    edu_dma(g, kBuf, kBase + 64 * i, 64, kToRamIrq);
    versions.insert(g.window[kBase].version);
  }
  EXPECT_EQ(versions.size(), 5u);
}

TEST(NodeDma, one_mebibyte_round_trips_with_few_chunk_reads_in_flight) {
  device::NodeOptions o;
  o.max_chunk_fetches = 3;                                            // 256 chunks through 3 slots
  NodeRig rig({{1, "edu", {{"dma_buffer_size", 1u << 20}}}}, o, 64);  // and a narrow sink
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1));
  ASSERT_TRUE(g.connect());
  const uint64_t len = 1u << 20;
  fill(g.mem(kBase), len, 11);
  g.sync_for_device(kBase, len);
  edu_dma(g, kBase, kBuf, len, kStartIrq);
  ASSERT_EQ(g.irqs().size(), 1u);
  EXPECT_EQ(std::memcmp(rig.edu(g)->buffer().data(), g.mem(kBase), len), 0);
  edu_dma(g, kBuf, kBase + len + 100, len, kToRamIrq);
  ASSERT_EQ(g.irqs().size(), 2u);
  ASSERT_TRUE(g.sync_for_cpu(kBase + len + 100, len));
  EXPECT_EQ(std::memcmp(g.mem(kBase + len + 100), g.mem(kBase), len), 0);
  EXPECT_EQ(rig.counters().dma_chunks_read, 256u);
  EXPECT_EQ(rig.counters().dma_chunks_written, 257u);
  EXPECT_GT(rig.counters().tx_deferred, 0u);
  EXPECT_EQ(rig.counters().tx_dropped, 0u);
}

// The accel model driven through the node: rings and data in separate DMA allocations.
struct AccelDriver {
  static constexpr uint64_t kSq = kBase, kCq = kBase + 0x10000, kIn = kBase + 0x20000,
                            kOut = kBase + 0x200000;
  explicit AccelDriver(TestGuest &g, uint64_t ring) : g(g), ring(ring) {
    g.write(0, AccelModel::kRegSqBase, 8, kSq);
    g.write(0, AccelModel::kRegCqBase, 8, kCq);
    g.write(0, AccelModel::kRegRingSize, 4, ring);
    g.write(0, AccelModel::kRegDescSize, 1, 32);
    g.write(0, AccelModel::kRegCtrl, 1, AccelModel::kCtrlEnable);
  }
  void post(uint64_t src, uint32_t len, uint64_t dst, uint64_t cookie) {
    device::AccelDesc d{};
    d.opcode = 1;
    d.len.set(len);
    d.src.set(src);
    d.dst.set(dst);
    d.cookie.set(cookie);
    std::memcpy(g.mem(kSq + tail * 32), &d, sizeof(d));
    tail = (tail + 1) % ring;
  }
  void doorbell() {
    g.sync_for_device(kSq, ring * 32);
    g.write(0, AccelModel::kRegSqTail, 4, tail);
  }
  device::AccelCompletion completion(uint64_t index) {
    device::AccelCompletion c;
    std::memcpy(&c, g.mem(kCq + index * 32), sizeof(c));
    return c;
  }
  TestGuest &g;
  uint64_t ring, tail = 0;
};

TEST(NodeDma, accel_crc_and_copy_through_the_node_match_the_cpu) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1, 2));
  ASSERT_TRUE(g.connect());
  AccelDriver drv(g, 16);
  const uint32_t sizes[] = {1, 100, 4096, 5000, 65536, 3};
  uint64_t in = AccelDriver::kIn, out = AccelDriver::kOut;
  std::vector<std::tuple<uint64_t, uint64_t, uint32_t>> jobs;
  for (uint32_t i = 0; i < std::size(sizes); ++i) {
    fill(g.mem(in), sizes[i], 100 + i);
    drv.post(in, sizes[i], out, i);
    jobs.push_back({in, out, sizes[i]});
    in += sizes[i] + 17;
    out += sizes[i] + 4096;
  }
  g.sync_for_device(AccelDriver::kIn, in - AccelDriver::kIn);
  drv.doorbell();
  EXPECT_EQ(g.read(0, AccelModel::kRegSqHead, 4), std::size(sizes));
  ASSERT_TRUE(g.sync_for_cpu(AccelDriver::kCq, 16 * 32));
  for (uint32_t i = 0; i < jobs.size(); ++i) {
    auto [src, dst, len] = jobs[i];
    device::AccelCompletion c = drv.completion(i);
    EXPECT_EQ(c.status.get(), 0u) << i;
    EXPECT_EQ(c.crc.get(), reference_crc32c(g.mem(src), len)) << i;
    EXPECT_EQ(c.cookie.get(), i);
    ASSERT_TRUE(g.sync_for_cpu(dst, len));
    EXPECT_EQ(std::memcmp(g.mem(dst), g.mem(src), len), 0) << i;
  }
  EXPECT_EQ(g.irqs().size(), std::size(sizes));
  EXPECT_EQ(rig.counters().dma_failures, 0u);
}

TEST(NodeDma, accel_ring_wraps_around_through_the_node) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1, 2));
  ASSERT_TRUE(g.connect());
  g.write(0, AccelModel::kRegIrqCount, 2, 3);  // coalesce: one interrupt per three
  AccelDriver drv(g, 4);
  fill(g.mem(AccelDriver::kIn), 64 * 9, 9);
  g.sync_for_device(AccelDriver::kIn, 64 * 9);
  for (uint64_t batch = 0; batch < 3; ++batch) {
    for (uint64_t k = 0; k < 3; ++k) {
      const uint64_t job = batch * 3 + k;
      drv.post(AccelDriver::kIn + 64 * job, 64, 0, job);
    }
    drv.doorbell();
    ASSERT_TRUE(g.sync_for_cpu(AccelDriver::kCq, 4 * 32));
    for (uint64_t k = 0; k < 3; ++k) {
      const uint64_t job = batch * 3 + k;
      device::AccelCompletion c = drv.completion(job % 4);
      EXPECT_EQ(c.cookie.get(), job);
      EXPECT_EQ(c.crc.get(), reference_crc32c(g.mem(AccelDriver::kIn + 64 * job), 64));
      EXPECT_EQ(c.phase.get(), (job / 4) % 2 == 0 ? 1u : 0u);
    }
  }
  EXPECT_EQ(g.read(0, AccelModel::kRegSqHead, 4), 9u % 4);
  EXPECT_EQ(g.irqs().size(), 3u);
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// The node serves each session with the window its guest's Hello describes (issue 13): no
// node option names a chunk size, count or base.
TEST(NodeDma, a_guest_window_with_its_own_chunk_size_count_and_base_works_end_to_end) {
  NodeRig rig(big_edu_and_accel());
  TestGuest::Options o = rig.guest_options(1);
  o.chunk_size = 8192;
  o.n_chunks = 16;
  o.dma_base = 0x2000000;
  TestGuest g(rig.bench, rig.psk.psk(), o);
  ASSERT_TRUE(g.connect()) << g.error();
  const uint64_t base = o.dma_base + 3 * o.chunk_size;
  for (size_t i = 0; i < 3 * 8192; ++i) g.mem(base)[i] = static_cast<uint8_t>(i * 7 + 1);
  g.sync_for_device(base, 3 * 8192);
  edu_dma(g, base, EduModel::kDmaBufferAddr, 3 * 8192,
          EduModel::kDmaCmdStart | EduModel::kDmaCmdIrq);
  ASSERT_EQ(g.irqs().size(), 1u);
  EXPECT_EQ(std::memcmp(rig.edu(g)->buffer().data(), g.mem(base), 3 * 8192), 0);
  const uint64_t back = o.dma_base + 10 * o.chunk_size + 100;
  edu_dma(g, EduModel::kDmaBufferAddr, back, 3 * 8192,
          EduModel::kDmaCmdStart | EduModel::kDmaCmdIrq | EduModel::kDmaCmdToRam);
  ASSERT_EQ(g.irqs().size(), 2u);
  ASSERT_TRUE(g.sync_for_cpu(back, 3 * 8192));
  EXPECT_EQ(std::memcmp(g.mem(back), g.mem(base), 3 * 8192), 0);
  EXPECT_EQ(g.window.count(o.dma_base + 10 * o.chunk_size), 1u);  // 8 KiB chunks
  // An address past the guest's 16 chunks is outside its window: refused, not served.
  const uint64_t refused = rig.counters().dma_refused;
  edu_dma(g, EduModel::kDmaBufferAddr, o.dma_base + 16 * o.chunk_size, 64,
          EduModel::kDmaCmdStart | EduModel::kDmaCmdToRam);
  EXPECT_GT(rig.counters().dma_refused + rig.counters().dma_failures, refused);
}

TEST(NodeDma, a_window_beyond_the_nodes_limits_is_rejected_at_the_handshake) {
  device::NodeOptions n;
  n.max_chunks = 8;
  NodeRig rig(edu_and_accel(), n);
  TestGuest::Options o = rig.guest_options(1);
  o.n_chunks = 9;
  TestGuest g(rig.bench, rig.psk.psk(), o);
  EXPECT_FALSE(g.connect());
  EXPECT_NE(g.error().find("unsupported"), std::string::npos) << g.error();
  EXPECT_EQ(rig.node.session_count(), 0u);
}

}  // namespace
}  // namespace ferry::testing
