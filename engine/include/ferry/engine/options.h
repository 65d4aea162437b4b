// What the engine is set up with: its own option structs. The services fill them from their
// YAML (engine/service/options_from_config.cpp, the one place that reads config::), tests fill
// them directly; nothing in the engine knows the configuration schema.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ferry/proto/idle.h"

namespace ferry::engine {

// What a polling loop does when it finds no work (the guest shim's policy too).
using IdlePolicy = proto::IdlePolicy;

// Most lanes one process runs (DpdkLaneIo sizes its per-lane bursts by it).
inline constexpr uint32_t kMaxLanes = 16;

// DPDK EAL arguments (eal.h).
struct EalOptions {
  std::vector<unsigned> lcores{0};  // first one is the main lcore unless main_lcore is set
  int main_lcore = -1;
  bool no_huge = false;
  uint32_t memory_mb = 256;  // -m
  std::string file_prefix = "ferry";
  std::vector<std::string> allow;  // PCI addresses (-a)
  std::vector<std::string> vdevs;  // --vdev arguments
  std::vector<std::string> extra_args;
  std::vector<unsigned> cpus;       // CPU of each lcore (--lcores L@C); empty: lcore i on CPU i
  bool secondary_processes = true;  // DPDK tools may attach (no --huge-unlink; pdump served)
};

using MacAddress = std::array<uint8_t, 6>;

struct Endpoint {
  std::string ip;     // dotted IPv4; empty: any (local) / none (peer)
  uint16_t port = 0;  // UDP or TCP port
};

// One transport (transport.h). Reliability (window, retransmission) is the engine's:
// EngineOptions.
struct TransportOptions {
  enum class Kind { kDpdk, kKernelUdp, kKernelTcp };
  Kind kind = Kind::kKernelUdp;
  Endpoint local;
  Endpoint peer;
  std::optional<MacAddress> peer_mac;  // dpdk: the peer's static MAC; none: resolved by ARP
  std::string port;                    // dpdk: PCI address or vdev name of the ethdev
  uint32_t mtu = 1500;
  uint16_t rx_desc = 1024, tx_desc = 1024;
  uint32_t mbufs = 8191, mbuf_cache = 256;
  uint32_t busy_poll_us = 0;  // kernel-udp: SO_BUSY_POLL (0 = off)
  uint32_t tx_retries = 8;    // bounded TX retry before a drop is counted
};

// Fault injection around a datagram transport (fault_transport.h), per direction.
// Probabilities are parts per million.
struct FaultDirection {
  uint32_t drop_ppm = 0, duplicate_ppm = 0, reorder_ppm = 0, corrupt_ppm = 0, delay_ppm = 0;
  uint32_t reorder_distance = 4;  // a reordered frame is passed by 1 .. this many later frames
  uint32_t corrupt_bytes = 1;     // bytes changed in a corrupted frame
  uint32_t delay_us = 1000;       // a delayed frame waits 1 .. this many microseconds
  bool any() const { return drop_ppm || duplicate_ppm || reorder_ppm || corrupt_ppm || delay_ppm; }
};

struct FaultOptions {
  uint64_t seed = 1;  // same seed, same decisions (per lane: seed + lane)
  FaultDirection tx, rx;
  bool enabled() const { return tx.any() || rx.any(); }
};

// One engine (engine.h).
struct EngineOptions {
  uint32_t window_frames = 256;   // frames in flight before the sender waits
  uint32_t retransmit_us = 2000;  // first retransmit timeout (datagram transports)
  uint32_t max_retransmit_us = 100000;
  uint32_t housekeeping_every = 1024;  // poll iterations between housekeeping passes (>= 1)
  IdlePolicy idle{};
  uint32_t drain_ms = 200;  // on shutdown: how long to wait for frames in flight to be acked
};

}  // namespace ferry::engine
