// Configuration of the three roles, parsed once from YAML into plain structs with explicit
// defaults. Unknown keys, wrong types and out-of-range values are errors that name the file,
// the key and the line. Services read these structs, never the YAML.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "ferry/proto/aead.h"
#include "ferry/proto/idle.h"

namespace ferry::config {

// A configuration error: "<file>:<line>: <key>: <what is wrong>".
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string &file, int line, const std::string &key, const std::string &what);
  const std::string &file() const { return file_; }
  const std::string &key() const { return key_; }
  int line() const { return line_; }

 private:
  std::string file_;
  std::string key_;
  int line_;
};

// How a polling loop behaves when it finds no work: the one policy the engine and the guest
// shim apply (proto/idle.h).
using IdlePolicy = proto::IdlePolicy;

// Most polling lanes a service runs (config key `lanes`).
inline constexpr uint32_t kMaxLanes = 16;

// DPDK EAL arguments.
struct EalConfig {
  std::vector<unsigned> lcores{0};  // first one is the main lcore unless main_lcore is set
  int main_lcore = -1;
  bool no_huge = false;
  uint32_t memory_mb = 256;  // -m
  std::string file_prefix = "ferry";
  std::vector<std::string> allow;  // PCI addresses (-a)
  std::vector<std::string> vdevs;  // --vdev arguments
  std::vector<std::string> extra_args;
  // CPU each lcore runs on, one per lcores entry (EAL --lcores L@C); empty: lcore i on CPU i.
  // Lets a small machine give a host more lcores (lanes) than it has CPUs.
  std::vector<unsigned> cpus;
  // DPDK's secondary processes (dpdk-proc-info, dpdk-dumpcap, pdump) may attach: hugepage
  // files stay linked while the service runs and pdump is served. false: --huge-unlink.
  bool secondary_processes = true;
};

struct Endpoint {
  std::string ip;     // dotted IPv4
  uint16_t port = 0;  // UDP or TCP port
  std::string mac;    // optional static MAC (aa:bb:cc:dd:ee:ff); empty: resolve by ARP
};

struct TransportConfig {
  enum class Kind { kDpdk, kKernelUdp, kKernelTcp };
  Kind kind = Kind::kKernelUdp;
  Endpoint local;
  Endpoint peer;     // the data plane's peer is the device node and vice versa
  std::string port;  // dpdk: PCI address or vdev name of the ethdev
  uint32_t mtu = 1500;
  uint16_t rx_desc = 1024, tx_desc = 1024;
  uint32_t mbufs = 8191, mbuf_cache = 256;
  uint32_t busy_poll_us = 0;      // kernel-udp: SO_BUSY_POLL (0 = off)
  uint32_t retransmit_us = 2000;  // datagram transports: first retransmit timeout
  uint32_t max_retransmit_us = 100000;
  uint32_t window_frames = 256;  // frames in flight before the sender waits
  uint32_t tx_retries = 8;       // bounded TX retry before a drop is counted
};

// Fault injection in the engine (tests and soak runs; config key `faults`): what happens to
// frames on their way out (tx) and in (rx). Probabilities are parts per million.
struct FaultDirection {
  uint32_t drop_ppm = 0, duplicate_ppm = 0, reorder_ppm = 0, corrupt_ppm = 0, delay_ppm = 0;
  uint32_t reorder_distance = 4;  // a reordered frame is passed by 1 .. this many later frames
  uint32_t corrupt_bytes = 1;     // bytes changed in a corrupted frame
  uint32_t delay_us = 1000;       // a delayed frame waits 1 .. this many microseconds
  bool any() const { return drop_ppm || duplicate_ppm || reorder_ppm || corrupt_ppm || delay_ppm; }
};

struct FaultConfig {
  uint64_t seed = 1;  // same seed, same decisions (per lane: seed + lane)
  FaultDirection tx, rx;
  bool enabled() const { return tx.any() || rx.any(); }
};

// One guest served by a data plane: its shared-memory region and geometry.
struct GuestRegion {
  std::string path;  // hugetlbfs (or /dev/shm) file the data plane creates
  uint32_t channel = 1;
  uint16_t n_queues = 1;
  uint32_t ring_slots = 256;
  uint32_t chunk_size = 4096;
  uint32_t n_chunks = 1024;
  uint64_t dma_base = 0x1000000;
  uint32_t lane = 0;  // the polling lane (lcore) that serves this guest, below lanes
  // The file's owner, group and mode, for the hypervisor's user (QEMU/libvirt) that maps it:
  // -1 leaves the owner or group as created (the data plane's user).
  int64_t uid = -1, gid = -1;
  uint32_t mode = 0660;
};

