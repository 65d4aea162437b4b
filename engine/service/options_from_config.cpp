#include "service/options_from_config.h"

#include <stdexcept>

namespace ferry::services {

static_assert(config::kMaxLanes <= engine::kMaxLanes, "the engine must run every lane allowed");

namespace {

engine::Endpoint endpoint(const config::Endpoint &e) {
  return engine::Endpoint{e.ip, e.port};
}

engine::TransportOptions::Kind kind(config::TransportConfig::Kind k) {
  switch (k) {
    case config::TransportConfig::Kind::kDpdk:
      return engine::TransportOptions::Kind::kDpdk;
    case config::TransportConfig::Kind::kKernelUdp:
      return engine::TransportOptions::Kind::kKernelUdp;
    case config::TransportConfig::Kind::kKernelTcp:
      return engine::TransportOptions::Kind::kKernelTcp;
  }
  throw std::runtime_error("unknown transport kind");
}

engine::FaultDirection fault_direction(const config::FaultDirection &d) {
  engine::FaultDirection o;
  o.drop_ppm = d.drop_ppm;
  o.duplicate_ppm = d.duplicate_ppm;
  o.reorder_ppm = d.reorder_ppm;
  o.corrupt_ppm = d.corrupt_ppm;
  o.delay_ppm = d.delay_ppm;
  o.reorder_distance = d.reorder_distance;
  o.corrupt_bytes = d.corrupt_bytes;
  o.delay_us = d.delay_us;
  return o;
}

}  // namespace

engine::EalOptions eal_options(const config::EalConfig &c) {
  engine::EalOptions o;
  o.lcores = c.lcores;
  o.main_lcore = c.main_lcore;
  o.no_huge = c.no_huge;
  o.memory_mb = c.memory_mb;
  o.file_prefix = c.file_prefix;
  o.allow = c.allow;
  o.vdevs = c.vdevs;
  o.extra_args = c.extra_args;
  o.cpus = c.cpus;
  o.secondary_processes = c.secondary_processes;
  return o;
}

engine::TransportOptions transport_options(const config::TransportConfig &c) {
  engine::TransportOptions o;
  o.kind = kind(c.kind);
  o.local = endpoint(c.local);
  o.peer = endpoint(c.peer);
  if (!c.peer.mac.empty()) {  // the local MAC is the port's own
    engine::MacAddress mac{};
    if (!config::parse_mac(c.peer.mac, mac.data()))
      throw std::runtime_error("dpdk: transport.peer.mac: not a MAC address: '" + c.peer.mac + "'");
    o.peer_mac = mac;
  }
  o.port = c.port;
  o.mtu = c.mtu;
  o.rx_desc = c.rx_desc;
  o.tx_desc = c.tx_desc;
  o.mbufs = c.mbufs;
  o.mbuf_cache = c.mbuf_cache;
  o.busy_poll_us = c.busy_poll_us;
  o.tx_retries = c.tx_retries;
  return o;
}

engine::FaultOptions fault_options(const config::FaultConfig &c) {
  engine::FaultOptions o;
  o.seed = c.seed;
  o.tx = fault_direction(c.tx);
  o.rx = fault_direction(c.rx);
  return o;
}

engine::EngineOptions engine_options(const config::TransportConfig &t,
                                     const config::IdlePolicy &idle, uint32_t housekeeping_every) {
  engine::EngineOptions o;
  o.window_frames = t.window_frames;
  o.retransmit_us = t.retransmit_us;
  o.max_retransmit_us = t.max_retransmit_us;
  o.housekeeping_every = housekeeping_every ? housekeeping_every : 1;
  o.idle = idle;
  return o;
}

}  // namespace ferry::services
