#include "transport/transport_kernel_tcp.h"

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "ferry/proto/frame.h"

namespace ferry::engine {

namespace {
constexpr size_t kRxBuffer = 256 * 1024;
constexpr uint64_t kReconnectNs = 100 * 1000 * 1000;

void set_stream_options(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}
}  // namespace

KernelTcpTransport::KernelTcpTransport(const TransportOptions &cfg, Role role)
    : role_(role),
      local_(to_sockaddr(cfg.local, "transport.local.ip")),
      peer_(to_sockaddr(cfg.peer, "transport.peer.ip")),
      max_frame_(proto::kMaxFrameSize),
      rx_(kRxBuffer + 4 + proto::kMaxFrameSize),
      tx_pending_(4 + proto::kMaxFrameSize) {
  if (role_ == Role::kListen) {
    listen_fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!listen_fd_) throw_errno("kernel-tcp: socket");
    int one = 1;
    setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr *>(&local_), sizeof(local_)) != 0)
      throw_errno("kernel-tcp: bind " + to_string(local_));
    if (::listen(listen_fd_.get(), 4) != 0) throw_errno("kernel-tcp: listen");
  } else if (cfg.peer.ip.empty() || cfg.peer.port == 0) {
    throw std::runtime_error("kernel-tcp: transport.peer needs an ip and a port to connect to");
  }
}

uint16_t KernelTcpTransport::listen_port() const {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(listen_fd_.get(), reinterpret_cast<sockaddr *>(&a), &len);
  return ntohs(a.sin_port);
}

void KernelTcpTransport::disconnect() {
  if (connected_) {
    ++generation_;
    counters_.disconnects.add();
  }
  conn_.reset();
  connected_ = connecting_ = false;
  rx_start_ = rx_end_ = 0;
  tx_off_ = tx_len_ = 0;
  next_attempt_ns_ = 0;
}

void KernelTcpTransport::adopt(int fd) {
  disconnect();  // a newer connection replaces the old one
  set_stream_options(fd);
  conn_.reset(fd);
  connected_ = true;
  counters_.connects.add();
}

void KernelTcpTransport::try_connect(uint64_t now_ns) {
  if (connecting_) {
    pollfd p{conn_.get(), POLLOUT, 0};
    if (::poll(&p, 1, 0) <= 0) return;
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(conn_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0) {
      int fd = conn_.release();
      connecting_ = false;
      adopt(fd);
      return;
    }
    conn_.reset();
    connecting_ = false;
    next_attempt_ns_ = now_ns + kReconnectNs;
    return;
  }
  if (now_ns < next_attempt_ns_) return;
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return;
  sockaddr_in from = local_;
  from.sin_port = 0;  // an ephemeral port: a reconnect must not collide with TIME_WAIT
  if (local_.sin_addr.s_addr != htonl(INADDR_ANY))
    ::bind(fd.get(), reinterpret_cast<sockaddr *>(&from), sizeof(from));
  int r = ::connect(fd.get(), reinterpret_cast<sockaddr *>(&peer_), sizeof(peer_));
  if (r == 0) {
    adopt(fd.release());
  } else if (errno == EINPROGRESS) {
    conn_ = std::move(fd);
    connecting_ = true;
  } else {
    next_attempt_ns_ = now_ns + kReconnectNs;
  }
}

void KernelTcpTransport::maintain(uint64_t now_ns) {
  if (role_ == Role::kListen) {
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) adopt(fd);
  } else if (!connected_) {
    try_connect(now_ns);
  }
}

void KernelTcpTransport::idle_wait(uint32_t us) {
  // Connected: wake on data. Otherwise on a connection to accept (listener) or just sleep.
  wait_readable(connected_ ? conn_.get() : listen_fd_.get(), us);
}

bool KernelTcpTransport::flush_pending() {
  while (tx_off_ < tx_len_) {
    ssize_t w = ::send(conn_.get(), tx_pending_.data() + tx_off_, tx_len_ - tx_off_,
                       MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
      disconnect();
      return false;
    }
    counters_.bytes_tx.add(w);
    tx_off_ += static_cast<size_t>(w);
  }
  tx_off_ = tx_len_ = 0;
  return true;
}

