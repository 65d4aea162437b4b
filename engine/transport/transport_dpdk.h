// dpdk: one ethdev port (a NIC by PCI address, or a vdev such as net_af_packet, net_af_xdp,
// net_memif, net_tap), one RX and one TX queue polled by the engine's own lcore: run to
// completion, one lane. Frames travel as Ethernet/IPv4/UDP built and parsed by DpdkPort,
// checksums offloaded when the port can and computed otherwise. The port answers ARP for its
// own IP and resolves the peer's MAC by ARP (or takes a static MAC from the configuration),
// so it talks to a kernel-udp peer on the same wire. Several lanes: dpdk_lanes.h.
#pragma once

#include <cstdint>
#include <string>

#include "ferry/engine/transport.h"
#include "transport/dpdk_port.h"

struct rte_mbuf;

namespace ferry::engine {

class DpdkTransport final : public Transport {
 public:
  // Opens, configures and starts the port. Needs the EAL. Throws std::runtime_error.
  explicit DpdkTransport(const TransportOptions &cfg);
  ~DpdkTransport() override;

  std::string_view name() const override { return "dpdk"; }
  bool reliable() const override { return false; }
  size_t max_frame() const override { return port_.max_frame(); }
  int send(std::span<const FrameView> frames) override;
  int recv(std::span<FrameView> out) override;
  void maintain(uint64_t now_ns) override { port_.maintain(now_ns, counters_); }
  // The port's link is up and the peer's MAC is known.
  bool link_up() const override { return port_.link_up() && port_.peer_mac_known(); }

  uint16_t port_id() const { return port_.port_id(); }

 private:
  void free_held();

  DpdkPort port_;
  uint16_t ip_id_ = 0;
  rte_mbuf *held_[kBurst];  // received frames handed out by the last recv()
  int n_held_ = 0;
};

}  // namespace ferry::engine
