// ferry-device-node's log of the device node's events (ferry.node): sessions starting and
// ending, handshakes rejected with the device, the guest and why, DMA timeouts. Whatever a
// guest or the network can repeat is rate limited per kind of event.
#pragma once

#include <cstdint>

#include "ferry/device/device_node.h"

namespace ferry::services {

class NodeLog final : public device::NodeEvents {
 public:
  explicit NodeLog(uint32_t lane) : lane_(lane) {}
  void on_event(const device::NodeEventInfo &e) override;

 private:
  uint32_t lane_;
};

}  // namespace ferry::services
