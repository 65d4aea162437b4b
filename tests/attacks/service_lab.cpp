#include "service_lab.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>
#include <vector>
#include "service_path.h"

namespace ferry::testing {

namespace {
std::string bin(const std::string &service) {
  return build_root() + "/" + ferry::testing::service_path(service);
}

// Kernel UDP needs no DPDK port, but the services still start the EAL (telemetry).
std::string service_head(const std::string &prefix, const char *local, const char *peer) {
  return "eal: {lcores: [0], no_huge: true, memory_mb: 64, file_prefix: " + prefix + "}\n" +
         "transport:\n  kind: kernel-udp\n  local: {ip: " + local +
         ", port: " + std::to_string(ServiceLab::kPort) + "}\n  peer: {ip: " + peer +
         ", port: " + std::to_string(ServiceLab::kPort) + "}\n  retransmit_us: 5000\n" +
         "idle: {mode: spin-then-sleep, spin_polls: 200, sleep_us: 20}\n" +
         "housekeeping_every: 64\n";
}
}  // namespace

ServiceLab::ServiceLab(const ServiceLabOptions &opt) {
  if (!running_as_root()) {
    skip_ = true;
    error_ = "needs root: namespaces, hugepages";
    return;
  }
  if (!ensure_hugepages(64)) {
    skip_ = true;
    error_ = "needs free 2 MiB hugepages on /dev/hugepages";
    return;
  }
  net_ = std::make_unique<VethLab>(true, true, 1500);
  if (!net_->ok()) {
    skip_ = true;
    error_ = net_->error();
    return;
  }
  dir_ = "/tmp/ferry-attacks-" + net_->ns_a;
  psk_ = dir_ + "/psk";
  prefix_dn_ = "fa-" + net_->ns_a + "-dn";
  prefix_dp_ = "fa-" + net_->ns_a + "-dp";
  run_cmd("rm -rf " + dir_ + " && mkdir -p " + dir_);
  write_random_psk(psk_);
  std::ofstream(dir_ + "/guest.yaml")
      << "region: " << region_path() << "\npsk_file: " << psk_ << "\ndevice_id: 1\nguest_id: 1\n"
      << "security: " << opt.security << "\nmmio_timeout_ms: " << opt.mmio_timeout_ms
      << "\nhandshake_timeout_ms: 5000\n"
      << "idle: {mode: spin-then-sleep, spin_polls: 50, sleep_us: 5}\n";
  std::ofstream(dir_ + "/device-node.yaml")
      << service_head(prefix_dn_, VethLab::kIpB, VethLab::kIpA)
      << "devices:\n  - {id: 1, guests: [{id: 1, psk_file: " << psk_
      << "}], model: edu}\nready_file: " << dir_ << "/dn.ready\n";
  std::ofstream(dir_ + "/dataplane.yaml") << service_head(prefix_dp_, VethLab::kIpA, VethLab::kIpB)
                                          << "guests:\n  - {path: " << region_path()
                                          << ", channel: 1}\nready_file: " << dir_ << "/dp.ready\n";
  dn_ = Child(
      {"ip", "netns", "exec", net_->ns_b, bin("ferry-device-node"), dir_ + "/device-node.yaml"},
      dir_ + "/dn.log");
  if (!wait_for_file(dir_ + "/dn.ready", dn_, 20000)) {
    error_ = "ferry-device-node did not start: " + dn_.log_tail();
    return;
  }
  dp_ = Child({"ip", "netns", "exec", net_->ns_a, bin("ferry-dataplane"), dir_ + "/dataplane.yaml"},
              dir_ + "/dp.log");
  if (!wait_for_file(dir_ + "/dp.ready", dp_, 20000)) {
    error_ = "ferry-dataplane did not start: " + dp_.log_tail();
    return;
  }
  ok_ = true;
}

ServiceLab::~ServiceLab() {
  if (guest_) ferry_close(guest_);
  dp_.stop(5000);
  dn_.stop(5000);
  remove_dpdk_runtime(prefix_dn_);
  remove_dpdk_runtime(prefix_dp_);
  if (net_) run_cmd("rm -f " + region_path());
  if (!dir_.empty()) run_cmd("rm -rf " + dir_);
}

std::string ServiceLab::region_path() const {
  return "/dev/hugepages/" + net_->ns_a + "-attack-region";
}

ferry_dev *ServiceLab::open_guest() {
  if (guest_) ferry_close(guest_);
  guest_ = ferry_open((dir_ + "/guest.yaml").c_str());
  if (!guest_) error_ = std::string("ferry_open: ") + ferry_open_error();
  return guest_;
}

long long ServiceLab::counter(const std::string &who, const std::string &cmd,
                              const std::string &key) {
  return json_uint(telemetry_query(who == "dn" ? prefix_dn_ : prefix_dp_, cmd), key);
}

bool ServiceLab::wait_counter(const std::string &who, const std::string &cmd,
                              const std::string &key, long long want, int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (counter(who, cmd, key) >= want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return counter(who, cmd, key) >= want;
}

std::string ServiceLab::logs() {
  return "--- ferry-dataplane\n" + dp_.log_tail(2000) + "--- ferry-device-node\n" +
         dn_.log_tail(2000);
}

}  // namespace ferry::testing
