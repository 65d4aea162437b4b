// A UDP datagram on loopback with any source port, sent through a raw IP socket (root): what
// an attacker who forges the peer's address sends. The engine's own transport socket stays
// bound where it is, so the forgery arrives beside the genuine traffic.
#pragma once

#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace ferry::testing {

// Sends `payload` from 127.0.0.1:src_port to 127.0.0.1:dst_port. True if the kernel took it.
inline bool spoof_udp_loopback(uint16_t src_port, uint16_t dst_port,
                               std::span<const uint8_t> payload) {
  const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);  // IPPROTO_RAW: we write the IP header
  if (fd < 0) return false;
  std::vector<uint8_t> pkt(sizeof(iphdr) + sizeof(udphdr) + payload.size());
  iphdr ip{};
  ip.version = 4;
  ip.ihl = 5;
  ip.ttl = 64;
  ip.protocol = IPPROTO_UDP;
  ip.tot_len = htons(static_cast<uint16_t>(pkt.size()));
  ip.saddr = htonl(INADDR_LOOPBACK);
  ip.daddr = htonl(INADDR_LOOPBACK);  // the kernel fills in the IP checksum and id
  udphdr udp{};
  udp.source = htons(src_port);
  udp.dest = htons(dst_port);
  udp.len = htons(static_cast<uint16_t>(sizeof(udphdr) + payload.size()));
  udp.check = 0;  // IPv4: no UDP checksum
  std::memcpy(pkt.data(), &ip, sizeof(ip));
  std::memcpy(pkt.data() + sizeof(ip), &udp, sizeof(udp));
  std::memcpy(pkt.data() + sizeof(ip) + sizeof(udp), payload.data(), payload.size());
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = sendto(fd, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr *>(&to),
                         sizeof(to)) == static_cast<ssize_t>(pkt.size());
  close(fd);
  return ok;
}

}  // namespace ferry::testing
