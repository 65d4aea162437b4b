#include "transport/dpdk_lanes.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ferry::engine {

namespace {

constexpr uint64_t kSendable = uint64_t{1} << 48;

uint64_t pack_mac(const net::Mac &m) {
  uint64_t v = 0;
  for (int i = 0; i < 6; ++i) v |= uint64_t{m[i]} << (8 * i);
  return v;
}

void unpack_mac(uint64_t v, net::Mac &m) {
  for (int i = 0; i < 6; ++i) m[i] = static_cast<uint8_t>(v >> (8 * i));
}

void drain_and_free(rte_ring *r) {
  if (r == nullptr) return;
  void *objs[kBurst];
  unsigned n;
  while ((n = rte_ring_dequeue_burst(r, objs, kBurst, nullptr)) > 0)
    rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf **>(objs), n);
  rte_ring_free(r);
}

}  // namespace

// One lane's view of the port: its two rings. Runs on the lane's lcore.
class RingTransport final : public Transport {
 public:
  RingTransport(DpdkLaneIo &io, uint32_t lane)
      : io_(io), rx_(io.rx_[lane]), tx_(io.tx_[lane]), flow_(io.port_.flow()) {
    flow_.src_port = static_cast<uint16_t>(flow_.src_port + lane);
    flow_.dst_port = static_cast<uint16_t>(flow_.dst_port + lane);
  }
  ~RingTransport() override { free_held(); }

  std::string_view name() const override { return "dpdk"; }
  bool reliable() const override { return false; }
  size_t max_frame() const override { return io_.port_.max_frame(); }
  bool link_up() const override { return io_.link_.load(std::memory_order_relaxed) & kSendable; }

  int send(std::span<const FrameView> frames) override {
    const uint64_t link = io_.link_.load(std::memory_order_relaxed);
    if (!(link & kSendable)) return 0;  // the frames wait in the engine's window
    unpack_mac(link, flow_.dst_mac);
    size_t n = std::min<size_t>(frames.size(), kBurst);
    // Only this lcore enqueues: the free count can only grow until the enqueue below.
    const unsigned room = rte_ring_free_count(tx_);
    if (room < n) {
      counters_.ring_full.add();
      n = room;
    }
    rte_mbuf *pkts[kBurst];
    unsigned m = 0;
    for (size_t i = 0; i < n; ++i) {
      const FrameView f = frames[i];
      if (test_drop_this()) continue;
      rte_mbuf *mb = f.size() <= max_frame() ? rte_pktmbuf_alloc(io_.port_.pool()) : nullptr;
      if (__builtin_expect(mb == nullptr, 0)) {
        counters_.tx_drops.add();
        continue;
      }
      io_.port_.build(mb, flow_, ip_id_++, f);
      counters_.bytes_tx.add(f.size());
      pkts[m++] = mb;
    }
    const unsigned q = rte_ring_sp_enqueue_burst(tx_, reinterpret_cast<void **>(pkts), m, nullptr);
    if (__builtin_expect(q < m, 0)) {  // cannot happen with one producer; never leak
      rte_pktmbuf_free_bulk(pkts + q, m - q);
      counters_.tx_drops.add(m - q);
    }
    counters_.frames_tx.add(q);
    return static_cast<int>(n);
  }

  int recv(std::span<FrameView> out) override {
    free_held();
    const unsigned want = static_cast<unsigned>(std::min<size_t>(out.size(), kBurst));
    if (want == 0) return 0;
    const unsigned got =
        rte_ring_sc_dequeue_burst(rx_, reinterpret_cast<void **>(held_), want, nullptr);
    n_held_ = static_cast<int>(got);
    for (unsigned i = 0; i < got; ++i) {
      rte_mbuf *mb = held_[i];
      out[i] = FrameView(rte_pktmbuf_mtod(mb, const uint8_t *), mb->data_len);
      counters_.bytes_rx.add(mb->data_len);
    }
    counters_.frames_rx.add(got);
    return static_cast<int>(got);
  }

 private:
  void free_held() {
    if (n_held_) rte_pktmbuf_free_bulk(held_, static_cast<unsigned>(n_held_));
    n_held_ = 0;
  }

  DpdkLaneIo &io_;
  rte_ring *rx_, *tx_;
  net::Flow flow_;
  uint16_t ip_id_ = 0;
  rte_mbuf *held_[kBurst];
  int n_held_ = 0;
};

