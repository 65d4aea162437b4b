// The one clock, the one burst and the one idle policy of every polling loop in ferry: the
// engine's lanes and port lcore (engine/), and the guest shim polling its rings (guest-shim/).
// What a loop does when a poll finds no work: spin, or spin for spin_polls empty polls and then
// yield the core or sleep, so that several pollers can share a small machine without starving
// each other.
//
// Header-only and under proto/ because proto is the bottom of the import order (proto <- config
// <- engine <- guest-shim, dataplane, device-node <- tools) and links no DPDK: the guest shim,
// which must not link DPDK, config (whose `idle:` key is this IdlePolicy) and the engine all
// include it already through proto_dep, and no new library is needed for a few inline lines.
#pragma once

#include <sched.h>
#include <time.h>

#include <cstdint>

namespace ferry::proto {

// The most items one pass of a polling loop takes (DPDK's customary burst): the engine's
// receive and (re)transmit passes, the transports' batches (rx/tx bursts, sendmmsg/recvmmsg,
// rings), the handlers' work per poll and the guest shim's completion polls size their stack
// arrays and budgets by it.
inline constexpr int kBurst = 32;

// Monotonic nanoseconds (vDSO clock_gettime, ~20 ns, no system call): ferry's only clock.
inline uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// A point on now_ns()'s clock that a wait gives up at.
class Deadline {
 public:
  static Deadline in_ms(uint64_t ms) { return Deadline(now_ns() + ms * 1000000ull); }
  bool passed() const { return now_ns() >= at_; }
  uint64_t at() const { return at_; }

 private:
  explicit Deadline(uint64_t at) : at_(at) {}
  uint64_t at_;
};

// How a polling loop behaves when it finds no work (config key `idle`).
struct IdlePolicy {
  enum class Mode { kSpin, kSpinThenYield, kSpinThenSleep };
  Mode mode = Mode::kSpinThenYield;
  uint32_t spin_polls = 100;  // empty polls before yielding / sleeping
  uint32_t sleep_us = 50;     // kSpinThenSleep only
};

// What spin-then-sleep may wait on instead of a plain sleep: returns after `us` microseconds
// or as soon as work may have arrived (a kernel transport waits on its socket).
class IdleWaiter {
 public:
  virtual ~IdleWaiter() = default;
  virtual void idle_wait(uint32_t us) = 0;
};

// Applies an IdlePolicy to one polling loop; one per thread (it counts empty polls).
class IdlePoller {
 public:
  // `waiter` (may be null: plain nanosleep) must outlive the poller.
  explicit IdlePoller(const IdlePolicy &p, IdleWaiter *waiter = nullptr) : p_(p), waiter_(waiter) {}
  // Call once per poll with the work it found (0: none).
  void after_poll(int work) {
    if (work > 0)
      busy();
    else
      idle();
  }
  // Call after a poll that found work.
  void busy() { empty_ = 0; }
  // Call after a poll that found nothing.
  void idle() {
    if (p_.mode == IdlePolicy::Mode::kSpin || ++empty_ <= p_.spin_polls) {
      cpu_relax();
      return;
    }
    if (p_.mode == IdlePolicy::Mode::kSpinThenYield) {
      sched_yield();
    } else if (waiter_ != nullptr) {
      waiter_->idle_wait(p_.sleep_us);
    } else {
      timespec ts{static_cast<time_t>(p_.sleep_us / 1000000),
                  static_cast<long>(p_.sleep_us % 1000000) * 1000};
      nanosleep(&ts, nullptr);
    }
  }

 private:
  static void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  IdlePolicy p_;
  IdleWaiter *waiter_;
  uint32_t empty_ = 0;
};

}  // namespace ferry::proto
