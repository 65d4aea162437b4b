#include "transport/dpdk_port.h"

#include <arpa/inet.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "ferry/engine/log.h"
#include "ferry/proto/frame.h"

namespace ferry::engine {

namespace {

constexpr uint64_t kArpRetryNs = 100 * 1000 * 1000;
constexpr uint32_t kArpReportEvery = 100;
#define IP_FMT "%u.%u.%u.%u"
#define IP_ARGS(ip) \
  unsigned((ip) >> 24), unsigned((ip) >> 16 & 0xff), unsigned((ip) >> 8 & 0xff), unsigned((ip)&0xff)
constexpr uint64_t kTxCsum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
constexpr uint64_t kRxCsum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;

[[noreturn]] void fail(const std::string &what, int err) {
  throw std::runtime_error("dpdk: " + what + ": " + rte_strerror(err < 0 ? -err : err));
}

uint32_t parse_ip(const std::string &s, const char *key) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1)
    throw std::runtime_error(std::string("dpdk: ") + key + ": not an IPv4 address: '" + s + "'");
  return ntohl(a.s_addr);
}

std::string port_names() {
  std::string out;
  uint16_t p;
  RTE_ETH_FOREACH_DEV(p) {
    char name[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(p, name) == 0)
      out += (out.empty() ? "" : ", ") + std::string(name);
  }
  return out.empty() ? "none" : out;
}

// Finds the port by name ("0000:03:00.0", "net_memif0"); a devargs string ("net_af_packet0,
// iface=veth0") that names no existing port is hot-plugged first.
uint16_t open_port(const std::string &spec, bool &probed) {
  const std::string name = spec.substr(0, spec.find(','));
  uint16_t port;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port) == 0) return port;
  if (spec.find(',') != std::string::npos || spec.rfind("net_", 0) == 0) {
    int r = rte_dev_probe(spec.c_str());
    if (r < 0) fail("probing '" + spec + "'", r);
    probed = true;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port) == 0) return port;
  }
  throw std::runtime_error("dpdk: transport.port: no ethdev named '" + name +
                           "' (ports: " + port_names() + ")");
}

}  // namespace

