// Private helpers of the loaders: typed, range-checked reads of YAML mappings that reject
// unknown keys and name file, key and line in every error.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "ferry/config/config.h"

namespace ferry::config::detail {

// A YAML mapping being read: knows its file and its key path ("transport.peer").
class MapReader {
 public:
  MapReader(const std::string &file, const YAML::Node &node, std::string path);

  // Fails on any key not in `allowed`.
  void only(std::initializer_list<const char *> allowed) const;
  bool has(const char *key) const;
  // The mapping's keys in file order (none when absent); fails on a key that is not a name.
  std::vector<std::string> keys() const;
  // Optional scalars: leave `out` alone when the key is absent.
  void get(const char *key, std::string &out) const;
  void get(const char *key, bool &out) const;
  void get_u64(const char *key, uint64_t &out, uint64_t min, uint64_t max) const;
  template <typename T>
  void get_uint(const char *key, T &out, uint64_t min, uint64_t max) const {
    uint64_t v = out;
    get_u64(key, v, min, max);
    out = static_cast<T>(v);
  }
  void get_int(const char *key, int &out, int min, int max) const;
  void get_strings(const char *key, std::vector<std::string> &out) const;
  void get_uints(const char *key, std::vector<unsigned> &out, unsigned max) const;
  // Picks one of `choices`; returns its index, or leaves `index` alone when absent.
  void get_choice(const char *key, int &index, std::initializer_list<const char *> choices) const;
  void require(const char *key) const;

  MapReader child(const char *key) const;  // a nested mapping (must be one if present)
  std::vector<MapReader> list_of_maps(const char *key) const;

  [[noreturn]] void fail(const char *key, const std::string &what) const;
  [[noreturn]] void fail_at(const YAML::Node &n, const std::string &key,
                            const std::string &what) const;
  std::string key_path(const char *key) const;
  const std::string &file() const { return file_; }
  int line() const;
  int line_of_key(const char *key) const;  // the key's line, or the mapping's when absent

 private:
  YAML::Node scalar(const char *key) const;
  std::string file_;
  YAML::Node node_;
  std::string path_;
};

// Loads a file as a mapping; an empty file is an empty mapping.
MapReader load_root(const std::string &file);

void read_eal(const MapReader &m, EalConfig &out);
void read_transport(const MapReader &m, TransportConfig &out);
void read_idle(const MapReader &m, IdlePolicy &out);
void check_ipv4(const MapReader &m, const char *key, const std::string &ip);

}  // namespace ferry::config::detail
