// Small slow-path helpers shared by the kernel transports.
#pragma once

#include <netinet/in.h>

#include <string>

#include "ferry/engine/options.h"

namespace ferry::engine {

// IPv4 socket address of an endpoint; throws std::runtime_error naming `what` if the IP does
// not parse. An empty IP means INADDR_ANY.
sockaddr_in to_sockaddr(const Endpoint &ep, const char *what);
// "a.b.c.d:port" for messages.
std::string to_string(const sockaddr_in &a);
// Throws std::runtime_error("<what>: <strerror(errno)>").
[[noreturn]] void throw_errno(const std::string &what);

// Waits up to `us` microseconds for `fd` to become readable (fd < 0: just sleeps).
void wait_readable(int fd, uint32_t us);

// RAII file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd &&o) noexcept : fd_(o.release()) {}
  Fd &operator=(Fd &&o) noexcept;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace ferry::engine
