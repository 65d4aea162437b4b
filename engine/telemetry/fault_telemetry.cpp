// /ferry/faults: what the fault injection did, summed over every live FaultTransport (one per
// lane): {"instances", "seed", "tx_frames", "tx_drop", ..., "rx_lost"}. Registration happens
// when a FaultTransport is made or destroyed, never on the polling path.
#include <rte_telemetry.h>

#include <array>
#include <mutex>
#include <string>

#include "transport/fault_transport.h"

namespace ferry::engine {

namespace {

std::mutex g_mu;
std::array<const FaultTransport *, 64> g_live{};
bool g_registered = false;

void add_to(FaultCounters &to, const FaultCounters &from) {
#define FERRY_X(name, what) to.name.add(from.name.get());
  FERRY_FAULT_COUNTERS(FERRY_X)
#undef FERRY_X
}

int cmd_faults(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  FaultCounters sum_tx, sum_rx;
  uint64_t instances = 0, seed = 0;
  for (const FaultTransport *t : g_live) {
    if (t == nullptr) continue;
    if (instances++ == 0) seed = t->seed();
    add_to(sum_tx, t->tx_faults());
    add_to(sum_rx, t->rx_faults());
  }
  rte_tel_data_add_dict_u64(d, "instances", instances);
  rte_tel_data_add_dict_u64(d, "seed", seed);
  sum_tx.for_each([&](const char *name, uint64_t v) {
    rte_tel_data_add_dict_u64(d, ("tx_" + std::string(name)).c_str(), v);
  });
  sum_rx.for_each([&](const char *name, uint64_t v) {
    rte_tel_data_add_dict_u64(d, ("rx_" + std::string(name)).c_str(), v);
  });
  return 0;
}

}  // namespace

void fault_telemetry_add(const FaultTransport *t) {
  std::lock_guard lk(g_mu);
  if (!g_registered) {
    rte_telemetry_register_cmd("/ferry/faults", cmd_faults,
                               "Faults injected (drop, duplicate, reorder, corrupt, delay) per "
                               "direction, summed over lanes");
    g_registered = true;
  }
  for (auto &slot : g_live) {
    if (slot == nullptr) {
      slot = t;
      return;
    }
  }
}

void fault_telemetry_remove(const FaultTransport *t) {
  std::lock_guard lk(g_mu);
  for (auto &slot : g_live) {
    if (slot == t) slot = nullptr;
  }
}

}  // namespace ferry::engine
