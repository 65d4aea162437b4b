// What a polling loop does when it finds no work (config::IdlePolicy): spin, or spin for
// spin_polls empty polls and then yield the core / sleep, so that several pollers can share
// the 2-core lab machine without starving each other.
#pragma once

#include <cstdint>

#include "ferry/config/config.h"

namespace ferry::engine {

class Transport;

class IdlePoller {
 public:
  // With a transport, spin-then-sleep waits in Transport::idle_wait (a kernel transport wakes
  // as soon as a frame arrives) instead of a plain sleep.
  explicit IdlePoller(const config::IdlePolicy &p, Transport *waiter = nullptr)
      : p_(p), waiter_(waiter) {}
  // Call once per poll iteration with the work it found.
  void after_poll(int work) {
    if (work > 0) {
      empty_ = 0;
      return;
    }
    if (++empty_ <= p_.spin_polls) {
      __builtin_ia32_pause();
      return;
    }
    idle_slow();
  }
  uint64_t idle_waits() const { return waits_; }

 private:
  void idle_slow();
  config::IdlePolicy p_;
  Transport *waiter_;
  uint32_t empty_ = 0;
  uint64_t waits_ = 0;
};

// Monotonic nanoseconds (vDSO clock_gettime, ~20 ns), the engine's only clock.
uint64_t now_ns();

}  // namespace ferry::engine
