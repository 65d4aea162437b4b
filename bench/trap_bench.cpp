// ferry-trap-bench: the cost of one trapped 4-byte read (fault, decode, backend call, register
// write-back, sigreturn) against calling the same backend directly. Prints p50/p99 in ns.
//   ferry-trap-bench [iterations]
#include <signal.h>
#include <sys/mman.h>
#include <sys/ucontext.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "samples_arg.h"
#include "trap/trap.h"
#include "trap/trap_internal.h"

namespace {

class ConstantBackend : public ferry::trap::MmioBackend {
 public:
  uint64_t read(unsigned, uint64_t off, unsigned) override { return 0x010000ed + off; }
  void write(unsigned, uint64_t, unsigned, uint64_t) override {}
};

// The platform's own price of a fault: a handler that only skips the 2-byte `mov eax, [rdi]`.
void skip_two_bytes(int, siginfo_t *, void *ctx) {
  static_cast<ucontext_t *>(ctx)->uc_mcontext.gregs[REG_RIP] += 2;
}

void bare_fault(volatile void *p) {
  asm volatile(".byte 0x8b, 0x07" ::"D"(p) : "eax", "memory");  // mov eax, [rdi]
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Each sample times a batch so the clock's own cost (~20 ns) stays out of the figure.
template <typename F>
std::vector<double> sample(unsigned samples, unsigned batch, F &&op) {
  std::vector<double> ns(samples);
  for (unsigned s = 0; s < samples; ++s) {
    const uint64_t t0 = now_ns();
    for (unsigned i = 0; i < batch; ++i) op();
    ns[s] = static_cast<double>(now_ns() - t0) / batch;
  }
  std::sort(ns.begin(), ns.end());
  return ns;
}

void report(const char *what, const std::vector<double> &ns) {
  std::printf("%-34s p50 %8.1f ns   p99 %8.1f ns\n", what, ns[ns.size() / 2],
              ns[ns.size() * 99 / 100]);
}

}  // namespace

int main(int argc, char **argv) {
  unsigned samples = 2000;
  if (!samples_arg(argc, argv, 10000000, samples)) return 2;
  constexpr unsigned kBatch = 16;

  // Before the engine installs its handler (it chains to whatever is there, so restore the
  // default first).
  std::vector<double> bare;
  {
    struct sigaction sa {
    }, dfl{};
    sa.sa_sigaction = skip_two_bytes;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    void *page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED || sigaction(SIGSEGV, &sa, nullptr) != 0) return 1;
    sample(samples / 10 + 1, kBatch, [&] { bare_fault(page); });
    bare = sample(samples, kBatch, [&] { bare_fault(page); });
    sigaction(SIGSEGV, &dfl, nullptr);
    munmap(page, 4096);
  }

  ConstantBackend backend;
  volatile void *p = nullptr;
  if (int rc = ferry::trap::map_trapped_range(&backend, 0, 0x1000, &p); rc != 0) {
    std::fprintf(stderr, "map_trapped_range: %d\n", rc);
    return 1;
  }
  auto *reg = static_cast<volatile uint32_t *>(p) + 2;
  // Through a volatile pointer so the compiler cannot devirtualise or hoist the call.
  ferry::trap::MmioBackend *volatile direct = &backend;
  volatile uint32_t sink = 0;

  sample(samples / 10 + 1, kBatch, [&] { sink = *reg; });  // warm up
  const auto trapped = sample(samples, kBatch, [&] { sink = *reg; });
  const auto called =
      sample(samples, kBatch, [&] { sink = static_cast<uint32_t>(direct->read(0, 8, 4)); });
  report("trapped 4-byte read (mov r32, m32)", trapped);
  report("direct backend->read(4)", called);
  report("bare fault + sigreturn (platform)", bare);
  // The handler's dominant own step, timed outside a signal for a stable figure.
  static const uint8_t kMovEaxRdi[16] = {0x8b, 0x07, 0xc3};
  const auto decode = sample(samples, kBatch, [&] {
    ferry::trap::detail::DecodedAccess a;
    ferry::trap::detail::DecodeFailure why;
    ferry::trap::detail::decode_access(reinterpret_cast<uintptr_t>(kMovEaxRdi), &a, &why);
    sink = a.size;
  });
  report("handler's decode step (Zydis)", decode);
  const double p50_trapped = trapped[trapped.size() / 2];
  std::printf(
      "added cost of trapping over a direct call, p50: %.1f ns; trapped minus bare fault,\n"
      "p50: %.1f ns (noisy: both are dominated by the platform's fault delivery)\n",
      p50_trapped - called[called.size() / 2], p50_trapped - bare[bare.size() / 2]);
  (void)sink;
  return ferry::trap::unmap_trapped_range(p) == 0 ? 0 : 1;
}
