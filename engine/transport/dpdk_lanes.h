// dpdk with several lanes: the rx / work / tx split over rte_rings. One lcore (the main one)
// owns the port: it receives bursts, hands each frame to its lane's RX ring by UDP
// destination port (lane i = local port + i), drains every lane's TX ring into tx_burst, and
// answers ARP. Each lane's engine runs on its own worker lcore over a RingTransport: recv
// dequeues from its RX ring, send builds the packet in an mbuf from the shared mempool (each
// lcore has its own mempool cache) and enqueues it on its TX ring. Single-producer /
// single-consumer rings, bursts of 32, no locks and no allocation outside the mempool; a
// full ring is counted (ring_full): TX frames then wait in the lane's window, RX frames are
// dropped (the peer retransmits them).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "ferry/engine/transport.h"
#include "transport/dpdk_port.h"

struct rte_ring;

namespace ferry::engine {

class DpdkLaneIo {
 public:
  // Opens the port and makes two rings per lane. Needs the EAL. Throws std::runtime_error.
  DpdkLaneIo(const TransportOptions &cfg, uint32_t lanes);
  ~DpdkLaneIo();
  DpdkLaneIo(const DpdkLaneIo &) = delete;
  DpdkLaneIo &operator=(const DpdkLaneIo &) = delete;

  // The transport of lane `i` (once per lane); it must be destroyed before this object.
  std::unique_ptr<Transport> lane(uint32_t i);
  uint32_t lanes() const { return static_cast<uint32_t>(rx_.size()); }

  // One pass on the port lcore: RX burst to the lanes' rings, lanes' rings to TX. Returns the
  // packets moved (0 = idle).
  int poll();
  // Link state and ARP; publishes whether lanes may send, and to which MAC.
  void maintain(uint64_t now_ns);
  // The port's own counters: ARP, rx_dropped, tx_drops, ring_full (RX rings). The lanes count
  // their frames and bytes in their own transports.
  const TransportCounters &counters() const { return counters_; }
  const DpdkPort &port() const { return port_; }

 private:
  friend class RingTransport;
  void publish_link();

  DpdkPort port_;
  std::vector<rte_ring *> rx_, tx_;  // per lane: port lcore -> lane, lane -> port lcore
  std::vector<bool> handed_out_;
  // The peer MAC in the low 48 bits with bit 48 set while lanes may send, 0 otherwise:
  // written by the port lcore, read by the lanes (one relaxed word, no lock).
  std::atomic<uint64_t> link_{0};
  TransportCounters counters_;
  size_t next_tx_ = 0;  // lane whose TX ring is drained first (round robin)
};

}  // namespace ferry::engine
