#include "transport/transport_kernel_udp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "ferry/proto/frame.h"

namespace ferry::engine {

namespace {
constexpr size_t kIpUdpHeaders = 20 + 8;
}

KernelUdpTransport::KernelUdpTransport(const TransportOptions &cfg)
    : peer_(to_sockaddr(cfg.peer, "transport.peer.ip")),
      max_frame_(std::min<size_t>(cfg.mtu > kIpUdpHeaders ? cfg.mtu - kIpUdpHeaders : 0,
                                  proto::kMaxFrameSize)),
      tx_retries_(cfg.tx_retries) {
  if (cfg.peer.ip.empty() || cfg.peer.port == 0)
    throw std::runtime_error("kernel-udp: transport.peer needs an ip and a port");
  sockaddr_in local = to_sockaddr(cfg.local, "transport.local.ip");
  fd_.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd_) throw_errno("kernel-udp: socket");
  int one = 1;
  setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int bufsz = 4 << 20;  // room for a full window of frames each way
  setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
  setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
  if (cfg.busy_poll_us > 0) {
    int us = static_cast<int>(cfg.busy_poll_us);
    if (setsockopt(fd_.get(), SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us)) != 0)
      throw_errno("kernel-udp: SO_BUSY_POLL (needs CAP_NET_ADMIN)");
  }
  if (::bind(fd_.get(), reinterpret_cast<sockaddr *>(&local), sizeof(local)) != 0)
    throw_errno("kernel-udp: bind " + to_string(local));

  rx_buf_.resize(kBurst * (max_frame_ + 1));
  for (int i = 0; i < kBurst; ++i) {
    rx_iov_[i] = {rx_buf_.data() + i * (max_frame_ + 1), max_frame_ + 1};
    std::memset(&rx_msgs_[i], 0, sizeof(rx_msgs_[i]));
  }
}

void KernelUdpTransport::idle_wait(uint32_t us) {
  wait_readable(fd_.get(), us);
}

uint16_t KernelUdpTransport::local_port() const {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(fd_.get(), reinterpret_cast<sockaddr *>(&a), &len);
  return ntohs(a.sin_port);
}

int KernelUdpTransport::send(std::span<const FrameView> frames) {
  const int n = static_cast<int>(std::min<size_t>(frames.size(), kBurst));
  mmsghdr msgs[kBurst];
  iovec iov[kBurst];
  int m = 0;
  for (int i = 0; i < n; ++i) {
    if (test_drop_this()) continue;
    if (__builtin_expect(frames[i].size() > max_frame_, 0)) {
      counters_.tx_drops.add();
      continue;
    }
    iov[m] = {const_cast<uint8_t *>(frames[i].data()), frames[i].size()};
    std::memset(&msgs[m].msg_hdr, 0, sizeof(msgs[m].msg_hdr));
    msgs[m].msg_hdr.msg_name = &peer_;
    msgs[m].msg_hdr.msg_namelen = sizeof(peer_);
    msgs[m].msg_hdr.msg_iov = &iov[m];
    msgs[m].msg_hdr.msg_iovlen = 1;
    ++m;
  }
  int done = 0;
  for (uint32_t tries = 0; done < m && tries <= tx_retries_;) {
    int r = ::sendmmsg(fd_.get(), msgs + done, static_cast<unsigned>(m - done), MSG_DONTWAIT);
    if (r > 0) {
      for (int i = done; i < done + r; ++i) counters_.bytes_tx.add(iov[i].iov_len);
      done += r;
      counters_.frames_tx.add(r);
      continue;
    }
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINTR) {
      // ECONNREFUSED from an earlier ICMP, EHOSTUNREACH, ...: this datagram is lost.
      counters_.tx_drops.add();
      ++done;
      continue;
    }
    ++tries;
  }
  counters_.tx_drops.add(m - done);  // bounded retry exhausted: reliability will resend
  return n;
}

int KernelUdpTransport::recv(std::span<FrameView> out) {
  const int want = static_cast<int>(std::min<size_t>(out.size(), kBurst));
  if (want == 0) return 0;
  for (int i = 0; i < want; ++i) {
    msghdr &h = rx_msgs_[i].msg_hdr;
    h.msg_name = &rx_from_[i];
    h.msg_namelen = sizeof(rx_from_[i]);
    h.msg_iov = &rx_iov_[i];
    h.msg_iovlen = 1;
    h.msg_control = nullptr;
    h.msg_controllen = 0;
    h.msg_flags = 0;
  }
  int r = ::recvmmsg(fd_.get(), rx_msgs_, static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
  if (r <= 0) return 0;  // EAGAIN, or a queued ICMP error (ECONNREFUSED) with no data
  int n = 0;
  for (int i = 0; i < r; ++i) {
    const size_t len = rx_msgs_[i].msg_len;
    const sockaddr_in &from = rx_from_[i];
    if (len > max_frame_ || (rx_msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) ||
        from.sin_addr.s_addr != peer_.sin_addr.s_addr || from.sin_port != peer_.sin_port) {
      counters_.rx_dropped.add();
      continue;
    }
    counters_.frames_rx.add();
    counters_.bytes_rx.add(len);
    out[n++] = FrameView(static_cast<const uint8_t *>(rx_iov_[i].iov_base), len);
  }
  return n;
}

}  // namespace ferry::engine
