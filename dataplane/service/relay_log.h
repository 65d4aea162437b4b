// ferry-dataplane's log of its guest regions (ferry.relay): a guest attaching and detaching
// (the guest's line in the region), and what the relay refused since the last look (bad
// indices, queues, records, DMA writes). Read at housekeeping from the relay's state and
// counters, so the polling path does nothing for it; rate limited, since a guest or the
// network can make all of it happen again and again.
#pragma once

#include <cstdint>

#include "relay/host_relay.h"

namespace ferry::services {

class RelayLog {
 public:
  // Logs the region as it is now (a guest already attached, or not).
  explicit RelayLog(const dataplane::HostRelay &relay);
  // Logs what changed since the last call.
  void housekeeping();

 private:
  uint64_t refused() const;

  const dataplane::HostRelay &relay_;
  bool attached_ = false;
  uint64_t refused_ = 0;
};

}  // namespace ferry::services