DpdkLaneIo::DpdkLaneIo(const TransportOptions &cfg, uint32_t lanes) : port_(cfg) {
  if (lanes == 0 || lanes > kMaxLanes)
    throw std::runtime_error("dpdk: lanes must be 1.." + std::to_string(kMaxLanes));
  const unsigned size =
      rte_align32pow2(std::max<unsigned>({cfg.rx_desc, cfg.tx_desc, 4u * kBurst}));
  auto make = [&](const char *dir, uint32_t i, unsigned flags) {
    const std::string name =
        "ferry_" + std::string(dir) + std::to_string(port_.port_id()) + "_" + std::to_string(i);
    rte_ring *r = rte_ring_create(name.c_str(), size, SOCKET_ID_ANY, flags);
    if (r == nullptr)
      throw std::runtime_error("dpdk: ring " + name + ": " + rte_strerror(rte_errno));
    return r;
  };
  try {
    for (uint32_t i = 0; i < lanes; ++i) {
      rx_.push_back(make("rx", i, RING_F_SP_ENQ | RING_F_SC_DEQ));
      tx_.push_back(make("tx", i, RING_F_SP_ENQ | RING_F_SC_DEQ));
    }
  } catch (...) {
    for (rte_ring *r : rx_) rte_ring_free(r);
    for (rte_ring *r : tx_) rte_ring_free(r);
    throw;
  }
  handed_out_.assign(lanes, false);
}

DpdkLaneIo::~DpdkLaneIo() {
  for (rte_ring *r : rx_) drain_and_free(r);
  for (rte_ring *r : tx_) drain_and_free(r);
}

std::unique_ptr<Transport> DpdkLaneIo::lane(uint32_t i) {
  if (i >= lanes() || handed_out_[i])
    throw std::runtime_error("dpdk: lane " + std::to_string(i) + " is not available");
  handed_out_[i] = true;
  return std::make_unique<RingTransport>(*this, i);
}

void DpdkLaneIo::publish_link() {
  const uint64_t v =
      port_.link_up() && port_.peer_mac_known() ? pack_mac(port_.flow().dst_mac) | kSendable : 0;
  if (link_.load(std::memory_order_relaxed) != v) link_.store(v, std::memory_order_relaxed);
}

void DpdkLaneIo::maintain(uint64_t now_ns) {
  port_.maintain(now_ns, counters_);
  publish_link();
}

int DpdkLaneIo::poll() {
  const uint32_t n_lanes = lanes();
  int work = 0;

  // RX: demultiplex by lane into per-lane batches, one ring enqueue per lane.
  rte_mbuf *pkts[kBurst];
  const uint16_t got = rte_eth_rx_burst(port_.port_id(), 0, pkts, kBurst);
  if (got) {
    rte_mbuf *batch[kMaxLanes][kBurst];
    unsigned count[kMaxLanes] = {};
    for (uint16_t i = 0; i < got; ++i) {
      rte_mbuf *mb = pkts[i];
      if (i + 1 < got) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
      std::span<const uint8_t> payload;
      const int lane = port_.classify(mb, n_lanes, payload, counters_);
      if (lane < 0) {
        rte_pktmbuf_free(mb);
        continue;
      }
      // The lane sees the frame alone: headers and Ethernet padding cut off.
      const auto off = static_cast<uint16_t>(payload.data() - rte_pktmbuf_mtod(mb, uint8_t *));
      rte_pktmbuf_adj(mb, off);
      rte_pktmbuf_trim(mb, static_cast<uint16_t>(mb->data_len - payload.size()));
      batch[lane][count[lane]++] = mb;
    }
    for (uint32_t l = 0; l < n_lanes; ++l) {
      if (!count[l]) continue;
      const unsigned q =
          rte_ring_sp_enqueue_burst(rx_[l], reinterpret_cast<void **>(batch[l]), count[l], nullptr);
      if (q < count[l]) {  // the lane is behind: drop, the peer retransmits
        rte_pktmbuf_free_bulk(batch[l] + q, count[l] - q);
        counters_.ring_full.add(count[l] - q);
      }
    }
    publish_link();  // an ARP or a frame may have taught us the peer's MAC
    work += got;
  }

  // TX: every lane's ring, starting with a different lane each pass.
  for (uint32_t k = 0; k < n_lanes; ++k) {
    const size_t l = (next_tx_ + k) % n_lanes;
    const unsigned n =
        rte_ring_sc_dequeue_burst(tx_[l], reinterpret_cast<void **>(pkts), kBurst, nullptr);
    if (n == 0) continue;
    port_.tx_burst_bounded(pkts, static_cast<int>(n), counters_);
    work += static_cast<int>(n);
  }
  next_tx_ = next_tx_ + 1 == n_lanes ? 0 : next_tx_ + 1;
  return work;
}

}  // namespace ferry::engine
