#include "transport/net_headers.h"

#include <cstring>

namespace ferry::engine::net {

uint32_t csum_add(uint32_t sum, std::span<const uint8_t> d) {
  size_t i = 0;
  for (; i + 1 < d.size(); i += 2) sum += (uint32_t{d[i]} << 8) | d[i + 1];
  if (i < d.size()) sum += uint32_t{d[i]} << 8;
  // Fold now and then so a 64 KiB payload cannot overflow 32 bits.
  return (sum & 0xffff) + (sum >> 16);
}

uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

uint16_t ipv4_checksum(const Ipv4Header &ip) {
  return static_cast<uint16_t>(
      ~csum_fold(csum_add(0, {reinterpret_cast<const uint8_t *>(&ip), sizeof(ip)})));
}

static uint32_t pseudo_sum(const Ipv4Header &ip, uint16_t udp_len) {
  uint32_t s = 0;
  s = csum_add(s, {reinterpret_cast<const uint8_t *>(&ip.src), 4});
  s = csum_add(s, {reinterpret_cast<const uint8_t *>(&ip.dst), 4});
  s += kIpProtoUdp;
  s += udp_len;
  return s;
}

uint16_t udp_pseudo_checksum(const Ipv4Header &ip) {
  return csum_fold(pseudo_sum(ip, static_cast<uint16_t>(ip.total_length.get() - sizeof(ip))));
}

uint16_t udp_checksum(const Ipv4Header &ip, const UdpHeader &udp,
                      std::span<const uint8_t> payload) {
  uint32_t s = pseudo_sum(ip, udp.length.get());
  UdpHeader h = udp;
  h.checksum.set(0);
  s = csum_add(s, {reinterpret_cast<const uint8_t *>(&h), sizeof(h)});
  s = csum_add(s, payload);
  uint16_t c = static_cast<uint16_t>(~csum_fold(s));
  return c == 0 ? 0xffff : c;
}

void build_udp(uint8_t *out, const Flow &f, uint16_t ip_id, std::span<const uint8_t> payload,
               bool sw_checksums) {
  auto *eth = reinterpret_cast<EtherHeader *>(out);
  eth->dst = f.dst_mac;
  eth->src = f.src_mac;
  eth->type.set(kEtherTypeIpv4);
  auto *ip = reinterpret_cast<Ipv4Header *>(out + sizeof(EtherHeader));
  ip->version_ihl = 0x45;
  ip->tos = 0;
  ip->total_length.set(
      static_cast<uint16_t>(sizeof(Ipv4Header) + sizeof(UdpHeader) + payload.size()));
  ip->id.set(ip_id);
  ip->frag.set(0x4000);  // DF: frames are sized to the MTU, never fragmented
  ip->ttl = 64;
  ip->proto = kIpProtoUdp;
  ip->checksum.set(0);
  ip->src.set(f.src_ip);
  ip->dst.set(f.dst_ip);
  auto *udp = reinterpret_cast<UdpHeader *>(out + sizeof(EtherHeader) + sizeof(Ipv4Header));
  udp->src_port.set(f.src_port);
  udp->dst_port.set(f.dst_port);
  udp->length.set(static_cast<uint16_t>(sizeof(UdpHeader) + payload.size()));
  udp->checksum.set(0);
  if (sw_checksums) {
    ip->checksum.set(ipv4_checksum(*ip));
    udp->checksum.set(udp_checksum(*ip, *udp, payload));
  } else {
    udp->checksum.set(udp_pseudo_checksum(*ip));
  }
}

Parsed parse(std::span<const uint8_t> frame, bool verify_checksums, UdpView &v,
             const ArpPacket *&arp) {
  if (frame.size() < sizeof(EtherHeader)) return Parsed::kBad;
  const auto *eth = reinterpret_cast<const EtherHeader *>(frame.data());
  const uint16_t type = eth->type.get();
  std::span<const uint8_t> l3 = frame.subspan(sizeof(EtherHeader));
  if (type == kEtherTypeArp) {
    if (l3.size() < sizeof(ArpPacket)) return Parsed::kBad;
    arp = reinterpret_cast<const ArpPacket *>(l3.data());
    if (arp->htype.get() != 1 || arp->ptype.get() != kEtherTypeIpv4 || arp->hlen != 6 ||
        arp->plen != 4)
      return Parsed::kOther;
    return Parsed::kArp;
  }
  if (type != kEtherTypeIpv4) return Parsed::kOther;
  if (l3.size() < sizeof(Ipv4Header)) return Parsed::kBad;
  const auto *ip = reinterpret_cast<const Ipv4Header *>(l3.data());
  const size_t ihl = size_t{ip->version_ihl & 0x0fu} * 4;
  if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(Ipv4Header)) return Parsed::kBad;
  const size_t total = ip->total_length.get();
  if (total < ihl + sizeof(UdpHeader) || total > l3.size()) return Parsed::kBad;
  if (ip->proto != kIpProtoUdp) return Parsed::kOther;
  if ((ip->frag.get() & 0x3fff) != 0) return Parsed::kOther;  // fragments are not ours
  if (verify_checksums &&
      csum_fold(csum_add(0, {reinterpret_cast<const uint8_t *>(ip), ihl})) != 0xffff)
    return Parsed::kBad;
  const auto *udp = reinterpret_cast<const UdpHeader *>(l3.data() + ihl);
  const size_t ulen = udp->length.get();
  if (ulen < sizeof(UdpHeader) || ulen > total - ihl) return Parsed::kBad;
  std::span<const uint8_t> payload = l3.subspan(ihl + sizeof(UdpHeader), ulen - sizeof(UdpHeader));
  if (verify_checksums && udp->checksum.get() != 0) {
    uint32_t s = pseudo_sum(*ip, static_cast<uint16_t>(ulen));
    s = csum_add(s, {reinterpret_cast<const uint8_t *>(udp), ulen});
    if (csum_fold(s) != 0xffff) return Parsed::kBad;
  }
  v = UdpView{eth, ip, udp, payload};
  return Parsed::kUdp;
}

void build_arp(uint8_t *out, uint16_t op, const Mac &src_mac, uint32_t src_ip, const Mac &dst_mac,
               uint32_t dst_ip) {
  auto *eth = reinterpret_cast<EtherHeader *>(out);
  eth->dst = op == 1 ? kBroadcast : dst_mac;
  eth->src = src_mac;
  eth->type.set(kEtherTypeArp);
  auto *a = reinterpret_cast<ArpPacket *>(out + sizeof(EtherHeader));
  a->htype.set(1);
  a->ptype.set(kEtherTypeIpv4);
  a->hlen = 6;
  a->plen = 4;
  a->op.set(op);
  a->sha = src_mac;
  a->spa.set(src_ip);
  a->tha = op == 1 ? Mac{} : dst_mac;
  a->tpa.set(dst_ip);
}

}  // namespace ferry::engine::net
