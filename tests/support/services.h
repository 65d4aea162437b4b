// What the tests that run both services share: stopping one and checking that it shut down
// cleanly, and the MMIO read round trip a guest sees through them.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>

#include "lab.h"

namespace ferry::testing {

// SIGTERM to a running service; it must exit 0 within 5 s (every lane drained and stopped).
inline void expect_clean_stop(Child &service, const std::string &name) {
  if (!service.running()) return;
  EXPECT_EQ(service.stop(5000), 0) << name << " did not shut down cleanly\n"
                                   << service.log_tail();
}

// Stops both services (each must shut down cleanly) and removes their DPDK runtime folders
// (`file_prefixes`: any name -> EAL file prefix).
inline void stop_services(Child &dataplane, Child &device_node,
                          const std::map<std::string, std::string> &file_prefixes) {
  expect_clean_stop(dataplane, "ferry-dataplane");
  expect_clean_stop(device_node, "ferry-device-node");
  for (const auto &[who, prefix] : file_prefixes) remove_dpdk_runtime(prefix);
}

// Runs ferry-mmio-latency (5000 8-byte reads) as the guest of `guest_yaml`, prints its summary
// ("reads=N p50_ns=.. p99_ns=..") and records it as the test property mmio_read_<label>.
inline void measure_mmio_read(const std::string &label, const std::string &guest_yaml,
                              const std::string &log) {
  Child c({build_root() + "/tests/services/ferry-mmio-latency", guest_yaml, "5000"}, log);
  ASSERT_EQ(c.wait(60000), 0) << c.log_tail();
  std::string line = c.log_tail();
  while (!line.empty() && line.back() == '\n') line.pop_back();
  line = line.substr(line.rfind('\n') + 1);
  std::printf("[ latency  ] %s: %s\n", label.c_str(), line.c_str());
  ::testing::Test::RecordProperty("mmio_read_" + label, line);
}

}  // namespace ferry::testing
