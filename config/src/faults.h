// The `faults` section of the data plane's and the device node's files (FaultConfig).
#pragma once

#include "ferry/config/config.h"
#include "yaml_reader.h"

namespace ferry::config::detail {

// Reads `faults: {seed, tx: {...}, rx: {...}}` (absent: no faults). Fault injection needs a
// datagram transport: on kernel-tcp a dropped frame would be lost for good.
void read_faults(const MapReader &root, const TransportConfig &t, FaultConfig &out);

}  // namespace ferry::config::detail
