// The services as their systemd units run them (deploy/systemd): Type=notify readiness
// (READY=1 only once the service serves, STOPPING=1 on SIGTERM), not root but the unit's user
// and capabilities with hugepages, and CPUAffinity= that keeps DPDK's control threads off the
// polling core. The units' own syntax is checked by units_test.sh (systemd-analyze verify).
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lab.h"
#include "require.h"
#include "service_path.h"

namespace {

namespace fs = std::filesystem;
using ferry::testing::Child;

constexpr uid_t kNobody = 65534;

std::string exe(const std::string &service) {
  return std::string(FERRY_BUILD_ROOT) + "/" + ferry::testing::service_path(service);
}

bool exists(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// A datagram socket a service's sd_notify reaches through $NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string &name) : name_(name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (name[0] == '@') a.sun_path[0] = '\0';
    const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr *>(&a), len) == 0;
    timeval tv{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
    if (name_[0] == '/') unlink(name_.c_str());
  }
  bool bound() const { return bound_; }
  // The next message, or "" if none came within about `seconds` (or `c` exited first).
  std::string next(Child &c, int seconds) {
    char buf[4096];
    for (int i = 0; i < seconds; ++i) {
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) return std::string(buf, static_cast<size_t>(n));
      if (!c.running()) return "";
    }
    return "";
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

// The environment variable set for the children started while it lives.
struct ScopedEnv {
  ScopedEnv(const char *k, const std::string &v) : key(k) { setenv(k, v.c_str(), 1); }
  ~ScopedEnv() { unsetenv(key); }
  const char *key;
};

class ServiceUnit : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/ferry-unit-" + std::to_string(getpid());
    prefix_ = "funit" + std::to_string(getpid());
    fs::create_directories(dir_);
    chmod(dir_.c_str(), 0755);
    psk_ = dir_ + "/psk";
    std::ofstream(psk_) << std::string(64, 'a') << "\n";
    port_ = std::to_string(ferry::testing::free_port(SOCK_DGRAM));
  }
  void TearDown() override {
    if (!huge_dir_.empty()) umount2(huge_dir_.c_str(), MNT_DETACH);
    ferry::testing::remove_dpdk_runtime(prefix_);
    std::system(("rm -rf " + dir_).c_str());
  }

  // kernel-udp on loopback toward a peer that is not there; `eal` is the eal mapping's body.
  std::string write_config(const std::string &service, const std::string &eal) const {
    std::ostringstream s;
    s << "eal: {" << eal << ", file_prefix: " << prefix_ << "}\n"
      << "transport:\n  kind: kernel-udp\n"
      << "  local: {ip: 127.0.0.1, port: " << port_ << "}\n"
      << "  peer: {ip: 127.0.0.1, port: 9}\n"
      << "ready_file: " << dir_ << "/ready\n";
    if (service == "ferry-device-node")
      s << "devices:\n  - id: 1\n    guests: [{id: 1, psk_file: " << psk_ << "}]\n    model: edu\n";
    else
      s << "guests:\n  - path: " << region() << "\n    channel: 1\n";
    const std::string path = dir_ + "/" + service + ".yaml";
    std::ofstream(path) << s.str();
    return path;
  }
  std::string region() const { return (huge_dir_.empty() ? dir_ : huge_dir_) + "/region"; }

  std::string dir_, prefix_, psk_, port_, huge_dir_;
};

TEST_F(ServiceUnit,
       the_data_plane_notifies_ready_only_once_its_regions_exist_and_stopping_on_sigterm) {
  FERRY_REQUIRE(geteuid() == 0, "the DPDK EAL (even with no_huge) runs as root here");
  const std::string cfg =
      write_config("ferry-dataplane", "lcores: [0], no_huge: true, memory_mb: 64");
  NotifySocket notify(dir_ + "/notify");
  ASSERT_TRUE(notify.bound());
  ScopedEnv env("NOTIFY_SOCKET", dir_ + "/notify");
  Child dp({exe("ferry-dataplane"), cfg}, dir_ + "/dataplane.log");
  const std::string ready = notify.next(dp, 30);
  // Taken at once: the region and the ready file must already be there when READY=1 is read.
  const bool region_there = exists(region()), ready_file_there = exists(dir_ + "/ready");
  ASSERT_NE(ready.find("READY=1"), std::string::npos) << ready << dp.log_tail();
  EXPECT_NE(ready.find("STATUS=serving"), std::string::npos) << ready;
  EXPECT_TRUE(region_there) << "READY=1 before the guest region existed";
  EXPECT_TRUE(ready_file_there) << "READY=1 before the ready file";
  kill(dp.pid(), SIGTERM);
  EXPECT_EQ(notify.next(dp, 10), "STOPPING=1");
  EXPECT_EQ(dp.wait(10000), 0) << dp.log_tail();
}

