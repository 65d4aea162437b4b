// kernel-tcp: one TCP connection with TCP_NODELAY carrying frames prefixed by their 32-bit
// little-endian length. The data plane connects (and reconnects after a drop); the device node
// listens and takes the newest connection (a reconnecting peer replaces the old one). The
// kernel provides reliability and order: the engine adds no acks. A length outside
// [FrameHeader, max_frame] is a protocol error that closes the connection.
#pragma once

#include <netinet/in.h>

#include <vector>

#include "ferry/engine/transport.h"
#include "transport/socket_util.h"

namespace ferry::engine {

class KernelTcpTransport final : public Transport {
 public:
  KernelTcpTransport(const TransportOptions &cfg, Role role);

  std::string_view name() const override { return "kernel-tcp"; }
  bool reliable() const override { return true; }
  size_t max_frame() const override { return max_frame_; }
  int send(std::span<const FrameView> frames) override;
  int recv(std::span<FrameView> out) override;
  void maintain(uint64_t now_ns) override;
  void idle_wait(uint32_t us) override;
  uint64_t link_generation() const override { return generation_; }
  bool link_up() const override { return connected_; }

  // The listening port (useful when the configuration asked for port 0).
  uint16_t listen_port() const;
  // Test seam: close the connection as a network failure would.
  void drop_connection() { disconnect(); }

 private:
  void disconnect();
  void adopt(int fd);
  void try_connect(uint64_t now_ns);
  bool flush_pending();

  Role role_;
  sockaddr_in local_{}, peer_{};
  size_t max_frame_;
  Fd listen_fd_, conn_;
  bool connected_ = false, connecting_ = false;
  uint64_t next_attempt_ns_ = 0;
  uint64_t generation_ = 0;  // bumped when a connection that carried data is lost
  // Reassembly: bytes [rx_start_, rx_end_) are unparsed; frames handed out by recv() point
  // into the buffer and stay valid until the next recv(), which compacts first.
  std::vector<uint8_t> rx_;
  size_t rx_start_ = 0, rx_end_ = 0;
  // The unwritten tail of a frame the socket took only partly.
  std::vector<uint8_t> tx_pending_;
  size_t tx_off_ = 0, tx_len_ = 0;
};

}  // namespace ferry::engine