int KernelTcpTransport::send(std::span<const FrameView> frames) {
  if (!connected_ || !flush_pending()) return 0;
  const int n = static_cast<int>(std::min<size_t>(frames.size(), kBurst));
  uint8_t prefix[kBurst][4];
  iovec iov[2 * kBurst];
  int m = 0;
  for (int i = 0; i < n; ++i) {
    if (test_drop_this()) {  // on a stream, a lost frame means a lost connection
      if (m == 0) {
        disconnect();
        return 0;
      }
      break;
    }
    const uint32_t len = static_cast<uint32_t>(frames[i].size());
    proto::le32 le;
    le.set(len);
    std::memcpy(prefix[m], &le, 4);
    iov[2 * m] = {prefix[m], 4};
    iov[2 * m + 1] = {const_cast<uint8_t *>(frames[i].data()), len};
    ++m;
  }
  msghdr h{};
  h.msg_iov = iov;
  h.msg_iovlen = static_cast<size_t>(2 * m);
  ssize_t w = ::sendmsg(conn_.get(), &h, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) disconnect();
    return 0;
  }
  counters_.bytes_tx.add(w);
  // Frames written completely are consumed; a frame written in part is consumed too and its
  // tail kept, so the stream never carries half a frame followed by another.
  size_t left = static_cast<size_t>(w);
  int consumed = 0;
  for (int i = 0; i < m && left > 0; ++i) {
    const size_t flen = 4 + frames[i].size();
    if (left >= flen) {
      left -= flen;
      ++consumed;
      continue;
    }
    size_t done = left;  // bytes of this frame (prefix included) already written
    tx_len_ = 0;
    for (size_t k = done; k < 4; ++k) tx_pending_[tx_len_++] = prefix[i][k];
    size_t body_done = done > 4 ? done - 4 : 0;
    std::memcpy(tx_pending_.data() + tx_len_, frames[i].data() + body_done,
                frames[i].size() - body_done);
    tx_len_ += frames[i].size() - body_done;
    tx_off_ = 0;
    left = 0;
    ++consumed;
  }
  counters_.frames_tx.add(consumed);
  return consumed;
}

int KernelTcpTransport::recv(std::span<FrameView> out) {
  if (!connected_ || out.empty()) return 0;
  // The frames handed out last time are no longer in use: compact.
  if (rx_start_ > 0) {
    std::memmove(rx_.data(), rx_.data() + rx_start_, rx_end_ - rx_start_);
    rx_end_ -= rx_start_;
    rx_start_ = 0;
  }
  if (rx_end_ < rx_.size()) {
    ssize_t r = ::recv(conn_.get(), rx_.data() + rx_end_, rx_.size() - rx_end_, MSG_DONTWAIT);
    if (r == 0) {
      disconnect();
      return 0;
    }
    if (r < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        disconnect();
        return 0;
      }
    } else {
      rx_end_ += static_cast<size_t>(r);
      counters_.bytes_rx.add(r);
    }
  }
  int n = 0;
  size_t pos = rx_start_;
  while (n < static_cast<int>(out.size()) && rx_end_ - pos >= 4) {
    proto::le32 le;
    std::memcpy(&le, rx_.data() + pos, 4);
    const uint32_t len = le.get();
    if (len < sizeof(proto::FrameHeader) || len > max_frame_) {
      // Not a frame boundary: the stream cannot be trusted any further.
      counters_.rx_dropped.add();
      disconnect();
      return 0;
    }
    if (rx_end_ - pos - 4 < len) break;  // the rest has not arrived yet
    out[n++] = FrameView(rx_.data() + pos + 4, len);
    pos += 4 + len;
  }
  rx_start_ = pos;
  counters_.frames_rx.add(n);
  return n;
}

}  // namespace ferry::engine
