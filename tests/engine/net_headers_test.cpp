// The DPDK transport's Ethernet/IPv4/UDP/ARP code, checked against known values and against
// itself (what it builds, it parses; one flipped bit and the checksum catches it).
#include "transport/net_headers.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace ferry::engine::net {
namespace {

TEST(NetHeaders, ipv4_checksum_matches_a_known_header) {
  // The classic example header (checksum 0xb861).
  const uint8_t raw[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                           0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  Ipv4Header h;
  std::memcpy(&h, raw, sizeof(h));
  EXPECT_EQ(ipv4_checksum(h), 0xb861);
}

std::vector<uint8_t> build(std::span<const uint8_t> payload, bool sw) {
  std::vector<uint8_t> f(kHeadersLen + payload.size());
  Flow fl{{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}, 0xc6120001, 0xc6120002, 7000, 7001};
  std::memcpy(f.data() + kHeadersLen, payload.data(), payload.size());
  build_udp(f.data(), fl, 9, {f.data() + kHeadersLen, payload.size()}, sw);
  return f;
}

TEST(NetHeaders, a_built_udp_frame_parses_back_with_valid_checksums) {
  std::vector<uint8_t> payload(333);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7);
  auto f = build(payload, true);
  UdpView v{};
  const ArpPacket *arp = nullptr;
  ASSERT_EQ(parse(f, true, v, arp), Parsed::kUdp);
  EXPECT_EQ(v.ip->src.get(), 0xc6120001u);
  EXPECT_EQ(v.udp->dst_port.get(), 7001);
  ASSERT_EQ(v.payload.size(), payload.size());
  EXPECT_EQ(0, std::memcmp(v.payload.data(), payload.data(), payload.size()));
}

TEST(NetHeaders, a_corrupted_payload_fails_the_udp_checksum) {
  std::vector<uint8_t> payload(64, 0x5a);
  auto f = build(payload, true);
  f[kHeadersLen + 10] ^= 0x01;
  UdpView v{};
  const ArpPacket *arp = nullptr;
  EXPECT_EQ(parse(f, true, v, arp), Parsed::kBad);
  EXPECT_EQ(parse(f, false, v, arp), Parsed::kUdp);  // an offloading NIC checked it instead
}

TEST(NetHeaders, lengths_that_disagree_with_the_buffer_are_refused) {
  std::vector<uint8_t> payload(64, 1);
  auto f = build(payload, true);
  UdpView v{};
  const ArpPacket *arp = nullptr;
  auto truncated = f;
  truncated.resize(f.size() - 1);
  EXPECT_EQ(parse(truncated, false, v, arp), Parsed::kBad);
  EXPECT_EQ(parse({f.data(), 20}, false, v, arp), Parsed::kBad);
  auto *udp = reinterpret_cast<UdpHeader *>(f.data() + sizeof(EtherHeader) + sizeof(Ipv4Header));
  udp->length.set(4);  // shorter than its own header
  EXPECT_EQ(parse(f, false, v, arp), Parsed::kBad);
}

TEST(NetHeaders, offloaded_frames_carry_the_pseudo_header_sum) {
  std::vector<uint8_t> payload(100, 3);
  auto sw = build(payload, true);
  auto hw = build(payload, false);
  // What the NIC would do: finish the UDP checksum from the pseudo-header sum.
  auto *ip = reinterpret_cast<Ipv4Header *>(hw.data() + sizeof(EtherHeader));
  auto *udp = reinterpret_cast<UdpHeader *>(hw.data() + sizeof(EtherHeader) + sizeof(Ipv4Header));
  EXPECT_EQ(ip->checksum.get(), 0);
  uint32_t s = udp->checksum.get();
  s = csum_add(s, {reinterpret_cast<uint8_t *>(udp), sizeof(UdpHeader) - 2});
  s = csum_add(s, payload);
  const auto *sw_udp =
      reinterpret_cast<const UdpHeader *>(sw.data() + sizeof(EtherHeader) + sizeof(Ipv4Header));
  EXPECT_EQ(static_cast<uint16_t>(~csum_fold(s)), sw_udp->checksum.get());
}

TEST(NetHeaders, arp_request_and_reply_round_trip) {
  uint8_t f[kArpFrameLen];
  Mac me{2, 0, 0, 0, 0, 1};
  build_arp(f, 1, me, 0xc6120001, Mac{}, 0xc6120002);
  UdpView v{};
  const ArpPacket *arp = nullptr;
  ASSERT_EQ(parse(f, true, v, arp), Parsed::kArp);
  EXPECT_EQ(arp->op.get(), 1);
  EXPECT_EQ(arp->tpa.get(), 0xc6120002u);
  EXPECT_EQ(reinterpret_cast<EtherHeader *>(f)->dst, kBroadcast);
  EXPECT_EQ(arp->sha, me);
}

}  // namespace
}  // namespace ferry::engine::net
