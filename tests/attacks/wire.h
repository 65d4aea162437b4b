// The attacker's tools on the wire: an AF_PACKET capture of one interface in a network
// namespace, raw injection of Ethernet frames on it, and the UDP/IPv4 framing around ferry
// frames (kernel-udp carries one ferry frame per UDP datagram).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace ferry::testing {

struct Packet {
  std::vector<uint8_t> bytes;  // the Ethernet frame
  bool outgoing = false;       // sent by this namespace (PACKET_OUTGOING)
};

// Captures every frame of `iface` inside namespace `ns` while running.
class Capture {
 public:
  Capture(const std::string &ns, const std::string &iface);
  ~Capture();
  bool ok() const { return fd_ >= 0; }
  void start();
  std::vector<Packet> stop();

 private:
  int fd_ = -1;
  std::atomic<bool> run_{false};
  std::thread t_;
  std::mutex mu_;
  std::vector<Packet> got_;
};

// Sends raw Ethernet frames out of `iface` inside namespace `ns`.
class Injector {
 public:
  Injector(const std::string &ns, const std::string &iface);
  ~Injector();
  bool ok() const { return fd_ >= 0; }
  bool send(const std::vector<uint8_t> &eth);

 private:
  int fd_ = -1;
};

// The UDP payload of an Ethernet/IPv4/UDP frame between the two addresses and port, or an
// empty span when the frame is something else.
std::span<const uint8_t> udp_payload(const Packet &p, const char *src_ip, const char *dst_ip,
                                     uint16_t port);
// A new Ethernet frame with the headers of `tmpl` (a frame udp_payload() accepted) carrying
// `payload`: IPv4 total length and checksum recomputed, UDP length set, UDP checksum 0 (none).
std::vector<uint8_t> with_udp_payload(const Packet &tmpl, std::span<const uint8_t> payload);

// Counts occurrences of `needle` in every captured frame.
size_t count_occurrences(const std::vector<Packet> &cap, std::span<const uint8_t> needle);

}  // namespace ferry::testing
