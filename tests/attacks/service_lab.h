// Both services for real, for the attack tests: ferry-device-node in one namespace, ferry-
// dataplane in the other (names unique to the test process, see tests/support/lab.h), kernel-
// udp over a veth between them, one guest region in hugetlbfs. The test process itself is the
// guest: it opens the device through the C API and can read the shim's own counters.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ferry/guest.h"
#include "lab.h"

namespace ferry::testing {

struct ServiceLabOptions {
  std::string security = "confidential";  // none, integrity, confidential
  uint32_t mmio_timeout_ms = 400;
};

class ServiceLab {
 public:
  // Starts everything; ok() says whether it worked, error() why not. skip() is true when a
  // prerequisite (root, hugepages, namespaces) is missing rather than something broken.
  explicit ServiceLab(const ServiceLabOptions &opt = {});
  ~ServiceLab();
  ServiceLab(const ServiceLab &) = delete;
  ServiceLab &operator=(const ServiceLab &) = delete;

  bool ok() const { return ok_; }
  bool skip() const { return skip_; }
  const std::string &error() const { return error_; }

  // Opens the guest (handshake over both services), closing the one opened before; nullptr
  // and error() on failure.
  ferry_dev *open_guest();
  ferry_dev *guest() const { return guest_; }

  // One counter from a service's telemetry: "dn" or "dp", "/ferry/app" or "/ferry/stats".
  // -1 when it cannot be read.
  long long counter(const std::string &who, const std::string &cmd, const std::string &key);
  // Waits until counter(...) >= want (housekeeping publishes /ferry/app every few ms).
  bool wait_counter(const std::string &who, const std::string &cmd, const std::string &key,
                    long long want, int timeout_ms = 3000);

  const VethLab &net() const { return *net_; }
  const std::string &dir() const { return dir_; }
  std::string region_path() const;
  std::string logs();
  pid_t dataplane_pid() const { return dp_.pid(); }
  // True while both services still run.
  bool services_running() { return dn_.running() && dp_.running(); }

  static constexpr uint16_t kPort = 7000;

 private:
  bool ok_ = false, skip_ = false;
  std::string error_;
  std::unique_ptr<VethLab> net_;
  std::string dir_, psk_, prefix_dn_, prefix_dp_;
  Child dn_, dp_;
  ferry_dev *guest_ = nullptr;
};

}  // namespace ferry::testing
