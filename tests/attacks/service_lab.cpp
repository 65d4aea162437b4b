#include "service_lab.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "service_configs.h"
#include "service_path.h"

namespace ferry::testing {

namespace {
std::string bin(const std::string &service) {
  return build_root() + "/" + ferry::testing::service_path(service);
}

// Kernel UDP needs no DPDK port, but the services still start the EAL (telemetry).
void set_service(ServiceYaml &c, const std::string &prefix, const std::string &ready_file) {
  c.file_prefix = prefix;
  c.udp_port = ServiceLab::kPort;
  c.housekeeping_every = 64;
  c.ready_file = ready_file;
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
  GuestYaml guest;
  guest.region = region_path();
  guest.psk_file = psk_;
  guest.security = opt.security;
  guest.mmio_timeout_ms = opt.mmio_timeout_ms;
  DeviceNodeYaml dn;
  set_service(dn, prefix_dn_, dir_ + "/dn.ready");
  dn.devices = {{1, {}, "edu", {}}};
  DataplaneYaml dp;
  set_service(dp, prefix_dp_, dir_ + "/dp.ready");
  if (!add_guest(guest, dir_ + "/guest.yaml", dn, dp) ||
      !write_text(dir_ + "/device-node.yaml", device_node_yaml(dn)) ||
      !write_text(dir_ + "/dataplane.yaml", dataplane_yaml(dp))) {
    error_ = "cannot write the YAML files in " + dir_;
    return;
  }
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