DpdkPort::DpdkPort(const TransportOptions &cfg) : tx_retries_(cfg.tx_retries) {
  if (cfg.port.empty()) throw std::runtime_error("dpdk: transport.port is empty");
  port_ = open_port(cfg.port, probed_here_);
  port_name_ = cfg.port.substr(0, cfg.port.find(','));

  rte_eth_dev_info info{};
  int r = rte_eth_dev_info_get(port_, &info);
  if (r != 0) fail("dev_info_get", r);

  // Frame size from the MTU (IPv4 + UDP headers come off it), bounded by the port.
  uint32_t mtu = cfg.mtu;
  if (info.max_mtu && mtu > info.max_mtu) mtu = info.max_mtu;
  uint16_t cur_mtu = 0;
  if (rte_eth_dev_get_mtu(port_, &cur_mtu) == 0 && cur_mtu != mtu) {
    if (rte_eth_dev_set_mtu(port_, static_cast<uint16_t>(mtu)) != 0 && cur_mtu < mtu) mtu = cur_mtu;
  }
  max_frame_ = std::min<size_t>(mtu - sizeof(net::Ipv4Header) - sizeof(net::UdpHeader),
                                proto::kMaxFrameSize);

  const int socket =
      rte_eth_dev_socket_id(port_) < 0 ? SOCKET_ID_ANY : rte_eth_dev_socket_id(port_);
  const uint32_t room =
      std::max<uint32_t>(RTE_MBUF_DEFAULT_DATAROOM, mtu + sizeof(net::EtherHeader) + 4);
  uint32_t cache = std::min<uint32_t>(cfg.mbuf_cache, RTE_MEMPOOL_CACHE_MAX_SIZE);
  cache = std::min<uint32_t>(cache, cfg.mbufs / 2);
  const std::string pool_name = "ferry_pool_" + std::to_string(port_);
  pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), cfg.mbufs, cache, 0,
                                  static_cast<uint16_t>(room + RTE_PKTMBUF_HEADROOM), socket);
  if (pool_ == nullptr) fail("mempool of " + std::to_string(cfg.mbufs) + " mbufs", rte_errno);

  rte_eth_conf conf{};
  tx_csum_offload_ = (info.tx_offload_capa & kTxCsum) == kTxCsum;
  rx_csum_offload_ = (info.rx_offload_capa & kRxCsum) == kRxCsum;
  if (tx_csum_offload_) conf.txmode.offloads |= kTxCsum;
  if (rx_csum_offload_) conf.rxmode.offloads |= kRxCsum;
  r = rte_eth_dev_configure(port_, 1, 1, &conf);
  if (r != 0) fail("configure port " + port_name_, r);
  uint16_t nb_rx = cfg.rx_desc, nb_tx = cfg.tx_desc;
  r = rte_eth_dev_adjust_nb_rx_tx_desc(port_, &nb_rx, &nb_tx);
  if (r != 0) fail("descriptor counts", r);
  rte_eth_rxconf rxq = info.default_rxconf;
  rxq.offloads = conf.rxmode.offloads;
  r = rte_eth_rx_queue_setup(port_, 0, nb_rx, socket, &rxq, pool_);
  if (r != 0) fail("rx queue", r);
  rte_eth_txconf txq = info.default_txconf;
  txq.offloads = conf.txmode.offloads;
  r = rte_eth_tx_queue_setup(port_, 0, nb_tx, socket, &txq);
  if (r != 0) fail("tx queue", r);
  r = rte_eth_dev_start(port_);
  if (r != 0) fail("start port " + port_name_, r);

  rte_ether_addr mac;
  rte_eth_macaddr_get(port_, &mac);
  std::memcpy(flow_.src_mac.data(), mac.addr_bytes, 6);
  flow_.src_ip = parse_ip(cfg.local.ip, "transport.local.ip");
  flow_.dst_ip = parse_ip(cfg.peer.ip, "transport.peer.ip");
  flow_.src_port = cfg.local.port;
  flow_.dst_port = cfg.peer.port;
  if (cfg.peer_mac) {
    flow_.dst_mac = *cfg.peer_mac;
    peer_mac_known_ = static_peer_mac_ = true;
  }
}

DpdkPort::~DpdkPort() {
  rte_eth_dev_stop(port_);
  rte_eth_dev_close(port_);
  if (probed_here_) {  // hot-plugged by us: unplug, so the interface is free for others
    rte_eal_hotplug_remove("vdev", port_name_.c_str());
  }
  rte_mempool_free(pool_);
}

int DpdkPort::tx_burst_bounded(rte_mbuf **pkts, int n, TransportCounters &c) {
  int sent = 0;
  for (uint32_t tries = 0; sent < n && tries <= tx_retries_;) {
    uint16_t k = rte_eth_tx_burst(port_, 0, pkts + sent, static_cast<uint16_t>(n - sent));
    sent += k;
    if (k == 0) ++tries;
  }
  if (sent < n) {
    rte_pktmbuf_free_bulk(pkts + sent, static_cast<unsigned>(n - sent));
    c.tx_drops.add(n - sent);
  }
  return sent;
}

void DpdkPort::send_arp(uint16_t op, const net::Mac &dst_mac, uint32_t dst_ip,
                        TransportCounters &c) {
  rte_mbuf *m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) {
    c.tx_drops.add();
    return;
  }
  auto *p = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, 60));  // Ethernet minimum
  std::memset(p, 0, 60);
  net::build_arp(p, op, flow_.src_mac, flow_.src_ip, dst_mac, dst_ip);
  if (tx_burst_bounded(&m, 1, c) == 1) (op == 1 ? c.arp_requests_tx : c.arp_replies_tx).add();
}

void DpdkPort::handle_arp(const net::ArpPacket &a, TransportCounters &c) {
  c.arp_rx.add();
  const uint32_t spa = a.spa.get();
  if (spa == flow_.dst_ip && !static_peer_mac_) {
    flow_.dst_mac = a.sha;
    if (!peer_mac_known_) {
      const uint8_t *m = a.sha.data();
      FERRY_LOG(Engine, NOTICE,
                "port %s: peer " IP_FMT
                " is at %02x:%02x:%02x:%02x:%02x:%02x (after %u ARP "
                "requests)",
                port_name_.c_str(), IP_ARGS(spa), m[0], m[1], m[2], m[3], m[4], m[5], arp_tries_);
    }
    peer_mac_known_ = true;
    arp_tries_ = 0;
  }
  if (a.op.get() == 1 && a.tpa.get() == flow_.src_ip) send_arp(2, a.sha, spa, c);
}

