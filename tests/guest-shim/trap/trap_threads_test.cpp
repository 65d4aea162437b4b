// Several threads faulting on the same range at once, while another thread maps and unmaps
// ranges of its own.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "asm_forms.h"
#include "trap/trap.h"

namespace ferry::trap::testing {
namespace {

// Thread-safe: one atomic per 8-byte register, 8-byte accesses only.
class AtomicRegisters : public MmioBackend {
 public:
  static constexpr size_t kRegs = 64;
  uint64_t read(unsigned, uint64_t off, unsigned size) override {
    reads.fetch_add(1, std::memory_order_relaxed);
    if (size != 8 || off % 8 != 0) bad.fetch_add(1);
    return regs[off / 8].load(std::memory_order_relaxed);
  }
  void write(unsigned, uint64_t off, unsigned size, uint64_t value) override {
    writes.fetch_add(1, std::memory_order_relaxed);
    if (size != 8 || off % 8 != 0) bad.fetch_add(1);
    regs[off / 8].store(value, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> regs[kRegs]{};
  std::atomic<uint64_t> reads{0}, writes{0}, bad{0};
};

TEST(TrapThreads, threads_hammering_one_range_each_see_their_own_register) {
  constexpr unsigned kThreads = 8;
  constexpr unsigned kIters = 4000;
  AtomicRegisters backend;
  backend.regs[63] = 0xc0ffee;
  volatile void *p = nullptr;
  ASSERT_EQ(map_trapped_range(&backend, 0, AtomicRegisters::kRegs * 8, &p), 0);
  auto *regs = static_cast<volatile uint64_t *>(p);

  std::atomic<bool> stop{false};
  std::atomic<unsigned> churn_errors{0};
  // Keeps the range table changing under the faulting threads.
  std::thread churn([&] {
    AtomicRegisters other;
    while (!stop.load()) {
      volatile void *q = nullptr;
      if (map_trapped_range(&other, 1, 64, &q) != 0) churn_errors.fetch_add(1);
      static_cast<volatile uint64_t *>(q)[1] = 5;
      if (static_cast<volatile uint64_t *>(q)[1] != 5) churn_errors.fetch_add(1);
      if (unmap_trapped_range(q) != 0) churn_errors.fetch_add(1);
    }
  });

  const FormFn store_r12 = form("mov_m64_r12");
  const FormFn load_rbx = form("mov_rbx_m64");
  std::atomic<unsigned> mismatches{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < kIters; ++i) {
        const uint64_t v = (uint64_t{t} << 56) | i;
        // Half through the asm forms (r12/rbx registers), half as plain C++.
        if (i % 2 == 0) {
          store_r12(regs + t, v);
          if (load_rbx(regs + t, 0) != v) mismatches.fetch_add(1);
        } else {
          regs[t] = v;
          if (regs[t] != v) mismatches.fetch_add(1);
        }
        if (regs[63] != 0xc0ffee) mismatches.fetch_add(1);
      }
    });
  }
  for (auto &th : threads) th.join();
  stop = true;
  churn.join();

  EXPECT_EQ(mismatches.load(), 0u);
  EXPECT_EQ(churn_errors.load(), 0u);
  EXPECT_EQ(backend.bad.load(), 0u);
  EXPECT_EQ(backend.writes.load(), uint64_t{kThreads} * kIters);
  EXPECT_EQ(backend.reads.load(), uint64_t{kThreads} * kIters * 2);
  EXPECT_EQ(unmap_trapped_range(p), 0);
}

}  // namespace
}  // namespace ferry::trap::testing
