// The three role loaders: which keys each role's file has, their ranges and cross-checks.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>

#include "faults.h"
#include "ferry/proto/handshake.h"
#include "yaml_reader.h"

namespace ferry::config {

using detail::MapReader;

namespace {

bool power_of_two(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

// Lanes: a lane is one engine on one lcore. One lane runs on the main lcore; with more, a
// kernel transport runs lane 0 on the main lcore and one more lane on each worker lcore, and
// dpdk runs the port on the main lcore and every lane on a worker (rte_ring in between). Lane i
// uses local and peer port + i.
void read_lanes(const MapReader &root, const EalConfig &eal, const TransportConfig &t,
                uint32_t &lanes) {
  root.get_uint("lanes", lanes, 1, kMaxLanes);
  if (lanes == 1) return;
  const bool dpdk = t.kind == TransportConfig::Kind::kDpdk;
  const size_t need = dpdk ? lanes + 1 : lanes;
  if (eal.lcores.size() < need)
    root.fail("lanes", std::to_string(lanes) + " lanes over " +
                           (dpdk ? "dpdk need " : "a kernel transport need ") +
                           std::to_string(need) + " lcores in eal.lcores (" +
                           (dpdk ? "the main lcore runs the port, each lane a worker"
                                 : "lane 0 on the main lcore, each other lane a worker") +
                           "), it lists " + std::to_string(eal.lcores.size()));
  for (const Endpoint *e : {&t.local, &t.peer}) {
    if (e->port != 0 && e->port + lanes - 1 > 65535)
      root.fail("lanes", "lane " + std::to_string(lanes - 1) + " would use port " +
                             std::to_string(e->port + lanes - 1) + " (ports are port + lane)");
  }
}

void check_lane(const MapReader &m, uint64_t lane, uint32_t lanes) {
  if (lane >= lanes)
    m.fail("lane", "lane " + std::to_string(lane) + " does not exist: lanes is " +
                       std::to_string(lanes) + " (lanes are numbered from 0)");
}

// owner/group: a name this host knows, or a number.
int64_t read_id(const MapReader &m, const char *key, bool user) {
  if (!m.has(key)) return -1;
  std::string name;
  m.get(key, name);
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
    uint64_t id = 0;
    m.get_u64(key, id, 0, 0xfffffffeu);
    return static_cast<int64_t>(id);
  }
  if (user) {
    if (const passwd *pw = getpwnam(name.c_str())) return pw->pw_uid;
    m.fail(key, "no user '" + name + "' on this host");
  }
  if (const group *gr = getgrnam(name.c_str())) return gr->gr_gid;
  m.fail(key, "no group '" + name + "' on this host");
}

void read_guest_region(const MapReader &m, GuestRegion &g) {
  m.only({"path", "channel", "queues", "ring_slots", "chunk_size", "chunks", "dma_base", "lane",
          "owner", "group", "mode"});
  g.uid = read_id(m, "owner", true);
  g.gid = read_id(m, "group", false);
  if (m.has("mode")) {
    std::string mode;
    m.get("mode", mode);
    size_t used = 0;
    unsigned long v = 0;
    try {
      v = std::stoul(mode, &used, 8);
    } catch (const std::exception &) {
      used = 0;
    }
    if (mode.empty() || used != mode.size() || v > 0777)
      m.fail("mode", "'" + mode + "' is not a file mode in octal (e.g. '0660')");
    if (v & 0002) m.fail("mode", "'" + mode + "': a region must not be writable by everyone");
    g.mode = static_cast<uint32_t>(v);
  }
  m.get_uint("lane", g.lane, 0, kMaxLanes - 1);
  m.require("path");
  m.get("path", g.path);
  m.get_uint("channel", g.channel, 1, 0xffffffffu);
  m.get_uint("queues", g.n_queues, 1, 64);
  m.get_uint("ring_slots", g.ring_slots, 8, 1u << 16);
  if (!power_of_two(g.ring_slots)) m.fail("ring_slots", "must be a power of two");
  m.get_uint("chunk_size", g.chunk_size, 64, 65536);
  if (g.chunk_size % 64 != 0) m.fail("chunk_size", "must be a multiple of 64");
  m.get_uint("chunks", g.n_chunks, 1, 1u << 20);
  m.get_u64("dma_base", g.dma_base, 0, (1ull << 48));
  if (g.dma_base % g.chunk_size != 0) m.fail("dma_base", "must be a multiple of chunk_size");
}

}  // namespace

DataplaneConfig load_dataplane(const std::string &path) {
  DataplaneConfig c;
  c.file = path;
  MapReader root = detail::load_root(path);
  root.only({"eal", "transport", "idle", "guests", "lanes", "housekeeping_every", "ready_file",
             "faults"});
  detail::read_eal(root.child("eal"), c.eal);
  detail::read_transport(root.child("transport"), c.transport);
  detail::read_idle(root.child("idle"), c.idle);
  read_lanes(root, c.eal, c.transport, c.lanes);
  root.require("guests");
  std::set<uint32_t> channels;
  for (const MapReader &g : root.list_of_maps("guests")) {
    GuestRegion r;
    read_guest_region(g, r);
    check_lane(g, r.lane, c.lanes);
    if (!channels.insert(r.channel).second)
      g.fail("channel", "channel " + std::to_string(r.channel) + " is used twice");
    c.guests.push_back(r);
  }
  if (c.guests.empty()) root.fail("guests", "must list at least one guest");
  root.get_uint("housekeeping_every", c.housekeeping_every, 1, 1u << 30);
  root.get("ready_file", c.ready_file);
  detail::read_faults(root, c.transport, c.faults);
  return c;
}

DeviceNodeConfig load_device_node(const std::string &path) {
  DeviceNodeConfig c;
  c.file = path;
  MapReader root = detail::load_root(path);
  root.only({"eal", "transport", "idle", "devices", "lanes", "replay_window", "reply_cache",
             "max_sessions", "session_idle_timeout_ms", "dma_timeout_ms", "housekeeping_every",
             "ready_file", "faults"});
  detail::read_eal(root.child("eal"), c.eal);
  detail::read_transport(root.child("transport"), c.transport);
  detail::read_idle(root.child("idle"), c.idle);
  read_lanes(root, c.eal, c.transport, c.lanes);
  root.require("devices");
  std::set<uint32_t> ids;
  std::vector<bool> lane_served(c.lanes, false);
  for (const MapReader &d : root.list_of_maps("devices")) {
    DeviceConfig dev;
    if (d.has("psk_file"))
      d.fail("psk_file",
             "a device has no PSK of its own: give each guest its own key under "
             "`guests: [{id: GUEST, psk_file: FILE}]`");
    d.only({"id", "guests", "model", "params", "lane"});
    if (d.has("lane")) {
      d.get_int("lane", dev.lane, 0, static_cast<int>(kMaxLanes) - 1);
      check_lane(d, static_cast<uint64_t>(dev.lane), c.lanes);
      lane_served[dev.lane] = true;
    } else {
      lane_served.assign(c.lanes, true);
    }
    d.require("guests");
    d.get_uint("id", dev.device_id, 1, 0xffffffffu);
    if (!ids.insert(dev.device_id).second)
      d.fail("id", "device id " + std::to_string(dev.device_id) + " is used twice");
    std::set<uint32_t> guest_ids;
    for (const MapReader &g : d.list_of_maps("guests")) {
      GuestKeyConfig key;
      g.only({"id", "psk_file"});
      g.require("id");
      g.require("psk_file");
      g.get_uint("id", key.guest_id, 1, 0xffffffffu);
      if (!guest_ids.insert(key.guest_id).second)
        g.fail("id", "guest id " + std::to_string(key.guest_id) + " is listed twice");
      g.get("psk_file", key.psk_file);
      dev.guests.push_back(key);
    }
    if (dev.guests.empty()) d.fail("guests", "must list at least one guest");
    // The model and its parameters as written: which models there are and what each takes
    // is the device node's table (device-node/src/model_factory.cpp), which checks them.
    d.get("model", dev.model);
    if (d.has("model") && dev.model.empty()) d.fail("model", "must name a device model");
    dev.model_source = {d.key_path("model"), d.line_of_key("model")};
    MapReader params = d.child("params");
    for (const std::string &key : params.keys()) {
      uint64_t v = 0;
      params.get_u64(key.c_str(), v, 0, UINT64_MAX);
      dev.params[key] = v;
      dev.param_sources[key] = {params.key_path(key.c_str()), params.line_of_key(key.c_str())};
    }
    c.devices.push_back(dev);
  }
  if (c.devices.empty()) root.fail("devices", "must list at least one device");
  for (uint32_t l = 0; l < c.lanes; ++l) {
    if (!lane_served[l])
      root.fail("devices", "lane " + std::to_string(l) +
                               " offers no device (give one `lane: " + std::to_string(l) +
                               "`, or leave `lane` out to offer a device on every lane)");
  }
  root.get_uint("replay_window", c.replay_window, 1024, 1u << 20);
  root.get_uint("reply_cache", c.reply_cache, 1, 1u << 16);
  root.get_uint("max_sessions", c.max_sessions, 1, 4096);
  root.get_uint("session_idle_timeout_ms", c.session_idle_timeout_ms, 0, 86'400'000);
  root.get_uint("dma_timeout_ms", c.dma_timeout_ms, 1, 600000);
  root.get_uint("housekeeping_every", c.housekeeping_every, 1, 1u << 30);
  root.get("ready_file", c.ready_file);
  detail::read_faults(root, c.transport, c.faults);
  return c;
}

GuestConfig load_guest(const std::string &path) {
  GuestConfig c;
  c.file = path;
  MapReader root = detail::load_root(path);
  root.only({"region", "queue", "queues", "psk_file", "device_id", "guest_id", "security",
             "key_bits", "mmio_timeout_ms", "handshake_timeout_ms", "replay_window", "idle",
             "bar_size", "rekey_after_messages", "rekey_after_ms"});
  root.require("region");
  root.require("psk_file");
  root.get("region", c.region_path);
  root.get_uint("queues", c.n_queues, 1, 64);
  root.get_uint("queue", c.queue, 0, 63);
  if (c.queue >= c.n_queues)
    root.fail("queue", "must be below queues (" + std::to_string(c.n_queues) + ")");
  root.get("psk_file", c.psk_file);
  root.get_uint("device_id", c.device_id, 1, 0xffffffffu);
  root.get_uint("guest_id", c.guest_id, 1, 0xffffffffu);
  int sec = static_cast<int>(c.security);
  root.get_choice("security", sec, {"none", "integrity", "confidential"});
  c.security = static_cast<proto::Security>(sec);
  unsigned bits = c.key_bytes * 8u;
  root.get_uint("key_bits", bits, 128, 256);
  if (bits != 128 && bits != 256) root.fail("key_bits", "must be 128 or 256");
  c.key_bytes = static_cast<uint8_t>(bits / 8);
  root.get_uint("mmio_timeout_ms", c.mmio_timeout_ms, 1, 600000);
  root.get_uint("handshake_timeout_ms", c.handshake_timeout_ms, 1, 600000);
  root.get_uint("replay_window", c.replay_window, 1024, 1u << 20);
  root.get_uint("rekey_after_messages", c.rekey_after_messages, 0, 1u << 30);
  if (c.rekey_after_messages != 0 && c.rekey_after_messages < 16)
    root.fail("rekey_after_messages", "must be 0 (never) or at least 16");
  root.get_uint("rekey_after_ms", c.rekey_after_ms, 0, 86'400'000);
  detail::read_idle(root.child("idle"), c.idle);
  const MapReader bars = root.child("bar_size");
  bars.only({"0", "1", "2", "3", "4", "5"});
  for (size_t b = 0; b < c.bar_sizes.size(); ++b) {
    const std::string key = std::to_string(b);
    if (!bars.has(key.c_str())) continue;
    bars.get_u64(key.c_str(), c.bar_sizes[b], 16, 1ull << 40);
    if (!power_of_two(c.bar_sizes[b])) bars.fail(key.c_str(), "must be a power of two");
  }
  root.require("guest_id");  // last: the errors of the keys above come first
  return c;
}

// Files the configuration names, checked before a service starts anything.
void check_device_node_files(const DeviceNodeConfig &c) {
  const std::vector<MapReader> devs = detail::load_root(c.file).list_of_maps("devices");
  for (size_t i = 0; i < c.devices.size() && i < devs.size(); ++i) {
    const std::vector<MapReader> guests = devs[i].list_of_maps("guests");
    for (size_t j = 0; j < c.devices[i].guests.size() && j < guests.size(); ++j) {
      // A key file is small and regular: /dev/zero or a FIFO must not hang the service here.
      struct stat st {};
      const std::string &f = c.devices[i].guests[j].psk_file;
      if (stat(f.c_str(), &st) != 0)
        guests[j].fail("psk_file", "cannot read '" + f + "': " + std::strerror(errno));
      if (!S_ISREG(st.st_mode) || st.st_size > 4096)
        guests[j].fail("psk_file", "'" + f + "' is not a key file (a regular file of 32 raw " +
                                       "bytes or 64 hex characters)");
      try {
        proto::Psk psk = proto::read_psk_file(f);
        proto::secure_wipe(psk.data(), psk.size());
      } catch (const std::runtime_error &e) {
        guests[j].fail("psk_file", e.what());
      }
    }
  }
}

void check_dataplane_files(const DataplaneConfig &c) {
  const std::vector<MapReader> guests = detail::load_root(c.file).list_of_maps("guests");
  for (size_t i = 0; i < c.guests.size() && i < guests.size(); ++i) {
    const std::string &p = c.guests[i].path;
    const std::string dir = p.find('/') == std::string::npos ? "." : p.substr(0, p.rfind('/') + 1);
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      guests[i].fail("path", "directory '" + dir + "' does not exist");
  }
}

}  // namespace ferry::config
