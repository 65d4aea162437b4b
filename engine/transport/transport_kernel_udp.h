// kernel-udp: one non-blocking UDP socket bound to the local endpoint, frames sent to the
// configured peer with sendmmsg and received with recvmmsg in batches of up to 32; datagrams
// from anyone but the peer are dropped and counted. Optional SO_BUSY_POLL.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <vector>

#include "ferry/engine/transport.h"
#include "transport/socket_util.h"

namespace ferry::engine {

class KernelUdpTransport final : public Transport {
 public:
  explicit KernelUdpTransport(const TransportOptions &cfg);

  std::string_view name() const override { return "kernel-udp"; }
  bool reliable() const override { return false; }
  size_t max_frame() const override { return max_frame_; }
  int send(std::span<const FrameView> frames) override;
  int recv(std::span<FrameView> out) override;
  void idle_wait(uint32_t us) override;

  // The port the socket is bound to (useful when the configuration asked for port 0).
  uint16_t local_port() const;

 private:
  Fd fd_;
  sockaddr_in peer_{};
  size_t max_frame_;
  uint32_t tx_retries_;
  std::vector<uint8_t> rx_buf_;  // kBurst buffers of max_frame_ + 1 (the +1 detects truncation)
  mmsghdr rx_msgs_[kBurst];
  iovec rx_iov_[kBurst];
  sockaddr_in rx_from_[kBurst];
};

}  // namespace ferry::engine
