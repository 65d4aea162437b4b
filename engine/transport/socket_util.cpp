#include "transport/socket_util.h"

#include <arpa/inet.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ferry::engine {

sockaddr_in to_sockaddr(const Endpoint &ep, const char *what) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(ep.port);
  if (ep.ip.empty()) {
    a.sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (inet_pton(AF_INET, ep.ip.c_str(), &a.sin_addr) != 1) {
    throw std::runtime_error(std::string(what) + ": not an IPv4 address: '" + ep.ip + "'");
  }
  return a;
}

std::string to_string(const sockaddr_in &a) {
  char ip[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
  return std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

void throw_errno(const std::string &what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void wait_readable(int fd, uint32_t us) {
  timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
  if (fd < 0) {
    nanosleep(&ts, nullptr);
    return;
  }
  pollfd p{fd, POLLIN, 0};
  ppoll(&p, 1, &ts, nullptr);
}

Fd &Fd::operator=(Fd &&o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace ferry::engine
