#include "yaml_reader.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace ferry::config {

ConfigError::ConfigError(const std::string &file, int line, const std::string &key,
                         const std::string &what)
    : std::runtime_error(file + ":" + (line > 0 ? std::to_string(line) + ":" : std::string()) +
                         " " + (key.empty() ? std::string() : key + ": ") + what),
      file_(file),
      key_(key),
      line_(line) {}

bool parse_mac(const std::string &s, uint8_t out[6]) {
  if (s.size() != 17) return false;
  for (int i = 0; i < 6; ++i) {
    const char *p = s.c_str() + 3 * i;
    if (i < 5 && p[2] != ':') return false;
    char hex[3] = {p[0], p[1], 0};
    char *end = nullptr;
    if (!std::isxdigit(static_cast<unsigned char>(p[0])) ||
        !std::isxdigit(static_cast<unsigned char>(p[1])))
      return false;
    out[i] = static_cast<uint8_t>(std::strtoul(hex, &end, 16));
  }
  return true;
}

bool is_pci_address(const std::string &s) {
  // Hex fields separated by ':' and '.': [domain (1-8 digits):]bus (1-2):device (1-2).function.
  auto hex_field = [&](size_t &pos, size_t max_digits, unsigned long &v) {
    size_t n = 0;
    v = 0;
    while (pos < s.size() && std::isxdigit(static_cast<unsigned char>(s[pos])) && n < max_digits) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[pos])));
      v = v * 16 + static_cast<unsigned long>(c <= '9' ? c - '0' : c - 'a' + 10);
      ++pos;
      ++n;
    }
    return n > 0;
  };
  const bool with_domain = std::count(s.begin(), s.end(), ':') == 2;
  size_t pos = 0;
  unsigned long domain = 0, bus = 0, dev = 0, fn = 0;
  if (with_domain && !(hex_field(pos, 8, domain) && pos < s.size() && s[pos++] == ':'))
    return false;
  if (!(hex_field(pos, 2, bus) && pos < s.size() && s[pos++] == ':')) return false;
  if (!(hex_field(pos, 2, dev) && pos < s.size() && s[pos++] == '.')) return false;
  if (!hex_field(pos, 1, fn) || pos != s.size()) return false;
  return dev <= 0x1f && fn <= 7;
}

namespace detail {

namespace {
int line_of(const YAML::Node &n) {
  return n.Mark().is_null() ? 0 : n.Mark().line + 1;
}
}  // namespace

MapReader::MapReader(const std::string &file, const YAML::Node &node, std::string path)
    : file_(file), node_(node), path_(std::move(path)) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap())
    throw ConfigError(file_, line_of(node_), path_, "must be a mapping of keys to values");
  // yaml-cpp keeps every pair of a mapping and lookups see the first: a key written twice
  // would silently lose its second value, so it is an error at the second one's line.
  if (!node_.IsMap()) return;
  std::set<std::string> seen;
  for (const auto &kv : node_) {
    if (!kv.first.IsScalar()) continue;  // only() names these
    if (!seen.insert(kv.first.Scalar()).second)
      throw ConfigError(file_, line_of(kv.first), key_path(kv.first.Scalar().c_str()),
                        "duplicate key (first at line " +
                            std::to_string(line_of(node_[kv.first.Scalar()])) + ")");
  }
}

int MapReader::line() const {
  return line_of(node_);
}

int MapReader::line_of_key(const char *key) const {
  YAML::Node n = node_.IsMap() ? node_[key] : YAML::Node();
  return n.IsDefined() ? line_of(n) : line_of(node_);
}

std::string MapReader::key_path(const char *key) const {
  return path_.empty() ? std::string(key) : path_ + "." + key;
}

void MapReader::fail(const char *key, const std::string &what) const {
  YAML::Node n = node_.IsMap() ? node_[key] : YAML::Node();
  throw ConfigError(file_, n.IsDefined() ? line_of(n) : line_of(node_), key_path(key), what);
}

void MapReader::fail_at(const YAML::Node &n, const std::string &key,
                        const std::string &what) const {
  throw ConfigError(file_, line_of(n), key, what);
}

