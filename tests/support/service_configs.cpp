#include "service_configs.h"

#include <fstream>
#include <sstream>

#include "lab.h"

namespace ferry::testing {
namespace {

// "[a, b]" with each item as `quote` + item + `quote`.
template <typename T>
std::string flow_list(const std::vector<T> &items, const char *quote = "") {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < items.size(); ++i) out << (i ? ", " : "") << quote << items[i] << quote;
  out << "]";
  return out.str();
}

std::string idle(const IdleYaml &i) {
  return "idle: {mode: " + i.mode + ", spin_polls: " + std::to_string(i.spin_polls) +
         ", sleep_us: " + std::to_string(i.sleep_us) + "}\n";
}

// eal, transport, idle, lanes and housekeeping: the head of either service's file.
std::string service_head(const ServiceYaml &c) {
  std::ostringstream y;
  y << "eal:\n  lcores: " << flow_list(c.lcores) << "\n";
  if (!c.cpus.empty()) y << "  cpus: " << flow_list(c.cpus) << "\n";
  y << "  no_huge: " << (c.no_huge ? "true" : "false") << "\n  memory_mb: " << c.memory_mb
    << "\n  file_prefix: " << c.file_prefix << "\n";
  if (!c.vdevs.empty()) y << "  vdevs: " << flow_list(c.vdevs, "'") << "\n";
  y << "transport:\n  kind: " << c.kind << "\n";
  if (!c.port.empty()) y << "  port: " << c.port << "\n";
  y << "  local: {ip: " << c.local_ip << ", port: " << c.udp_port << "}\n  peer: {ip: " << c.peer_ip
    << ", port: " << c.udp_port << "}\n  mtu: " << c.mtu << "\n  retransmit_us: " << c.retransmit_us
    << "\n";
  if (c.max_retransmit_us) y << "  max_retransmit_us: " << c.max_retransmit_us << "\n";
  y << idle(c.idle);
  if (c.lanes > 1) y << "lanes: " << c.lanes << "\n";
  if (c.housekeeping_every) y << "housekeeping_every: " << c.housekeeping_every << "\n";
  return y.str();
}

// ready_file and faults: the tail of either service's file.
std::string service_tail(const ServiceYaml &c) {
  std::ostringstream y;
  if (!c.ready_file.empty()) y << "ready_file: " << c.ready_file << "\n";
  if (!c.faults_tx.empty() || !c.faults_rx.empty()) {
    y << "faults:\n  seed: " << c.fault_seed << "\n";
    if (!c.faults_tx.empty()) y << "  tx: " << c.faults_tx << "\n";
    if (!c.faults_rx.empty()) y << "  rx: " << c.faults_rx << "\n";
  }
  return y.str();
}

}  // namespace

DataplaneYaml::DataplaneYaml() {
  local_ip = VethLab::kIpA;
  peer_ip = VethLab::kIpB;
}

DeviceNodeYaml::DeviceNodeYaml() {
  local_ip = VethLab::kIpB;
  peer_ip = VethLab::kIpA;
}

std::string dataplane_yaml(const DataplaneYaml &c) {
  std::ostringstream y;
  y << service_head(c) << "guests:\n";
  for (const RegionYaml &g : c.guests) {
    y << "  - {path: " << g.path << ", channel: " << g.channel << ", queues: " << g.queues;
    if (g.lane >= 0) y << ", lane: " << g.lane;
    y << "}\n";
  }
  return y.str() + service_tail(c);
}

std::string device_node_yaml(const DeviceNodeYaml &c) {
  std::ostringstream y;
  y << service_head(c) << "devices:\n";
  for (const DeviceYaml &d : c.devices) {
    y << "  - id: " << d.id << "\n    model: " << d.model << "\n";
    if (!d.params.empty()) {
      y << "    params: {";
      const char *sep = "";
      for (const auto &[key, value] : d.params) {
        y << sep << key << ": " << value;
        sep = ", ";
      }
      y << "}\n";
    }
    y << "    guests:\n";
    for (const GuestKeyYaml &g : d.guests)
      y << "      - {id: " << g.id << ", psk_file: " << g.psk_file << "}\n";
  }
  if (c.dma_timeout_ms) y << "dma_timeout_ms: " << c.dma_timeout_ms << "\n";
  return y.str() + service_tail(c);
}

std::string guest_yaml(const GuestYaml &c) {
  std::ostringstream y;
  y << "region: " << c.region << "\nqueues: " << c.queues << "\nqueue: " << c.queue
    << "\npsk_file: " << c.psk_file << "\ndevice_id: " << c.device_id
    << "\nguest_id: " << c.guest_id << "\nsecurity: " << c.security
    << "\nmmio_timeout_ms: " << c.mmio_timeout_ms
    << "\nhandshake_timeout_ms: " << c.handshake_timeout_ms << "\n";
  if (c.rekey_after_messages) y << "rekey_after_messages: " << c.rekey_after_messages << "\n";
  if (c.rekey_after_ms) y << "rekey_after_ms: " << c.rekey_after_ms << "\n";
  y << idle(c.idle);
  return y.str();
}

bool write_text(const std::string &path, const std::string &text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.close();
  return static_cast<bool>(f);
}

bool add_guest(const GuestYaml &guest, const std::string &path, DeviceNodeYaml &dn,
               DataplaneYaml &dp, int lane) {
  for (DeviceYaml &d : dn.devices) {
    if (d.id != guest.device_id) continue;
    d.guests.push_back({guest.guest_id, guest.psk_file});
    dp.guests.push_back({guest.region, guest.guest_id, guest.queues, lane});
    return write_text(path, guest_yaml(guest));
  }
  return false;
}

}  // namespace ferry::testing
