// DMA that must fail: a chunk tampered with, served stale, moved to another address,
// missing, never announced, or never answered. The model gets an error status and never
// a byte that did not verify.
#include <gtest/gtest.h>

#include <cstring>

#include "ferry/device/accel.h"
#include "node_rig.h"

namespace ferry::testing {
namespace {

using device::EduModel;
constexpr uint64_t kBase = 0x1000000;
constexpr uint64_t kBuf = EduModel::kDmaBufferAddr;
constexpr uint64_t kStartIrq = EduModel::kDmaCmdStart | EduModel::kDmaCmdIrq;

struct FailureRig : NodeRig {
  FailureRig() : g(bench, psk.psk(), guest_options(1)) {
    EXPECT_TRUE(g.connect());
    std::memset(g.mem(kBase), 0x5a, 2 * 4096);
    g.sync_for_device(kBase, 2 * 4096);
  }
  // Runs a RAM -> device DMA across the first two chunks and checks it failed cleanly.
  void expect_failed_read() {
    edu_dma(g, kBase + 2048, kBuf, 4096, kStartIrq);
    EduModel *edu = this->edu(g);
    ASSERT_NE(edu, nullptr);
    EXPECT_EQ(edu->dma_failed(), 1u);
    for (uint8_t b : edu->buffer()) ASSERT_EQ(b, 0);  // nothing from the transfer landed
    EXPECT_EQ(counters().dma_failures, 1u);
    EXPECT_EQ(g.irqs(), std::vector<uint64_t>{EduModel::kDmaIrq});  // the command completes
    EXPECT_EQ(g.read(0, EduModel::kRegDmaCmd, 4).value() & EduModel::kDmaCmdStart, 0u);
  }
  TestGuest g;
};

TEST(NodeDmaFailure, tampered_chunk_fails_the_transfer_and_delivers_no_bytes) {
  FailureRig r;
  r.g.window[kBase + 4096].bytes[17] ^= 1;
  r.expect_failed_read();
  EXPECT_EQ(r.counters().dma_chunk_auth_failures, 1u);
}

TEST(NodeDmaFailure, tampered_tag_fails_the_transfer) {
  FailureRig r;
  r.g.window[kBase].tag[0] ^= 0x80;
  r.expect_failed_read();
}

TEST(NodeDmaFailure, stale_chunk_is_refused) {
  FailureRig r;
  const StoredChunk old = r.g.window[kBase];
  std::memset(r.g.mem(kBase), 0x77, 4096);
  r.g.sync_for_device(kBase, 4096);  // version 3 announced
  r.g.window[kBase] = old;           // the host serves version 1
  r.expect_failed_read();
  EXPECT_EQ(r.counters().dma_chunk_auth_failures, 1u);
}

TEST(NodeDmaFailure, chunk_moved_to_another_address_is_refused) {
  FailureRig r;
  r.g.window[kBase + 4096] = r.g.window[kBase];
  r.expect_failed_read();
}

TEST(NodeDmaFailure, chunk_the_host_cannot_serve_fails_the_transfer) {
  FailureRig r;
  r.g.window.erase(kBase + 4096);  // the data plane answers kDmaFailed
  r.expect_failed_read();
}

TEST(NodeDmaFailure, chunk_never_announced_fails_without_asking_the_host) {
  FailureRig r;
  edu_dma(r.g, kBase + 10 * 4096, kBuf, 64, kStartIrq);
  EXPECT_EQ(r.bench.reads_served, 0u);
  EXPECT_EQ(r.edu(r.g)->dma_failed(), 1u);
  EXPECT_EQ(r.counters().dma_failures, 1u);
}

TEST(NodeDmaFailure, chunk_read_that_never_comes_back_times_out) {
  FailureRig r;
  r.bench.serve_reads = false;
  edu_dma(r.g, kBase, kBuf, 64, kStartIrq);
  EXPECT_EQ(r.g.read(0, EduModel::kRegDmaCmd, 4).value() & EduModel::kDmaCmdStart,
            EduModel::kDmaCmdStart);  // still waiting; the node did not block
  r.bench.advance(device::NodeOptions{}.dma_timeout_ns);
  r.bench.pump();
  EXPECT_EQ(r.counters().dma_timeouts, 1u);
  EXPECT_EQ(r.edu(r.g)->dma_failed(), 1u);
  EXPECT_EQ(r.g.read(0, EduModel::kRegDmaCmd, 4).value() & EduModel::kDmaCmdStart, 0u);
}

TEST(NodeDmaFailure, pieces_that_match_no_request_are_dropped_and_counted) {
  FailureRig r;
  proto::DmaPiece p{};
  p.addr.set(kBase);
  p.chunk_len.set(4096);
  p.piece_len.set(16);
  p.req_id.set(12345);
  uint8_t bytes[16]{};
  r.bench.to_node.emit(proto::RecordType::kDmaData, 1,
                       {reinterpret_cast<const uint8_t *>(&p), sizeof(p)}, bytes);
  r.bench.pump();
  EXPECT_EQ(r.counters().dma_pieces_dropped, 1u);
}

TEST(NodeDmaFailure, outside_the_window_is_refused_by_the_dma_engine) {
  FailureRig r;
  edu_dma(r.g, 0x10, kBuf, 64, kStartIrq);  // below dma_base
  EXPECT_EQ(r.edu(r.g)->dma_refused(), 1u);
  EXPECT_EQ(r.counters().dma_refused, 1u);
}

TEST(NodeDmaFailure, device_chunk_tampered_in_the_window_is_caught_by_the_guest) {
  FailureRig r;
  edu_dma(r.g, kBuf, kBase + 5 * 4096, 64, kStartIrq | EduModel::kDmaCmdToRam);
  r.g.window[kBase + 5 * 4096].bytes[3] ^= 4;
  EXPECT_FALSE(r.g.sync_for_cpu(kBase + 5 * 4096, 64));
}

TEST(NodeDmaFailure, accel_input_that_fails_verification_completes_with_input_failed) {
  NodeRig rig;
  TestGuest g(rig.bench, rig.psk.psk(), rig.guest_options(1, 2));
  ASSERT_TRUE(g.connect());
  using device::AccelModel;
  const uint64_t sq = kBase, cq = kBase + 0x1000, in = kBase + 0x2000;
  g.write(0, AccelModel::kRegSqBase, 8, sq);
  g.write(0, AccelModel::kRegCqBase, 8, cq);
  g.write(0, AccelModel::kRegRingSize, 8, 2);
  g.write(0, AccelModel::kRegCtrl, 8, AccelModel::kCtrlEnable);
  device::AccelDesc d{};
  d.opcode = 1;
  d.len.set(100);
  d.src.set(in);
  d.cookie.set(7);
  std::memcpy(g.mem(sq), &d, sizeof(d));
  g.sync_for_device(sq, 64);
  g.sync_for_device(in, 100);
  g.window[in].bytes[50] ^= 1;
  g.write(0, AccelModel::kRegSqTail, 8, 1);
  ASSERT_TRUE(g.sync_for_cpu(cq, 32));
  device::AccelCompletion c;
  std::memcpy(&c, g.mem(cq), sizeof(c));
  EXPECT_EQ(c.status.get(), static_cast<uint32_t>(device::AccelStatus::kInputFailed));
  EXPECT_EQ(c.cookie.get(), 7u);
  EXPECT_EQ(g.read(0, AccelModel::kRegSqHead, 8), 1u);
}

}  // namespace
}  // namespace ferry::testing