void MapReader::only(std::initializer_list<const char *> allowed) const {
  if (!node_.IsMap()) return;
  for (const auto &kv : node_) {
    // A key that is not a plain name ("? [a, b]: 1", "~: 1") is an error, not an exception
    // from yaml-cpp's conversion (found by fuzz_config).
    if (!kv.first.IsScalar()) fail_at(kv.first, path_, "keys must be plain names");
    std::string k = kv.first.Scalar();
    bool ok = false;
    for (const char *a : allowed) ok = ok || k == a;
    if (!ok) {
      std::string list;
      for (const char *a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
      fail_at(kv.first, key_path(k.c_str()), "unknown key (allowed here: " + list + ")");
    }
  }
}

std::vector<std::string> MapReader::keys() const {
  std::vector<std::string> out;
  if (!node_.IsMap()) return out;
  for (const auto &kv : node_) {
    if (!kv.first.IsScalar()) fail_at(kv.first, path_, "keys must be plain names");
    out.push_back(kv.first.Scalar());
  }
  return out;
}

bool MapReader::has(const char *key) const {
  return node_.IsMap() && node_[key].IsDefined();
}

void MapReader::require(const char *key) const {
  if (!has(key) || node_[key].IsNull())
    throw ConfigError(file_, line(), key_path(key), "is required");
}

YAML::Node MapReader::scalar(const char *key) const {
  YAML::Node n = node_[key];
  if (!n.IsScalar()) fail(key, "must be a single value");
  return n;
}

void MapReader::get(const char *key, std::string &out) const {
  if (!has(key)) return;
  out = scalar(key).Scalar();
}

void MapReader::get(const char *key, bool &out) const {
  if (!has(key)) return;
  const std::string s = scalar(key).Scalar();
  if (s == "true" || s == "yes" || s == "on") {
    out = true;
  } else if (s == "false" || s == "no" || s == "off") {
    out = false;
  } else {
    fail(key, "must be true or false, not '" + s + "'");
  }
}

void MapReader::get_u64(const char *key, uint64_t &out, uint64_t min, uint64_t max) const {
  if (!has(key)) return;
  const std::string s = scalar(key).Scalar();
  errno = 0;
  char *end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (s.empty() || s[0] == '-' || end == s.c_str() || *end != '\0' || errno == ERANGE)
    fail(key, "must be an unsigned integer, not '" + s + "'");
  if (v < min || v > max)
    fail(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], not " + s);
  out = v;
}

void MapReader::get_int(const char *key, int &out, int min, int max) const {
  if (!has(key)) return;
  const std::string s = scalar(key).Scalar();
  errno = 0;
  char *end = nullptr;
  long v = std::strtol(s.c_str(), &end, 0);
  if (s.empty() || end == s.c_str() || *end != '\0' || errno == ERANGE)
    fail(key, "must be an integer, not '" + s + "'");
  if (v < min || v > max)
    fail(key, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], not " + s);
  out = static_cast<int>(v);
}

void MapReader::get_strings(const char *key, std::vector<std::string> &out) const {
  if (!has(key)) return;
  YAML::Node n = node_[key];
  if (!n.IsSequence()) fail(key, "must be a list");
  out.clear();
  for (const auto &e : n) {
    if (!e.IsScalar()) fail_at(e, key_path(key), "list items must be single values");
    out.push_back(e.Scalar());
  }
}

void MapReader::get_uints(const char *key, std::vector<unsigned> &out, unsigned max) const {
  if (!has(key)) return;
  YAML::Node n = node_[key];
  if (!n.IsSequence()) fail(key, "must be a list of integers");
  out.clear();
  for (const auto &e : n) {
    const std::string s = e.IsScalar() ? e.Scalar() : std::string();
    char *end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(s.c_str(), &end, 0);
    if (s.empty() || s[0] == '-' || *end != '\0' || errno == ERANGE || v > max)
      fail_at(e, key_path(key),
              "items must be integers in [0, " + std::to_string(max) + "], not '" + s + "'");
    out.push_back(static_cast<unsigned>(v));
  }
}

void MapReader::get_choice(const char *key, int &index,
                           std::initializer_list<const char *> choices) const {
  if (!has(key)) return;
  const std::string s = scalar(key).Scalar();
  int i = 0;
  std::string list;
  for (const char *c : choices) {
    if (s == c) {
      index = i;
      return;
    }
    list += std::string(list.empty() ? "" : ", ") + c;
    ++i;
  }
  fail(key, "must be one of " + list + ", not '" + s + "'");
}

MapReader MapReader::child(const char *key) const {
  if (!has(key)) return MapReader(file_, YAML::Node(), key_path(key));
  YAML::Node n = node_[key];
  if (!n.IsMap() && !n.IsNull()) fail(key, "must be a mapping");
  return MapReader(file_, n, key_path(key));
}

std::vector<MapReader> MapReader::list_of_maps(const char *key) const {
  std::vector<MapReader> out;
  if (!has(key)) return out;
  YAML::Node n = node_[key];
  if (!n.IsSequence()) fail(key, "must be a list");
  size_t i = 0;
  for (const auto &e : n) {
    std::string p = key_path(key) + "[" + std::to_string(i++) + "]";
    if (!e.IsMap()) fail_at(e, p, "must be a mapping");
    out.emplace_back(file_, e, p);
  }
  return out;
}

MapReader load_root(const std::string &file) {
  std::ifstream in(file);
  if (!in) throw ConfigError(file, 0, "", std::string("cannot open: ") + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(ss.str());
  } catch (const YAML::Exception &e) {
    throw ConfigError(file, e.mark.is_null() ? 0 : e.mark.line + 1, "", "not valid YAML: " + e.msg);
  }
  return MapReader(file, root, "");
}

void check_ipv4(const MapReader &m, const char *key, const std::string &ip) {
  in_addr a{};
  if (!ip.empty() && inet_pton(AF_INET, ip.c_str(), &a) != 1)
    m.fail(key, "must be a dotted IPv4 address, not '" + ip + "'");
}

void read_eal(const MapReader &m, EalConfig &out) {
  m.only({"lcores", "main_lcore", "no_huge", "memory_mb", "file_prefix", "allow", "vdevs",
          "extra_args", "cpus", "secondary_processes"});
  m.get_uints("lcores", out.lcores, 1023);
  if (m.has("lcores") && out.lcores.empty()) m.fail("lcores", "must name at least one lcore");
  m.get_uints("cpus", out.cpus, 1023);
  if (m.has("cpus") && out.cpus.size() != out.lcores.size())
    m.fail("cpus", "must name one CPU per lcore (" + std::to_string(out.lcores.size()) +
                       " lcores, " + std::to_string(out.cpus.size()) + " CPUs)");
  m.get_int("main_lcore", out.main_lcore, -1, 1023);
  m.get("no_huge", out.no_huge);
  m.get_uint("memory_mb", out.memory_mb, 16, 1u << 20);
  m.get("file_prefix", out.file_prefix);
  if (out.file_prefix.empty() || out.file_prefix.find('/') != std::string::npos)
    m.fail("file_prefix", "must be a non-empty name without '/'");
  m.get_strings("allow", out.allow);
  for (const std::string &pci : out.allow) {
    if (!is_pci_address(pci))
      m.fail("allow",
             "'" + pci + "' is not a PCI address (DDDD:BB:DD.F, device <= 1f, function <= 7)");
  }
  m.get_strings("vdevs", out.vdevs);
  m.get_strings("extra_args", out.extra_args);
  m.get("secondary_processes", out.secondary_processes);
}

void read_transport(const MapReader &m, TransportConfig &out) {
  m.only({"kind", "local", "peer", "port", "mtu", "rx_desc", "tx_desc", "mbufs", "mbuf_cache",
          "busy_poll_us", "retransmit_us", "max_retransmit_us", "window_frames", "tx_retries"});
  int kind = static_cast<int>(out.kind);
  m.get_choice("kind", kind, {"dpdk", "kernel-udp", "kernel-tcp"});
  out.kind = static_cast<TransportConfig::Kind>(kind);
  for (const char *which : {"local", "peer"}) {
    MapReader e = m.child(which);
    Endpoint &ep = std::string(which) == "local" ? out.local : out.peer;
    e.only({"ip", "port", "mac"});
    e.get("ip", ep.ip);
    check_ipv4(e, "ip", ep.ip);
    e.get_uint("port", ep.port, 1, 65535);
    e.get("mac", ep.mac);
    uint8_t mac[6];
    if (!ep.mac.empty() && !parse_mac(ep.mac, mac))
      e.fail("mac", "must look like aa:bb:cc:dd:ee:ff, not '" + ep.mac + "'");
  }
  m.get("port", out.port);
  m.get_uint("mtu", out.mtu, 576, 9000);
  m.get_uint("rx_desc", out.rx_desc, 64, 16384);
  m.get_uint("tx_desc", out.tx_desc, 64, 16384);
  m.get_uint("mbufs", out.mbufs, 511, 1u << 22);
  m.get_uint("mbuf_cache", out.mbuf_cache, 0, 512);
  m.get_uint("busy_poll_us", out.busy_poll_us, 0, 1000000);
  m.get_uint("retransmit_us", out.retransmit_us, 10, 10000000);
  m.get_uint("max_retransmit_us", out.max_retransmit_us, 10, 60000000);
  if (out.max_retransmit_us < out.retransmit_us)
    m.fail("max_retransmit_us", "must be at least retransmit_us");
  m.get_uint("window_frames", out.window_frames, 1, 65536);
  m.get_uint("tx_retries", out.tx_retries, 0, 1000000);
  if (out.kind == TransportConfig::Kind::kDpdk && out.port.empty())
    m.fail("port", "is required for kind dpdk (a PCI address or a vdev name)");
  if (out.port.find(':') != std::string::npos && !is_pci_address(out.port))
    m.fail("port",
           "'" + out.port + "' is not a PCI address (DDDD:BB:DD.F, device <= 1f, function <= 7)");
}

void read_idle(const MapReader &m, IdlePolicy &out) {
  m.only({"mode", "spin_polls", "sleep_us"});
  int mode = static_cast<int>(out.mode);
  m.get_choice("mode", mode, {"spin", "spin-then-yield", "spin-then-sleep"});
  out.mode = static_cast<IdlePolicy::Mode>(mode);
  m.get_uint("spin_polls", out.spin_polls, 0, 1u << 30);
  m.get_uint("sleep_us", out.sleep_us, 1, 1000000);
}

}  // namespace detail
}  // namespace ferry::config
