// ferry-mmio-latency: the 8-byte MMIO read round trip a driver sees, through the guest C API
// only. Reads edu BAR0 0x80 (the DMA source register: 8-byte access allowed) N times after a
// warm-up and prints the distribution.
//
//   ferry-mmio-latency GUEST_CONFIG.yaml [N]     prints "reads=N p50_ns=.. p99_ns=.. ..."
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "ferry/guest.h"

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: ferry-mmio-latency GUEST_CONFIG.yaml [N]\n");
    return 2;
  }
  size_t n = 10000;
  if (argc == 3) {
    auto [p, ec] = std::from_chars(argv[2], argv[2] + std::strlen(argv[2]), n);
    if (ec != std::errc() || *p != '\0' || n == 0 || n > 10000000) {
      std::fprintf(stderr, "ferry-mmio-latency: N must be in [1, 10000000]\n");
      return 2;
    }
  }
  ferry_dev *dev = ferry_open(argv[1]);
  if (dev == nullptr) {
    std::fprintf(stderr, "ferry-mmio-latency: ferry_open: %s\n", ferry_open_error());
    return 1;
  }
  constexpr uint64_t kReg = 0x80;
  const uint64_t pattern = 0x1122334455667788ull;
  ferry_iowrite64(dev, 0, kReg, pattern);
  int rc = 0;
  for (int i = 0; i < 200; ++i) {  // warm-up: caches, first frames, ARP
    if (ferry_ioread64(dev, 0, kReg) != pattern || ferry_last_error(dev) != 0) rc = 1;
  }
  std::vector<uint64_t> ns(n);
  for (size_t i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t v = ferry_ioread64(dev, 0, kReg);
    const auto t1 = std::chrono::steady_clock::now();
    ns[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
    if (v != pattern || ferry_last_error(dev) != 0) rc = 1;
  }
  ferry_close(dev);
  std::sort(ns.begin(), ns.end());
  auto q = [&](double f) { return ns[std::min(n - 1, static_cast<size_t>(f * n))]; };
  std::printf(
      "reads=%zu min_ns=%llu p50_ns=%llu p90_ns=%llu p99_ns=%llu p999_ns=%llu max_ns=%llu%s\n", n,
      (unsigned long long)ns[0], (unsigned long long)q(0.5), (unsigned long long)q(0.9),
      (unsigned long long)q(0.99), (unsigned long long)q(0.999), (unsigned long long)ns[n - 1],
      rc ? " ERRORS" : "");
  return rc;
}
