// Ethernet / ARP / IPv4 / UDP as the DPDK transport builds and parses them: one packed struct
// per header with byte order in the type, and the checksum arithmetic for ports that cannot
// offload it. Pure functions over byte spans, so they are tested without a port.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ferry/proto/endian.h"

namespace ferry::engine::net {

using Mac = std::array<uint8_t, 6>;
inline constexpr Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint8_t kIpProtoUdp = 17;

struct [[gnu::packed]] EtherHeader {
  Mac dst;
  Mac src;
  proto::be16 type;
};
static_assert(sizeof(EtherHeader) == 14);

struct [[gnu::packed]] ArpPacket {
  proto::be16 htype;  // 1 = Ethernet
  proto::be16 ptype;  // 0x0800
  uint8_t hlen;       // 6
  uint8_t plen;       // 4
  proto::be16 op;     // 1 request, 2 reply
  Mac sha;
  proto::be32 spa;
  Mac tha;
  proto::be32 tpa;
};
static_assert(sizeof(ArpPacket) == 28);

struct [[gnu::packed]] Ipv4Header {
  uint8_t version_ihl;  // 0x45
  uint8_t tos;
  proto::be16 total_length;
  proto::be16 id;
  proto::be16 frag;  // flags (DF 0x4000, MF 0x2000) and offset
  uint8_t ttl;
  uint8_t proto;
  proto::be16 checksum;
  proto::be32 src;
  proto::be32 dst;
};
static_assert(sizeof(Ipv4Header) == 20);

struct [[gnu::packed]] UdpHeader {
  proto::be16 src_port;
  proto::be16 dst_port;
  proto::be16 length;
  proto::be16 checksum;
};
static_assert(sizeof(UdpHeader) == 8);

inline constexpr size_t kHeadersLen = sizeof(EtherHeader) + sizeof(Ipv4Header) + sizeof(UdpHeader);

// Internet checksum (RFC 1071) of `data`, folded, not inverted, starting from `sum`.
uint32_t csum_add(uint32_t sum, std::span<const uint8_t> data);
uint16_t csum_fold(uint32_t sum);
// Header checksum of an IPv4 header whose checksum field holds 0.
uint16_t ipv4_checksum(const Ipv4Header &ip);
// UDP checksum over pseudo-header, UDP header (checksum field 0) and payload; 0 maps to 0xffff.
uint16_t udp_checksum(const Ipv4Header &ip, const UdpHeader &udp, std::span<const uint8_t> payload);
// Pseudo-header sum alone (what a NIC offloading the UDP checksum wants in the field).
uint16_t udp_pseudo_checksum(const Ipv4Header &ip);

struct Flow {
  Mac src_mac, dst_mac;
  uint32_t src_ip, dst_ip;  // host order
  uint16_t src_port, dst_port;
};

// Writes Ethernet+IPv4+UDP headers for `payload_len` bytes at `out` (kHeadersLen bytes).
// With `sw_checksums` both checksums are computed over `payload` here; otherwise the IP
// checksum is left 0 and the UDP field holds the pseudo-header sum for the NIC to finish.
void build_udp(uint8_t *out, const Flow &f, uint16_t ip_id, std::span<const uint8_t> payload,
               bool sw_checksums);

enum class Parsed { kUdp, kArp, kOther, kBad };
struct UdpView {
  const EtherHeader *eth;
  const Ipv4Header *ip;
  const UdpHeader *udp;
  std::span<const uint8_t> payload;
};
// Parses an Ethernet frame. kUdp: unfragmented IPv4/UDP whose lengths agree with the buffer
// (checksums verified when `verify_checksums`); kArp: a well-formed Ethernet/IPv4 ARP packet.
Parsed parse(std::span<const uint8_t> frame, bool verify_checksums, UdpView &udp,
             const ArpPacket *&arp);

// Builds an ARP packet (with its Ethernet header) at `out` (42 bytes).
inline constexpr size_t kArpFrameLen = sizeof(EtherHeader) + sizeof(ArpPacket);
void build_arp(uint8_t *out, uint16_t op, const Mac &src_mac, uint32_t src_ip, const Mac &dst_mac,
               uint32_t dst_ip);

}  // namespace ferry::engine::net