TEST_F(ServiceUnit, the_device_node_notifies_an_abstract_notify_socket) {
  FERRY_REQUIRE(geteuid() == 0, "the DPDK EAL (even with no_huge) runs as root here");
  const std::string cfg =
      write_config("ferry-device-node", "lcores: [0], no_huge: true, memory_mb: 64");
  const std::string name = "@ferry-unit-notify-" + std::to_string(getpid());
  NotifySocket notify(name);
  ASSERT_TRUE(notify.bound());
  ScopedEnv env("NOTIFY_SOCKET", name);
  Child dn({exe("ferry-device-node"), cfg}, dir_ + "/device-node.log");
  const std::string ready = notify.next(dn, 30);
  EXPECT_TRUE(exists(dir_ + "/ready"));
  ASSERT_NE(ready.find("READY=1"), std::string::npos) << ready << dn.log_tail();
  EXPECT_EQ(dn.stop(10000), 0) << dn.log_tail();
}

// The capabilities a unit grants (AmbientCapabilities=), as setpriv's list: +ipc_lock,...
std::string unit_capabilities(const std::string &unit) {
  std::ifstream f(std::string(FERRY_SOURCE_ROOT) + "/deploy/systemd/" + unit);
  std::string line, caps;
  while (std::getline(f, line)) {
    if (line.rfind("AmbientCapabilities=", 0) != 0) continue;
    std::istringstream words(line.substr(std::strlen("AmbientCapabilities=")));
    std::string w;
    while (words >> w) {
      if (w.rfind("CAP_", 0) != 0) continue;
      std::string name = w.substr(4);
      for (char &ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      caps += (caps.empty() ? "+" : ",+") + name;
    }
  }
  return caps;
}

// The capability bit set of setpriv's list (+ipc_lock,...); a name this table lacks fails.
uint64_t capability_mask(const std::string &caps) {
  static const std::pair<const char *, int> kBits[] = {
      {"net_admin", 12}, {"net_raw", 13}, {"ipc_lock", 14}, {"sys_admin", 21}, {"bpf", 39}};
  uint64_t mask = 0;
  std::istringstream list(caps);
  std::string item;
  while (std::getline(list, item, ',')) {
    const std::string name = item.substr(1);
    bool known = false;
    for (const auto &[n, bit] : kBits)
      if (name == n) mask |= uint64_t{1} << bit, known = true;
    EXPECT_TRUE(known) << "capability " << name << " missing from the test's table";
  }
  return mask;
}

std::string status_field(pid_t pid, const std::string &field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) {
      const size_t v = line.find_first_not_of(" \t", field.size() + 1);
      return v == std::string::npos ? "" : line.substr(v);
    }
  return "";
}

