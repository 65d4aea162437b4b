// Lanes: a service runs `lanes` engines, each with its own handler, transport and reliable
// stream, each on its own lcore. Lane i talks to the peer's lane i on local/peer port + i.
//   lanes = 1          run to completion on the main lcore, exactly one engine (the default)
//   kernel transports  lane 0 on the main lcore, lane i on the i-th worker lcore; one socket
//                      (or TCP connection) per lane
//   dpdk, lanes > 1    the main lcore owns the port (DpdkLaneIo: RX demultiplexed by UDP port
//                      onto per-lane rte_rings, per-lane TX rings drained into tx_burst); lane
//                      i runs on the (i+1)-th lcore, a worker, over its pair of rings
// Workers are EAL lcores started with rte_eal_remote_launch, each with its own idle policy.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ferry/engine/options.h"
#include "ferry/engine/transport.h"

namespace ferry::engine {

class Engine;
class DpdkLaneIo;

// The transports of every lane, and the port lcore's object when dpdk is split over lanes.
struct LaneTransports {
  LaneTransports();
  ~LaneTransports();  // the lanes' transports must be gone (moved into engines) or go first
  LaneTransports(LaneTransports &&) noexcept;
  std::unique_ptr<DpdkLaneIo> io;  // null unless dpdk with lanes > 1
  std::vector<std::unique_ptr<Transport>> lanes;
  // The port lcore's counters (for telemetry), null without `io`.
  const TransportCounters *port_counters() const;
  // Link state and ARP on the port, before the lanes run (a no-op without `io`).
  void maintain_port(uint64_t now_ns);
};

// Builds the lanes' transports. Needs the EAL for dpdk. Throws std::runtime_error.
LaneTransports make_lane_transports(const TransportOptions &opt, Role role, uint32_t lanes);

// The worker lcores the lanes run on, in order (lanes that run on the main lcore have none):
// throws std::runtime_error naming what is missing when the EAL has too few lcores.
std::vector<unsigned> lane_lcores(uint32_t lanes, bool split_io);

// Runs every engine on its lcore until `stop` is set; each then drains as Engine::run does.
// `io` (dpdk split) runs on the calling (main) lcore until every lane has drained, with
// `idle` as its idle policy and maintain() every `housekeeping_every` passes; without it the
// calling lcore runs engines[0]. Returns once every lane has stopped. A lane that cannot be
// launched sets `stop` (the others stop and drain) and then throws std::runtime_error.
void run_lanes(std::span<Engine *const> engines, DpdkLaneIo *io, const IdlePolicy &idle,
               uint32_t housekeeping_every, std::atomic<bool> &stop);

}  // namespace ferry::engine
