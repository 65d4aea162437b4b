// What a capture on the CVM host's link reveals, per security level. The guest writes a known
// register value and moves a buffer with a known pattern to the edu device and back while the
// test captures every frame on the data plane's interface (AF_PACKET, both directions). With
// `confidential` neither appears anywhere in the capture; with `none` both do, which proves
// the capture sees the traffic; `integrity` authenticates without encrypting, so both appear.
// The kind of each descriptor is sealed too: every one's header says kSealed, so at
// `confidential` the host cannot tell a read from a write, a DMA sync or a completion.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ferry/proto/descriptor.h"
#include "ferry/proto/frame.h"
#include "require.h"
#include "service_lab.h"
#include "wire.h"

namespace ferry::testing {
namespace {

constexpr uint64_t kLiveness = 0x04, kDmaSrc = 0x80, kDmaDst = 0x88, kDmaCount = 0x90,
                   kDmaCmd = 0x98, kEduBuffer = 0x40000;
constexpr uint64_t kDmaStart = 0x1, kDmaToRam = 0x2;
constexpr size_t kLen = 4096;
constexpr uint32_t kSecretValue = 0x5ec2e7a1;
constexpr char kPattern[] = "FERRY-SECRET-PAT";  // 16 bytes, repeated over the buffer

struct Seen {
  size_t pattern = 0, value = 0, inverted = 0, frames = 0;
  std::set<uint8_t> header_kinds;  // of the sealed (non-handshake) descriptors, both ways
  std::set<uint8_t> body_kinds;    // their first body byte as it crossed the wire
};

// Every descriptor record of the capture's ferry frames, both directions.
void collect_kinds(const std::vector<Packet> &got, Seen &s) {
  for (const Packet &p : got) {
    for (const auto &[src, dst] :
         {std::pair{VethLab::kIpA, VethLab::kIpB}, std::pair{VethLab::kIpB, VethLab::kIpA}}) {
      auto payload = proto::frame_check_fcs(udp_payload(p, src, dst, ServiceLab::kPort));
      proto::FrameReader r;
      if (payload.empty() || r.parse(payload) != proto::Status::kOk) continue;
      proto::RecordView rec;
      while (r.next(rec)) {
        if (rec.type != proto::RecordType::kDescriptor) continue;
        proto::Descriptor d;
        std::memcpy(&d, rec.payload.data(), sizeof(d));
        if (d.hdr.kind == static_cast<uint8_t>(proto::Kind::kHandshake)) continue;
        s.header_kinds.insert(d.hdr.kind);
        s.body_kinds.insert(d.body.kind);
      }
    }
  }
}

int edu_dma(ferry_dev *dev, uint64_t src, uint64_t dst, uint64_t dir) {
  ferry_iowrite64(dev, 0, kDmaSrc, src);
  ferry_iowrite64(dev, 0, kDmaDst, dst);
  ferry_iowrite64(dev, 0, kDmaCount, kLen);
  ferry_iowrite64(dev, 0, kDmaCmd, kDmaStart | dir);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t cmd = ferry_ioread64(dev, 0, kDmaCmd);
    if (ferry_last_error(dev) != 0) return -1;
    if ((cmd & kDmaStart) == 0) return 0;
  }
  return -1;
}

// Runs the workload under capture at `security` and counts what the capture holds.
void capture_run(const std::string &security, Seen &s) {
  ServiceLabOptions o;
  o.security = security;
  o.mmio_timeout_ms = 2000;
  ServiceLab lab(o);
  if (lab.skip()) {
    FERRY_REQUIRE(false, lab.error());
    return;
  }
  if (!lab.ok()) {
    ADD_FAILURE() << lab.error();
    return;
  }
  ferry_dev *dev = lab.open_guest();
  if (!dev) {
    ADD_FAILURE() << lab.error() << lab.logs();
    return;
  }
  Capture cap(lab.net().ns_a, lab.net().if_a);
  EXPECT_TRUE(cap.ok());
  cap.start();
  ferry_iowrite32(dev, 0, kLiveness, kSecretValue);
  EXPECT_EQ(ferry_ioread32(dev, 0, kLiveness), ~kSecretValue);
  uint64_t out_dma = 0, in_dma = 0;
  auto *out = static_cast<uint8_t *>(ferry_dma_alloc(dev, kLen, &out_dma));
  auto *in = static_cast<uint8_t *>(ferry_dma_alloc(dev, kLen, &in_dma));
  EXPECT_TRUE(out && in);
  if (out && in) {
    for (size_t i = 0; i < kLen; ++i) out[i] = static_cast<uint8_t>(kPattern[i % 16]);
    EXPECT_EQ(ferry_dma_sync_for_device(dev, out_dma, kLen), 0);
    EXPECT_EQ(edu_dma(dev, out_dma, kEduBuffer, 0), 0);
    EXPECT_EQ(edu_dma(dev, kEduBuffer, in_dma, kDmaToRam), 0);
    EXPECT_EQ(ferry_dma_sync_for_cpu(dev, in_dma, kLen), 0);
    EXPECT_EQ(std::memcmp(in, out, kLen), 0) << "the DMA round trip changed the data";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::vector<Packet> got = cap.stop();
  s.frames = got.size();
  s.pattern = count_occurrences(got, {reinterpret_cast<const uint8_t *>(kPattern), 16});
  uint32_t v = kSecretValue, inv = ~kSecretValue;  // little-endian on the wire and in x86
  s.value = count_occurrences(got, {reinterpret_cast<const uint8_t *>(&v), 4});
  s.inverted = count_occurrences(got, {reinterpret_cast<const uint8_t *>(&inv), 4});
  collect_kinds(got, s);
  std::printf("[ capture  ] %s: %zu frames, pattern %zu times, register value %zu, read-back %zu\n",
              security.c_str(), s.frames, s.pattern, s.value, s.inverted);
}

TEST(Confidentiality, with_none_the_capture_holds_the_dma_pattern_and_register_values) {
  Seen s;
  capture_run("none", s);
  if (IsSkipped()) return;
  EXPECT_GT(s.frames, 10u);
  EXPECT_GE(s.pattern, 2 * kLen / 16) << "the capture missed the DMA in one direction";
  EXPECT_GT(s.value, 0u);
  EXPECT_GT(s.inverted, 0u);
  // The workload's kinds are in the clear body: write, read, completion, DMA syncs.
  EXPECT_GE(s.body_kinds.size(), 4u);
}

TEST(Confidentiality, with_integrity_the_data_is_authenticated_but_visible) {
  Seen s;
  capture_run("integrity", s);
  if (IsSkipped()) return;
  EXPECT_GT(s.frames, 10u);
  EXPECT_GE(s.pattern, 2 * kLen / 16);
  EXPECT_GT(s.value, 0u);
  EXPECT_GT(s.inverted, 0u);
}

TEST(Confidentiality, with_confidential_the_capture_holds_no_trace_of_the_data) {
  Seen s;
  capture_run("confidential", s);
  if (IsSkipped()) return;
  EXPECT_GT(s.frames, 10u);
  EXPECT_EQ(s.pattern, 0u);
  EXPECT_EQ(s.value, 0u);
  EXPECT_EQ(s.inverted, 0u);
}

TEST(Confidentiality, every_sealed_descriptor_carries_the_same_header_kind_at_every_level) {
  for (const char *level : {"none", "integrity", "confidential"}) {
    Seen s;
    capture_run(level, s);
    if (IsSkipped()) return;
    EXPECT_EQ(s.header_kinds, std::set<uint8_t>{static_cast<uint8_t>(proto::Kind::kSealed)})
        << level << ": the header tells the host which operation a descriptor is";
  }
}

}  // namespace
}  // namespace ferry::testing
