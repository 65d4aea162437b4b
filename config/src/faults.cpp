// The `faults` section: probabilities as a fraction ("0.05") or a percentage ("5%").
#include "faults.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace ferry::config::detail {

namespace {

// A probability in [0, 1] as parts per million; leaves `ppm` alone when the key is absent.
void get_probability(const MapReader &m, const char *key, uint32_t &ppm) {
  if (!m.has(key)) return;
  std::string s;
  m.get(key, s);
  double scale = 1.0;
  std::string num = s;
  if (!num.empty() && num.back() == '%') {
    num.pop_back();
    scale = 0.01;
  }
  errno = 0;
  char *end = nullptr;
  const double v = std::strtod(num.c_str(), &end);
  if (num.empty() || end == num.c_str() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
    m.fail(key, "must be a probability (0.05 or 5%), not '" + s + "'");
  const double p = v * scale;
  if (p < 0.0 || p > 1.0) m.fail(key, "must be in [0, 1] (or [0%, 100%]), not " + s);
  ppm = static_cast<uint32_t>(std::llround(p * 1e6));
}

void read_direction(const MapReader &m, FaultDirection &d) {
  m.only({"drop", "duplicate", "reorder", "reorder_distance", "corrupt", "corrupt_bytes", "delay",
          "delay_us"});
  get_probability(m, "drop", d.drop_ppm);
  get_probability(m, "duplicate", d.duplicate_ppm);
  get_probability(m, "reorder", d.reorder_ppm);
  get_probability(m, "corrupt", d.corrupt_ppm);
  get_probability(m, "delay", d.delay_ppm);
  m.get_uint("reorder_distance", d.reorder_distance, 1, 32);
  m.get_uint("corrupt_bytes", d.corrupt_bytes, 1, 64);
  m.get_uint("delay_us", d.delay_us, 1, 1000000);
}

}  // namespace

void read_faults(const MapReader &root, const TransportConfig &t, FaultConfig &out) {
  if (!root.has("faults")) return;
  const MapReader f = root.child("faults");
  f.only({"seed", "tx", "rx"});
  f.get_u64("seed", out.seed, 0, UINT64_MAX);
  read_direction(f.child("tx"), out.tx);
  read_direction(f.child("rx"), out.rx);
  if (out.enabled() && t.kind == TransportConfig::Kind::kKernelTcp)
    root.fail("faults",
              "need a datagram transport (kernel-udp or dpdk): kernel-tcp does not "
              "recover frames it was given, so a dropped frame would be lost for good");
}

}  // namespace ferry::config::detail
