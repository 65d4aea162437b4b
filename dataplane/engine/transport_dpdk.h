// dpdk: one ethdev port (a NIC by PCI address, or a vdev such as net_af_packet, net_af_xdp,
// net_memif, net_tap), one RX and one TX queue polled by the engine's lcore. Frames travel as
// Ethernet/IPv4/UDP built and parsed here, checksums offloaded when the port can and computed
// otherwise. The port answers ARP for its own IP and resolves the peer's MAC by ARP (or takes
// a static MAC from the configuration), so it talks to a kernel-udp peer on the same wire.
#pragma once

#include <cstdint>
#include <string>

#include "ferry/engine/transport.h"
#include "net_headers.h"

struct rte_mempool;
struct rte_mbuf;

namespace ferry::engine {

class DpdkTransport final : public Transport {
 public:
  static constexpr int kBurst = 32;
  // Opens, configures and starts the port. Needs the EAL. Throws std::runtime_error.
  explicit DpdkTransport(const config::TransportConfig &cfg);
  ~DpdkTransport() override;

  std::string_view name() const override { return "dpdk"; }
  bool reliable() const override { return false; }
  size_t max_frame() const override { return max_frame_; }
  int send(std::span<const FrameView> frames) override;
  int recv(std::span<FrameView> out) override;
  void maintain(uint64_t now_ns) override;
  // The port's link is up and the peer's MAC is known.
  bool link_up() const override { return link_up_ && peer_mac_known_; }

  uint16_t port_id() const { return port_; }
  bool checksum_offload() const { return tx_csum_offload_; }

 private:
  void free_held();
  void handle_arp(const net::ArpPacket &a);
  void send_arp(uint16_t op, const net::Mac &dst_mac, uint32_t dst_ip);
  int tx_burst_bounded(rte_mbuf **pkts, int n);

  uint16_t port_ = 0;
  std::string port_name_;
  bool probed_here_ = false;  // the port was hot-plugged from a devargs string: remove it on close
  rte_mempool *pool_ = nullptr;
  size_t max_frame_ = 0;
  uint32_t tx_retries_;
  bool tx_csum_offload_ = false;
  bool rx_csum_offload_ = false;
  net::Flow flow_{};
  bool link_up_ = false;  // refreshed every maintain()
  bool peer_mac_known_ = false;
  bool static_peer_mac_ = false;
  uint16_t ip_id_ = 0;
  uint64_t next_arp_ns_ = 0;
  rte_mbuf *held_[kBurst];  // received frames handed out by the last recv()
  int n_held_ = 0;
};

}  // namespace ferry::engine
