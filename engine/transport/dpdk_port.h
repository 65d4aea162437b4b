// One DPDK ethdev as the engine uses it, whoever polls it: opened by PCI address or vdev
// devargs, one RX and one TX queue, a mempool, checksums offloaded when the port can. The
// lcore that polls the port also owns what it knows of the link: ARP (answers for its IP,
// resolves the peer), link state and the peer's MAC. Frames are Ethernet/IPv4/UDP; lane i of
// a host that runs several lanes uses UDP port local.port + i towards peer.port + i.
// Used by DpdkTransport (one lane, run to completion) and DpdkLaneIo (a port lcore feeding
// lanes on other lcores through rte_rings).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "ferry/engine/transport.h"
#include "transport/net_headers.h"

struct rte_mempool;
struct rte_mbuf;

namespace ferry::engine {

class DpdkPort {
 public:
  // Opens, configures and starts the port. Needs the EAL. Throws std::runtime_error.
  explicit DpdkPort(const TransportOptions &cfg);
  ~DpdkPort();
  DpdkPort(const DpdkPort &) = delete;
  DpdkPort &operator=(const DpdkPort &) = delete;

  uint16_t port_id() const { return port_; }
  rte_mempool *pool() const { return pool_; }
  size_t max_frame() const { return max_frame_; }
  // Lane 0's flow; the peer MAC in it is valid once peer_mac_known().
  const net::Flow &flow() const { return flow_; }
  bool link_up() const { return link_up_; }
  bool peer_mac_known() const { return peer_mac_known_; }

  // Refreshes the link state and asks for the peer's MAC while it is unknown.
  void maintain(uint64_t now_ns, TransportCounters &c);
  // Looks at one received packet: ARP is handled here (answered, or the peer's MAC learnt);
  // a UDP frame from the peer to one of our `lanes` ports (port + lane, from peer port +
  // lane) yields its lane and payload. Returns the lane, or -1 when the packet is not a frame
  // for us (ARP included; anything else counted in rx_dropped): the caller frees it.
  int classify(rte_mbuf *mb, uint32_t lanes, std::span<const uint8_t> &payload,
               TransportCounters &c);
  // Copies `frame` into `mb` behind Ethernet/IPv4/UDP headers for `flow` (checksums
  // computed or left to the port).
  void build(rte_mbuf *mb, const net::Flow &flow, uint16_t ip_id, FrameView frame) const;
  // rte_eth_tx_burst with at most tx_retries empty retries; what is left is freed and
  // counted in tx_drops. Returns the number sent.
  int tx_burst_bounded(rte_mbuf **pkts, int n, TransportCounters &c);

 private:
  void handle_arp(const net::ArpPacket &a, TransportCounters &c);
  void send_arp(uint16_t op, const net::Mac &dst_mac, uint32_t dst_ip, TransportCounters &c);

  uint16_t port_ = 0;
  std::string port_name_;
  bool probed_here_ = false;  // hot-plugged from a devargs string: removed on close
  rte_mempool *pool_ = nullptr;
  size_t max_frame_ = 0;
  uint32_t tx_retries_;
  bool tx_csum_offload_ = false;
  bool rx_csum_offload_ = false;
  net::Flow flow_{};
  bool link_up_ = false;  // refreshed every maintain()
  bool peer_mac_known_ = false;
  bool static_peer_mac_ = false;
  uint64_t next_arp_ns_ = 0;
  uint32_t arp_tries_ = 0;  // requests since the peer's MAC was last unknown
};

}  // namespace ferry::engine
