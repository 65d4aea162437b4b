// Helpers for the hostile-host tests: a driver loop that checks every answer the shim hands
// out against what the device can really have said, and raw access to the region's rings.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>

#include "ferry/device/edu.h"
#include "ferry/guest.h"
#include "ferry/proto/descriptor.h"
#include "ferry/proto/shm_layout.h"
#include "relay/host_region.h"

namespace ferry::testing {

inline proto::Descriptor *ring_slots(proto::RingHeader *ring) {
  return reinterpret_cast<proto::Descriptor *>(ring + 1);
}

// Drives the edu registers and records what came back. A value the shim returns with error 0
// must be one the device can have produced; on error it must be all-ones.
struct CheckedDriver {
  explicit CheckedDriver(ferry_dev *d) : dev(d) { live_answers.insert(0xffffffffu); }

  void step(uint32_t i) {
    const uint32_t v = (i * 2654435761u) | 1u;  // odd: ~v is never all-ones
    timed([&] { ferry_iowrite32(dev, 0, device::EduModel::kRegLiveness, v); });
    const int we = ferry_last_error(dev);
    if (we == 0) live_answers.insert(~v);  // a posted write the host may still drop
    count(we);
    uint32_t got = 0;
    timed([&] { got = ferry_ioread32(dev, 0, device::EduModel::kRegLiveness); });
    check(got, ferry_last_error(dev), live_answers.count(got) != 0);
    timed([&] { got = ferry_ioread32(dev, 0, device::EduModel::kRegId); });
    check(got, ferry_last_error(dev), got == device::EduModel::kId);
  }

  void check(uint32_t got, int err, bool authentic) {
    count(err);
    if (err == 0 && !authentic) ++forged;
    if (err != 0 && got != 0xffffffffu) ++forged;
  }
  void count(int err) {
    if (err == 0)
      ++ok;
    else
      ++errors;
  }
  template <typename F>
  void timed(F &&f) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    if (ms > max_ms) max_ms = ms;
  }

  ferry_dev *dev;
  std::set<uint32_t> live_answers;  // what the liveness register can truly read back
  uint64_t ok = 0, errors = 0, forged = 0;
  long max_ms = 0;
};

}  // namespace ferry::testing
