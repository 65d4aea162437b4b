// ferry-trap-edu-bench: the added cost of transparency on the local baseline. The same edu
// register accesses through the accessor API and through the BAR ferry_map_bar() maps, against
// tests/support's in-process responder (real rings, crypto, relay, device node; no network).
//   ferry-trap-edu-bench [samples]
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "edu_hw.h"
#include "guest_fixture.h"
#include "samples_arg.h"

namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

template <typename F>
std::vector<double> sample(unsigned samples, F &&op) {
  std::vector<double> ns(samples);
  for (unsigned s = 0; s < samples; ++s) {
    const uint64_t t0 = now_ns();
    op();
    ns[s] = static_cast<double>(now_ns() - t0);
  }
  std::sort(ns.begin(), ns.end());
  return ns;
}

double p50(const std::vector<double> &v) {
  return v[v.size() / 2];
}

void report(const char *what, const std::vector<double> &ns) {
  std::printf("%-40s p50 %9.1f ns   p99 %9.1f ns\n", what, p50(ns), ns[ns.size() * 99 / 100]);
}

}  // namespace

int main(int argc, char **argv) {
  unsigned samples = 5000;
  if (!samples_arg(argc, argv, 1000000, samples)) return 2;
  ferry::testing::Responder responder;
  auto dev = ferry::testing::open_guest(responder.guest_config());
  if (!dev) return 1;
  volatile void *p = nullptr;
  size_t len = 0;
  if (ferry_map_bar(dev.get(), 0, &p, &len) != 0) return 1;
  auto *bar0 = static_cast<volatile uint8_t *>(p);
  auto *id = reinterpret_cast<volatile uint32_t *>(bar0 + EDU_REG_ID);
  auto *live = reinterpret_cast<volatile uint32_t *>(bar0 + EDU_REG_LIVENESS);
  volatile uint32_t sink = 0;

  sample(samples / 10 + 1, [&] { sink = ferry_ioread32(dev.get(), 0, EDU_REG_ID); });
  const auto acc_rd = sample(samples, [&] { sink = ferry_ioread32(dev.get(), 0, EDU_REG_ID); });
  const auto trap_rd = sample(samples, [&] { sink = *id; });
  const auto acc_wr = sample(samples, [&] { ferry_iowrite32(dev.get(), 0, EDU_REG_LIVENESS, 1); });
  const auto trap_wr = sample(samples, [&] { *live = 1; });
  const bool ok = *id == EDU_ID && ferry_last_error(dev.get()) == 0;

  report("accessor ferry_ioread32 (round trip)", acc_rd);
  report("trapped 4-byte load (round trip)", trap_rd);
  report("accessor ferry_iowrite32 (posted)", acc_wr);
  report("trapped 4-byte store (posted)", trap_wr);
  std::printf("added cost of a trapped access, p50: read %.1f ns, write %.1f ns (%u samples)%s\n",
              p50(trap_rd) - p50(acc_rd), p50(trap_wr) - p50(acc_wr), samples,
              ok ? "" : "  [DEVICE CHECK FAILED]");
  (void)sink;
  return ok ? 0 : 1;
}
