#include "wire.h"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "lab.h"

namespace ferry::testing {

namespace {

constexpr size_t kEth = 14;

// A packet socket on `iface` in `ns` (made from this thread while it is inside the namespace;
// the socket stays there).
int packet_socket(const std::string &ns, const std::string &iface) {
  InNetns in(ns);
  if (!in.ok()) return -1;
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) return -1;
  sockaddr_ll a{};
  a.sll_family = AF_PACKET;
  a.sll_protocol = htons(ETH_P_ALL);
  a.sll_ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
  if (a.sll_ifindex == 0 || bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

uint16_t ip_checksum(const uint8_t *p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

Capture::Capture(const std::string &ns, const std::string &iface) : fd_(packet_socket(ns, iface)) {}

Capture::~Capture() {
  if (run_) stop();
  if (fd_ >= 0) close(fd_);
}

void Capture::start() {
  // Drop what queued before the start.
  uint8_t junk[16];
  while (recv(fd_, junk, sizeof(junk), MSG_DONTWAIT) >= 0) {
  }
  run_ = true;
  t_ = std::thread([this] {
    std::vector<uint8_t> buf(65536);
    while (run_.load()) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      sockaddr_ll from{};
      socklen_t len = sizeof(from);
      ssize_t n =
          recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&from), &len);
      if (n <= 0) continue;
      Packet pk;
      pk.bytes.assign(buf.begin(), buf.begin() + n);
      pk.outgoing = from.sll_pkttype == PACKET_OUTGOING;
      std::lock_guard lk(mu_);
      got_.push_back(std::move(pk));
    }
  });
}

std::vector<Packet> Capture::stop() {
  run_ = false;
  if (t_.joinable()) t_.join();
  std::lock_guard lk(mu_);
  return std::move(got_);
}

Injector::Injector(const std::string &ns, const std::string &iface)
    : fd_(packet_socket(ns, iface)) {}

Injector::~Injector() {
  if (fd_ >= 0) close(fd_);
}

bool Injector::send(const std::vector<uint8_t> &eth) {
  return ::send(fd_, eth.data(), eth.size(), 0) == static_cast<ssize_t>(eth.size());
}

std::span<const uint8_t> udp_payload(const Packet &p, const char *src_ip, const char *dst_ip,
                                     uint16_t port) {
  const auto &b = p.bytes;
  if (b.size() < kEth + sizeof(iphdr) + sizeof(udphdr)) return {};
  if (b[12] != 0x08 || b[13] != 0x00) return {};
  iphdr ip;
  std::memcpy(&ip, b.data() + kEth, sizeof(ip));
  const size_t ihl = ip.ihl * 4u;
  if (ip.version != 4 || ip.protocol != IPPROTO_UDP || ihl < sizeof(iphdr)) return {};
  in_addr s{}, d{};
  inet_pton(AF_INET, src_ip, &s);
  inet_pton(AF_INET, dst_ip, &d);
  if (ip.saddr != s.s_addr || ip.daddr != d.s_addr) return {};
  if (b.size() < kEth + ihl + sizeof(udphdr)) return {};
  udphdr u;
  std::memcpy(&u, b.data() + kEth + ihl, sizeof(u));
  if (ntohs(u.dest) != port) return {};
  const size_t ulen = ntohs(u.len);
  if (ulen < sizeof(udphdr) || kEth + ihl + ulen > b.size()) return {};
  return {b.data() + kEth + ihl + sizeof(udphdr), ulen - sizeof(udphdr)};
}

std::vector<uint8_t> with_udp_payload(const Packet &tmpl, std::span<const uint8_t> payload) {
  iphdr ip;
  std::memcpy(&ip, tmpl.bytes.data() + kEth, sizeof(ip));
  const size_t ihl = ip.ihl * 4u;
  std::vector<uint8_t> out(tmpl.bytes.begin(), tmpl.bytes.begin() + kEth + ihl + sizeof(udphdr));
  out.insert(out.end(), payload.begin(), payload.end());
  ip.tot_len = htons(static_cast<uint16_t>(ihl + sizeof(udphdr) + payload.size()));
  ip.check = 0;
  std::memcpy(out.data() + kEth, &ip, sizeof(ip));
  ip.check = htons(ip_checksum(out.data() + kEth, ihl));
  std::memcpy(out.data() + kEth, &ip, sizeof(ip));
  udphdr u;
  std::memcpy(&u, out.data() + kEth + ihl, sizeof(u));
  u.len = htons(static_cast<uint16_t>(sizeof(udphdr) + payload.size()));
  u.check = 0;
  std::memcpy(out.data() + kEth + ihl, &u, sizeof(u));
  return out;
}

size_t count_occurrences(const std::vector<Packet> &cap, std::span<const uint8_t> needle) {
  size_t n = 0;
  for (const Packet &p : cap) {
    auto it = p.bytes.begin();
    while ((it = std::search(it, p.bytes.end(), needle.begin(), needle.end())) != p.bytes.end()) {
      ++n;
      ++it;
    }
  }
  return n;
}

}  // namespace ferry::testing
