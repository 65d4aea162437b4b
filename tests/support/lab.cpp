#include "lab.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

extern char **environ;

namespace ferry::testing {

std::string source_root() {
  return FERRY_SOURCE_ROOT;
}
std::string build_root() {
  return FERRY_BUILD_ROOT;
}
bool running_as_root() {
  return geteuid() == 0;
}

int run_cmd(const std::string &cmd) {
  int r = std::system(cmd.c_str());
  return r == -1 ? -1 : WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

int write_random_psk(const std::string &path) {
  return run_cmd("od -An -tx1 -N32 /dev/urandom | tr -d ' \\n' > " + path + " && chmod 600 " +
                 path);
}

VethLab::VethLab(bool kernel_ip_a, bool kernel_ip_b, unsigned mtu) {
  const std::string id = std::to_string(getpid() % 100000);
  ns_a = "fe" + id + "a";
  ns_b = "fe" + id + "b";
  if_a = "fe" + id + "a0";
  if_b = "fe" + id + "b0";
  const std::string cmd = source_root() + "/scripts/netns.sh up " + ns_a + " " + ns_b + " " + if_a +
                          " " + if_b + " " + (kernel_ip_a ? kIpA : "-") + " " +
                          (kernel_ip_b ? kIpB : "-") + " " + std::to_string(mtu) + " 2>&1";
  ok_ = run_cmd(cmd + " >/tmp/ferry-netns-" + id + ".log") == 0;
  if (ok_) std::remove(("/tmp/ferry-netns-" + id + ".log").c_str());
  if (!ok_) {
    std::ifstream f("/tmp/ferry-netns-" + id + ".log");
    std::stringstream ss;
    ss << f.rdbuf();
    error_ = "netns.sh up failed: " + ss.str();
  }
}

VethLab::~VethLab() {
  run_cmd(source_root() + "/scripts/netns.sh down " + ns_a + " " + ns_b + " >/dev/null 2>&1");
}

InNetns::InNetns(const std::string &ns) {
  saved_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int fd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  ok_ = saved_ >= 0 && fd >= 0 && setns(fd, CLONE_NEWNET) == 0;
  if (fd >= 0) close(fd);
}

InNetns::~InNetns() {
  if (saved_ >= 0) {
    setns(saved_, CLONE_NEWNET);
    close(saved_);
  }
}

int bind_loopback(int type, int flags, uint16_t &port) {
  int fd = socket(AF_INET, type | flags, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

uint16_t free_port(int type) {
  uint16_t port = 0;
  close(bind_loopback(type, 0, port));
  return port;
}

bool ensure_hugepages(unsigned pages) {
  return run_cmd(source_root() + "/scripts/netns.sh hugepages " + std::to_string(pages) +
                 " >/dev/null 2>&1") == 0;
}

Child::Child(const std::vector<std::string> &argv, const std::string &log) : log_(log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char *> args;
  for (const auto &s : argv) args.push_back(const_cast<char *>(s.c_str()));
  args.push_back(nullptr);
  if (posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&fa);
}

Child::~Child() {
  if (pid_ > 0) stop(2000);
}

bool Child::running() {
  if (pid_ <= 0) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    pid_ = -1;
    return false;
  }
  return true;
}

int Child::wait(int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (running()) {
    if (std::chrono::steady_clock::now() > end) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

int Child::stop(int timeout_ms) {
  if (!running()) return status_;
  kill(pid_, SIGTERM);
  int r = wait(timeout_ms);
  if (running()) {
    kill(pid_, SIGKILL);
    wait(2000);
    return -1;
  }
  return r;
}

std::string Child::log_tail(size_t bytes) const {
  std::ifstream f(log_);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

bool wait_for_file(const std::string &path, Child &c, int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  struct stat st;
  while (std::chrono::steady_clock::now() < end) {
    if (stat(path.c_str(), &st) == 0) return true;
    if (!c.running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace ferry::testing

namespace ferry::testing {

void remove_dpdk_runtime(const std::string &file_prefix) {
  if (file_prefix.empty() || file_prefix.find('/') != std::string::npos) return;
  run_cmd("rm -rf /var/run/dpdk/" + file_prefix);
}

std::string telemetry_query(const std::string &file_prefix, const std::string &cmd) {
  return telemetry_query_socket("/var/run/dpdk/" + file_prefix + "/dpdk_telemetry.v2", cmd);
}

std::string telemetry_query_socket(const std::string &path, const std::string &cmd) {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0) {
    std::vector<char> buf(1 << 16);
    ssize_t n = read(fd, buf.data(), buf.size());  // the greeting: version, pid, max_output_len
    if (n > 0 && write(fd, cmd.data(), cmd.size()) == static_cast<ssize_t>(cmd.size())) {
      n = read(fd, buf.data(), buf.size());
      if (n > 0) out.assign(buf.data(), static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

long long json_uint(const std::string &json, const std::string &key) {
  std::smatch m;
  if (std::regex_search(json, m, std::regex("\"" + key + "\": *(\\d+)"))) return std::stoll(m[1]);
  return -1;
}

}  // namespace ferry::testing