void DpdkPort::maintain(uint64_t now_ns, TransportCounters &c) {
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(port_, &link) == 0) {
    const bool up = link.link_status == RTE_ETH_LINK_UP;
    if (up != link_up_) {
      if (up) {
        FERRY_LOG_LIMITED(Engine, NOTICE, "port %s: link up, %u Mbps", port_name_.c_str(),
                          link.link_speed);
      } else {
        FERRY_LOG_LIMITED(Engine, WARNING, "port %s: link down", port_name_.c_str());
      }
    }
    link_up_ = up;
  }
  if (peer_mac_known_ || !link_up_ || now_ns < next_arp_ns_) return;
  send_arp(1, net::kBroadcast, flow_.dst_ip, c);
  next_arp_ns_ = now_ns + kArpRetryNs;
  // Said once after a second of silence, then every kArpReportEvery requests (~10 s).
  if (++arp_tries_ % kArpReportEvery == 10) {
    FERRY_LOG(Engine, WARNING,
              "port %s: no ARP reply from peer " IP_FMT " after %u requests; frames to it wait",
              port_name_.c_str(), IP_ARGS(flow_.dst_ip), arp_tries_);
  }
}

void DpdkPort::build(rte_mbuf *mb, const net::Flow &flow, uint16_t ip_id, FrameView f) const {
  const size_t len = net::kHeadersLen + f.size();
  auto *p = rte_pktmbuf_mtod(mb, uint8_t *);
  std::memcpy(p + net::kHeadersLen, f.data(), f.size());
  net::build_udp(p, flow, ip_id, {p + net::kHeadersLen, f.size()}, !tx_csum_offload_);
  mb->data_len = static_cast<uint16_t>(len);
  mb->pkt_len = static_cast<uint32_t>(len);
  if (tx_csum_offload_) {
    mb->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
    mb->l2_len = sizeof(net::EtherHeader);
    mb->l3_len = sizeof(net::Ipv4Header);
  }
}

int DpdkPort::classify(rte_mbuf *mb, uint32_t lanes, std::span<const uint8_t> &payload,
                       TransportCounters &c) {
  net::UdpView v{};
  const net::ArpPacket *arp = nullptr;
  const bool csum_bad = rx_csum_offload_ &&
                        (mb->ol_flags & (RTE_MBUF_F_RX_IP_CKSUM_BAD | RTE_MBUF_F_RX_L4_CKSUM_BAD));
  std::span<const uint8_t> bytes(rte_pktmbuf_mtod(mb, const uint8_t *), mb->data_len);
  const net::Parsed kind = mb->nb_segs != 1 || csum_bad
                               ? net::Parsed::kBad
                               : net::parse(bytes, !rx_csum_offload_, v, arp);
  if (kind == net::Parsed::kArp) {
    handle_arp(*arp, c);
    return -1;
  }
  if (kind != net::Parsed::kUdp || v.eth->dst != flow_.src_mac || v.ip->dst.get() != flow_.src_ip ||
      v.ip->src.get() != flow_.dst_ip || v.payload.size() > max_frame_) {
    c.rx_dropped.add();
    return -1;
  }
  // Lane i: our port + i, from the peer's port + i (16-bit arithmetic wraps out of range).
  const uint16_t lane = static_cast<uint16_t>(v.udp->dst_port.get() - flow_.src_port);
  if (lane >= lanes || v.udp->src_port.get() != static_cast<uint16_t>(flow_.dst_port + lane)) {
    c.rx_dropped.add();
    return -1;
  }
  if (!static_peer_mac_) {  // follow the peer if its port (and MAC) changed
    flow_.dst_mac = v.eth->src;
    peer_mac_known_ = true;
  }
  payload = v.payload;
  return lane;
}

}  // namespace ferry::engine
