// Helpers for in-process engine tests: transport configurations on loopback and a loop that
// drives two engines from one thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <functional>
#include <memory>

#include "ferry/engine/engine.h"
#include "ferry/proto/idle.h"
#include "lab.h"

namespace ferry::testing {

// A transport and the reliability an engine runs over it, set together as a test sets them.
struct TestLink : engine::TransportOptions {
  uint32_t retransmit_us = 2000;
  uint32_t max_retransmit_us = 50000;
  uint32_t window_frames = 64;
};

inline TestLink kernel_cfg(engine::TransportOptions::Kind kind, const char *local_ip,
                           uint16_t local_port, const char *peer_ip, uint16_t peer_port) {
  TestLink t;
  t.kind = kind;
  t.local = {local_ip, local_port};
  t.peer = {peer_ip, peer_port};
  return t;
}

// The engine options of `t`, with housekeeping every 64 iterations.
inline engine::EngineOptions opts(const TestLink &t) {
  engine::EngineOptions o;
  o.window_frames = t.window_frames;
  o.retransmit_us = t.retransmit_us;
  o.max_retransmit_us = t.max_retransmit_us;
  o.housekeeping_every = 64;
  return o;
}

// Two kernel-UDP engine endpoints on loopback, each the other's peer.
struct UdpPair {
  uint16_t pa = free_port(SOCK_DGRAM), pb = free_port(SOCK_DGRAM);
  TestLink ca =
      kernel_cfg(engine::TransportOptions::Kind::kKernelUdp, "127.0.0.1", pa, "127.0.0.1", pb);
  TestLink cb =
      kernel_cfg(engine::TransportOptions::Kind::kKernelUdp, "127.0.0.1", pb, "127.0.0.1", pa);
  std::unique_ptr<engine::Engine> make(engine::RecordHandler &h, bool side_a) {
    const auto &c = side_a ? ca : cb;
    return std::make_unique<engine::Engine>(engine::make_transport(c, engine::Role::kConnect), h,
                                            opts(c));
  }
};

// Runs both engines (and their housekeeping every 64 iterations) until done() or timeout.
inline bool drive(engine::Engine &a, engine::Engine &b, const std::function<bool()> &done,
                  int timeout_ms = 20000) {
  const uint64_t end = proto::now_ns() + uint64_t(timeout_ms) * 1000000;
  for (uint64_t i = 0;; ++i) {
    const uint64_t now = proto::now_ns();
    if (done()) return true;
    if (now > end) return false;
    if (i % 64 == 0) {
      a.housekeeping(now);
      b.housekeeping(now);
    }
    a.run_once(now);
    b.run_once(now);
  }
}

// A plain UDP socket on 127.0.0.1 for tests that play the peer by hand.
struct RawUdp {
  int fd;
  uint16_t port;
  RawUdp() { fd = bind_loopback(SOCK_DGRAM, SOCK_NONBLOCK, port); }
  ~RawUdp() { close(fd); }
  ssize_t recv(std::vector<uint8_t> &buf) {
    buf.resize(65536);
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    buf.resize(n > 0 ? n : 0);
    return n;
  }
  void send_to(uint16_t port_to, const void *p, size_t n) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_to);
    sendto(fd, p, n, 0, reinterpret_cast<sockaddr *>(&a), sizeof(a));
  }
};

}  // namespace ferry::testing
