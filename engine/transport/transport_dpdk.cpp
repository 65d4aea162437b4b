#include "transport/transport_dpdk.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>

namespace ferry::engine {

DpdkTransport::DpdkTransport(const TransportOptions &cfg) : port_(cfg) {}

DpdkTransport::~DpdkTransport() {
  free_held();
}

void DpdkTransport::free_held() {
  if (n_held_) rte_pktmbuf_free_bulk(held_, static_cast<unsigned>(n_held_));
  n_held_ = 0;
}

int DpdkTransport::send(std::span<const FrameView> frames) {
  const int n = static_cast<int>(std::min<size_t>(frames.size(), kBurst));
  // Link down or peer MAC unknown: nothing is taken, the frames wait in the engine's window.
  if (!link_up()) return 0;
  rte_mbuf *pkts[kBurst];
  int m = 0;
  for (int i = 0; i < n; ++i) {
    const FrameView f = frames[i];
    if (test_drop_this()) continue;
    rte_mbuf *mb = f.size() <= port_.max_frame() ? rte_pktmbuf_alloc(port_.pool()) : nullptr;
    if (__builtin_expect(mb == nullptr, 0)) {
      counters_.tx_drops.add();
      continue;
    }
    port_.build(mb, port_.flow(), ip_id_++, f);
    counters_.bytes_tx.add(f.size());
    pkts[m++] = mb;
  }
  const int sent = port_.tx_burst_bounded(pkts, m, counters_);
  counters_.frames_tx.add(sent);
  return n;
}

int DpdkTransport::recv(std::span<FrameView> out) {
  free_held();
  const uint16_t want = static_cast<uint16_t>(std::min<size_t>(out.size(), kBurst));
  if (want == 0) return 0;
  rte_mbuf *pkts[kBurst];
  const uint16_t got = rte_eth_rx_burst(port_.port_id(), 0, pkts, want);
  int n = 0;
  for (uint16_t i = 0; i < got; ++i) {
    rte_mbuf *mb = pkts[i];
    if (i + 1 < got) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
    std::span<const uint8_t> payload;
    if (port_.classify(mb, 1, payload, counters_) < 0) {
      rte_pktmbuf_free(mb);
      continue;
    }
    counters_.frames_rx.add();
    counters_.bytes_rx.add(payload.size());
    out[n++] = payload;
    held_[n_held_++] = mb;
  }
  return n;
}

}  // namespace ferry::engine