struct DataplaneConfig {
  std::string file;
  EalConfig eal;
  TransportConfig transport;
  IdlePolicy idle;
  std::vector<GuestRegion> guests;
  FaultConfig faults;  // off unless configured
  // Polling lanes: 1 runs everything on the main lcore; N > 1 runs one engine per lane on
  // its own lcore, lane i talking to the peer's lane i on port + i (engine/README.md).
  uint32_t lanes = 1;
  uint32_t housekeeping_every = 1024;  // loop iterations between housekeeping passes
  std::string ready_file;              // written once the service serves (lab waits for it)
};

// A guest allowed to use a device, with its own PSK (never shared with another guest, so
// one tenant cannot play the device node to another: docs/protocol.md, Handshake).
struct GuestKeyConfig {
  uint32_t guest_id = 0;
  std::string psk_file;
};

// One device the device node offers: its id (guests name it in the handshake), the guests
// that may use it (each with its PSK) and its model.
struct DeviceConfig {
  uint32_t device_id = 1;
  std::vector<GuestKeyConfig> guests;
  // The model and its parameters as written; the device node's model table
  // (device-node/src/model_factory.cpp) knows which models there are and checks them.
  std::string model;                       // empty: the device node's default model
  std::map<std::string, uint64_t> params;  // model parameters (e.g. dma_buffer_size)
  int lane = -1;                           // the lane that offers it; -1: every lane
  // Where the model and each parameter were written (key path and line; line 0 when not
  // from a file), for the errors the device node finds when it checks them.
  struct Source {
    std::string key;
    int line = 0;
  };
  Source model_source;
  std::map<std::string, Source> param_sources;
};

struct DeviceNodeConfig {
  std::string file;
  EalConfig eal;
  TransportConfig transport;
  IdlePolicy idle;
  std::vector<DeviceConfig> devices;
  FaultConfig faults;  // off unless configured
  uint32_t lanes = 1;  // as DataplaneConfig::lanes; max_sessions counts per lane
  uint32_t replay_window = 1024;
  uint32_t reply_cache = 256;  // completions remembered per queue for retransmits
  uint32_t max_sessions = 64;
  // A session that receives nothing from its guest for this long is ended; 0: never.
  uint32_t session_idle_timeout_ms = 600000;
  // A guest memory chunk the device node asked the data plane for and did not get within this
  // fails the model's DMA transfer (counted in dma_timeouts).
  uint32_t dma_timeout_ms = 200;
  uint32_t housekeeping_every = 1024;
  std::string ready_file;
};

struct GuestConfig {
  std::string file;
  std::string region_path;
  uint16_t queue = 0;     // first queue this process uses
  uint16_t n_queues = 1;  // queues the session opens (<= the region's)
  std::string psk_file;
  uint32_t device_id = 1;
  uint32_t guest_id = 0;  // names this guest's PSK on the device node (devices[].guests[])
  proto::Security security = proto::Security::kConfidential;
  uint8_t key_bytes = 32;
  uint32_t mmio_timeout_ms = 1000;
  uint32_t handshake_timeout_ms = 5000;
  uint32_t replay_window = 1024;
  // Rekeying of the session's descriptor streams (docs/protocol.md): a new key epoch after
  // this many descriptors per stream, or this long; 0 = never by that measure.
  uint32_t rekey_after_messages = 0;
  uint32_t rekey_after_ms = 0;
  IdlePolicy idle{IdlePolicy::Mode::kSpinThenYield, 20, 50};
  // Bytes of BARs 0-5, for ferry_map_bar (the protocol does not carry them); 0: not mappable.
  // Key `bar_size: {BAR: bytes}`; BAR0 defaults to edu's 1 MiB.
  std::array<uint64_t, 6> bar_sizes{1u << 20, 0, 0, 0, 0, 0};
};

// Each throws ConfigError on any problem (missing file included). Device models and their
// parameters are the device node's to check (ferry::device::check_device_models).
DataplaneConfig load_dataplane(const std::string &path);
DeviceNodeConfig load_device_node(const std::string &path);
GuestConfig load_guest(const std::string &path);

// Parses a MAC address "aa:bb:cc:dd:ee:ff"; false if malformed.
bool parse_mac(const std::string &s, uint8_t out[6]);

// True for a PCI address as DPDK takes it: [DOMAIN:]BB:DD.F in hex, device <= 1f, function <= 7.
bool is_pci_address(const std::string &s);

// What the loaders do not open, checked by the services before they start anything: each
// guest's PSK file of every device is readable and holds a key; each guest region's directory
// exists. Throw ConfigError naming the file, the key (devices[i].guests[j].psk_file,
// guests[i].path) and its line.
void check_device_node_files(const DeviceNodeConfig &c);
void check_dataplane_files(const DataplaneConfig &c);

}  // namespace ferry::config
