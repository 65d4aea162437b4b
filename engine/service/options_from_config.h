// The one place where a service's YAML (config::) becomes the engine's own options
// (ferry/engine/options.h): the engine itself never reads the configuration schema.
#pragma once

#include "ferry/config/config.h"
#include "ferry/engine/options.h"

namespace ferry::services {

engine::EalOptions eal_options(const config::EalConfig &c);
// Throws std::runtime_error on a peer MAC that does not parse (the loader has checked it).
engine::TransportOptions transport_options(const config::TransportConfig &c);
engine::FaultOptions fault_options(const config::FaultConfig &c);
// The reliability settings of `t`, the idle policy and the housekeeping period (0 taken as 1).
engine::EngineOptions engine_options(const config::TransportConfig &t,
                                     const config::IdlePolicy &idle, uint32_t housekeeping_every);

}  // namespace ferry::services
