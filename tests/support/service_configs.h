// The YAML the end-to-end suites give the real services and guests: ferry-dataplane in
// namespace a of a VethLab, ferry-device-node in namespace b, and the guest files a driver
// passes to ferry_open(). Each options struct starts from what the suites share (kernel-udp
// on port 7000 between the lab's two addresses, 64 MB without hugepages, spin-then-sleep
// when idle, a confidential guest); a suite sets only what it varies. The keys are the
// loaders' (config/src/roles.cpp, config/templates/).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ferry::testing {

// `idle:` of a service or a guest (proto/idle.h).
struct IdleYaml {
  std::string mode = "spin-then-sleep";
  uint32_t spin_polls = 200;
  uint32_t sleep_us = 20;
};

// What both services share: `eal`, `transport`, `idle`, `lanes`, `faults`, `ready_file`.
struct ServiceYaml {
  // eal
  std::string file_prefix;  // the telemetry socket's folder under /var/run/dpdk
  std::vector<unsigned> lcores{0};
  std::vector<unsigned> cpus;  // empty: not written (lcore i on CPU i)
  bool no_huge = true;
  uint32_t memory_mb = 64;
  std::vector<std::string> vdevs;  // --vdev arguments, each quoted
  // transport
  std::string kind = "kernel-udp";  // kernel-udp, kernel-tcp, dpdk
  std::string port;                 // dpdk: the ethdev (a vdev's name)
  std::string local_ip, peer_ip;    // empty: the lab address of the service's namespace
  uint16_t udp_port = 7000;         // the same on both sides
  uint32_t mtu = 1500;
  uint32_t retransmit_us = 5000;
  uint32_t max_retransmit_us = 0;  // 0: not written
  IdleYaml idle;
  uint32_t lanes = 1;               // written when above 1
  uint32_t housekeeping_every = 0;  // 0: not written
  // `faults:` written when either direction is set: each a flow map, e.g. "{drop: 5%}".
  uint64_t fault_seed = 1;
  std::string faults_tx, faults_rx;
  std::string ready_file;
};

// One guest region the data plane serves.
struct RegionYaml {
  std::string path;
  uint32_t channel = 1;
  uint32_t queues = 1;
  int lane = -1;  // -1: not written (lane 0)
};

struct DataplaneYaml : ServiceYaml {
  DataplaneYaml();  // local 198.18.0.1 (namespace a), peer 198.18.0.2
  std::vector<RegionYaml> guests;
};

// A guest allowed on a device and its PSK file.
struct GuestKeyYaml {
  uint32_t id = 1;
  std::string psk_file;
};

struct DeviceYaml {
  uint32_t id = 1;
  std::vector<GuestKeyYaml> guests;
  std::string model = "edu";
  std::map<std::string, uint64_t> params;  // written as `params:` when not empty
};

struct DeviceNodeYaml : ServiceYaml {
  DeviceNodeYaml();  // local 198.18.0.2 (namespace b), peer 198.18.0.1
  std::vector<DeviceYaml> devices;
  uint32_t dma_timeout_ms = 0;  // 0: not written
};

// What a driver passes to ferry_open().
struct GuestYaml {
  std::string region;
  uint32_t queues = 1;
  uint32_t queue = 0;
  std::string psk_file;
  uint32_t device_id = 1;
  uint32_t guest_id = 1;
  std::string security = "confidential";  // none, integrity, confidential
  uint32_t mmio_timeout_ms = 2000;
  uint32_t handshake_timeout_ms = 5000;
  uint32_t rekey_after_messages = 0, rekey_after_ms = 0;  // 0: not written
  // Three pollers on two cores: a guest that yields keeps competing for a core and triples
  // the median round trip; one that sleeps 5 us when idle does not.
  IdleYaml idle{"spin-then-sleep", 50, 5};
};

std::string dataplane_yaml(const DataplaneYaml &c);
std::string device_node_yaml(const DeviceNodeYaml &c);
std::string guest_yaml(const GuestYaml &c);

// Writes `text` to `path` (replacing it); false if it cannot.
bool write_text(const std::string &path, const std::string &text);

// Adds a guest to a lab: writes its YAML to `path`, lists its PSK on its device (the entry of
// dn.devices with its device_id) and has the data plane serve its region on channel guest_id
// (on `lane`, -1: not written). False if there is no such device or the file cannot be written.
bool add_guest(const GuestYaml &guest, const std::string &path, DeviceNodeYaml &dn,
               DataplaneYaml &dp, int lane = -1);

}  // namespace ferry::testing
