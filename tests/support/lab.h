// The lab of the engine, services, faults and attacks tests: a veth pair between two network
// namespaces made for the test (names unique per test process, so two runs on one machine do
// not collide), entering a namespace from a thread, free ports, and child processes with logs.
// Plumbing is scripts/netns.sh.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::testing {

std::string source_root();
std::string build_root();
bool running_as_root();

// Two namespaces NS_A, NS_B and a veth IF_A <-> IF_B, 198.18.0.1 (a) and 198.18.0.2 (b).
// An end made with kernel_ip = false has no kernel address (a DPDK port takes it).
class VethLab {
 public:
  VethLab(bool kernel_ip_a, bool kernel_ip_b, unsigned mtu = 1500);
  ~VethLab();
  bool ok() const { return ok_; }
  const std::string &error() const { return error_; }
  std::string ns_a, ns_b, if_a, if_b;
  static constexpr const char *kIpA = "198.18.0.1";
  static constexpr const char *kIpB = "198.18.0.2";

 private:
  bool ok_ = false;
  std::string error_;
};

// Moves the calling thread into a network namespace until destroyed. Sockets made meanwhile
// stay in that namespace.
class InNetns {
 public:
  explicit InNetns(const std::string &ns);
  ~InNetns();
  bool ok() const { return ok_; }

 private:
  int saved_ = -1;
  bool ok_ = false;
};

// A port no socket of `type` (SOCK_DGRAM, SOCK_STREAM) is bound to on 127.0.0.1 right now.
uint16_t free_port(int type);
// A socket of `type` bound to 127.0.0.1 on a port the kernel picks (in `port`); -1 on failure.
int bind_loopback(int type, int flags, uint16_t &port);

// Runs 'sh -c' style commands; returns the exit status (or -1).
int run_cmd(const std::string &cmd);
// Writes a fresh random pre-shared key (64 hex digits, mode 0600) to `path`; 0 on success.
int write_random_psk(const std::string &path);
// True if hugetlbfs has at least `pages` free 2 MiB pages (reserving them if needed).
bool ensure_hugepages(unsigned pages);

// A child process; killed (SIGTERM, then SIGKILL) if still running when destroyed.
class Child {
 public:
  Child() = default;
  // argv[0] is looked up in PATH; stdout and stderr go to `log`.
  Child(const std::vector<std::string> &argv, const std::string &log);
  Child(Child &&o) noexcept : pid_(o.pid_), log_(std::move(o.log_)) { o.pid_ = -1; }
  Child &operator=(Child &&o) noexcept {
    if (this != &o) {
      if (pid_ > 0) stop(2000);
      pid_ = o.pid_;
      status_ = o.status_;
      log_ = std::move(o.log_);
      o.pid_ = -1;
    }
    return *this;
  }
  ~Child();
  pid_t pid() const { return pid_; }
  bool running();
  // Waits up to timeout_ms; returns the exit status, or -1 on timeout / signal.
  int wait(int timeout_ms);
  // SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit status or -1.
  int stop(int timeout_ms = 3000);
  std::string log_tail(size_t bytes = 4000) const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_;
};

// Waits until `path` exists or the child exits; false on timeout or exit.
bool wait_for_file(const std::string &path, Child &c, int timeout_ms);

}  // namespace ferry::testing

namespace ferry::testing {
// Removes what an exited DPDK process left under /var/run/dpdk/<prefix>.
void remove_dpdk_runtime(const std::string &file_prefix);
// Sends one command to a DPDK process's telemetry socket (the protocol dpdk-telemetry.py
// speaks: /var/run/dpdk/<prefix>/dpdk_telemetry.v2, SOCK_SEQPACKET) and returns the JSON
// reply, or "" on failure.
std::string telemetry_query(const std::string &file_prefix, const std::string &cmd);
// The same on the telemetry socket at `socket_path` (a process's own: its EAL runtime dir).
std::string telemetry_query_socket(const std::string &socket_path, const std::string &cmd);
// Pulls an unsigned value `"key": N` out of a telemetry JSON reply; -1 if absent.
long long json_uint(const std::string &json, const std::string &key);
}  // namespace ferry::testing