// As the units run them: not root, only the unit's capabilities, hugepages in a hugetlbfs the
// user may write (tmpfiles.d gives the ferry group /dev/hugepages), DPDK's runtime directory
// under $XDG_RUNTIME_DIR. Both services serve, and answer on their telemetry socket.
TEST_F(ServiceUnit,
       both_services_serve_from_hugepages_as_an_unprivileged_user_with_the_units_capabilities) {
  FERRY_REQUIRE(geteuid() == 0, "changing user and mounting hugetlbfs need root");
  FERRY_REQUIRE(ferry::testing::ensure_hugepages(80), "80 free 2 MiB hugepages");
  huge_dir_ = dir_ + "/huge";
  fs::create_directories(huge_dir_);
  ASSERT_EQ(mount("nodev", huge_dir_.c_str(), "hugetlbfs", 0,
                  "pagesize=2M,uid=65534,gid=65534,mode=0770"),
            0)
      << std::strerror(errno);
  const std::string run = dir_ + "/run";
  fs::create_directories(run);
  ASSERT_EQ(chown(run.c_str(), kNobody, kNobody), 0);
  ASSERT_EQ(chown(psk_.c_str(), kNobody, kNobody), 0);
  ASSERT_EQ(chown(dir_.c_str(), kNobody, kNobody), 0);  // the ready file
  ScopedEnv env("XDG_RUNTIME_DIR", run);
  for (const std::string service : {"ferry-device-node", "ferry-dataplane"}) {
    SCOPED_TRACE(service);
    const std::string caps = unit_capabilities(service + ".service");
    ASSERT_FALSE(caps.empty()) << "no AmbientCapabilities= in the unit";
    const std::string cfg = write_config(
        service, "lcores: [0], memory_mb: 64, extra_args: ['--huge-dir=" + huge_dir_ + "']");
    remove((dir_ + "/ready").c_str());
    Child svc(
        {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all," + caps,
         "--ambient-caps=-all," + caps, "--bounding-set=-all," + caps, exe(service), cfg},
        dir_ + "/" + service + ".log");
    ASSERT_TRUE(ferry::testing::wait_for_file(dir_ + "/ready", svc, 30000)) << svc.log_tail();
    EXPECT_EQ(status_field(svc.pid(), "Uid").substr(0, 5), "65534")
        << status_field(svc.pid(), "Uid");
    EXPECT_EQ(std::stoull(status_field(svc.pid(), "CapEff"), nullptr, 16), capability_mask(caps))
        << "the service runs with other capabilities than the unit's " << caps;
    const std::string sock = run + "/dpdk/" + prefix_ + "/dpdk_telemetry.v2";
    EXPECT_NE(ferry::testing::telemetry_query_socket(sock, "/ferry/info").find("role"),
              std::string::npos)
        << "no telemetry at " << sock;
    // Its memory is mapped from the hugetlbfs (unlinked or not, the mapping names the file).
    std::ifstream maps("/proc/" + std::to_string(svc.pid()) + "/maps");
    std::string line;
    bool hugepage_mapped = false;
    while (std::getline(maps, line))
      hugepage_mapped |= line.find(huge_dir_ + "/" + prefix_) != std::string::npos;
    EXPECT_TRUE(hugepage_mapped) << "the EAL did not take its memory from hugepages";
    EXPECT_EQ(svc.stop(10000), 0) << svc.log_tail();
  }
}

// DPDK places its control threads on the CPUs the process may use that are not lcores: with
// CPUAffinity= naming the polling core and one more (as the units do), none of them may run
// on the polling core.
TEST_F(ServiceUnit,
       dpdk_control_threads_stay_off_the_polling_core_when_the_affinity_leaves_another_cpu) {
  FERRY_REQUIRE(geteuid() == 0, "the DPDK EAL (even with no_huge) runs as root here");
  FERRY_REQUIRE(sysconf(_SC_NPROCESSORS_ONLN) >= 2, "two CPUs");
  cpu_set_t saved, two;
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  CPU_ZERO(&two);
  CPU_SET(0, &two);
  CPU_SET(1, &two);
  const std::string cfg =
      write_config("ferry-device-node", "lcores: [1], no_huge: true, memory_mb: 64");
  ASSERT_EQ(sched_setaffinity(0, sizeof two, &two), 0);  // what CPUAffinity=0 1 gives
  Child dn({exe("ferry-device-node"), cfg}, dir_ + "/device-node.log");
  sched_setaffinity(0, sizeof saved, &saved);
  ASSERT_TRUE(ferry::testing::wait_for_file(dir_ + "/ready", dn, 30000)) << dn.log_tail();
  int control_threads = 0;
  const std::string tasks = "/proc/" + std::to_string(dn.pid()) + "/task";
  for (const auto &t : fs::directory_iterator(tasks)) {
    std::ifstream st(t.path() / "status");
    std::string line, name, allowed;
    while (std::getline(st, line)) {
      if (line.rfind("Name:", 0) == 0) name = line.substr(line.find_first_not_of(" \t", 5));
      if (line.rfind("Cpus_allowed_list:", 0) == 0)
        allowed = line.substr(line.find_first_not_of(" \t", 18));
    }
    if (t.path().filename() == std::to_string(dn.pid())) {
      EXPECT_EQ(allowed, "1") << "the main lcore (polling) thread";
      continue;
    }
    ++control_threads;
    EXPECT_EQ(allowed, "0") << "thread " << name << " may run on the polling core";
  }
  EXPECT_GE(control_threads, 1) << "no DPDK control thread found";
  EXPECT_EQ(dn.stop(10000), 0) << dn.log_tail();
}

}  // namespace
