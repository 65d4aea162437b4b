// DPDK EAL set-up from EalOptions, done once per process before any DPDK port opens.
#pragma once

#include <string>
#include <vector>

#include "ferry/engine/options.h"

namespace ferry::engine {

// The EAL argument vector `eal` asks for (argv[0] included): lcores (-l, or
// --lcores=L@C,... when cpus places them), main
// lcore, memory (-m, --no-huge; with hugepages and secondary_processes off --huge-unlink
// unless extra_args set it),
// --file-prefix, PCI allow-list (-a; none listed means
// --no-pci), --vdev, then extra_args verbatim.
std::vector<std::string> eal_args(const EalOptions &eal);

// Initialises the EAL with eal_args(eal) and, with eal.secondary_processes, serves packet
// capture to secondaries (rte_pdump_init). Throws std::runtime_error (with rte_strerror) on
// failure; a second call in the same process throws too.
void eal_init(const EalOptions &eal);
// Releases what eal_init took (hugepage files, telemetry socket). Safe if never initialised.
void eal_cleanup();
bool eal_ready();

}  // namespace ferry::engine
