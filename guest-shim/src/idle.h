// Waiting without hanging: a deadline on the monotonic clock and the configured idle policy
// (spin, then yield or sleep) between polls of a ring.
#pragma once

#include <sched.h>
#include <time.h>

#include <cstdint>

#include "ferry/config/config.h"

namespace ferry::guest {

inline uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

class Deadline {
 public:
  static Deadline in_ms(uint64_t ms) { return Deadline(now_ns() + ms * 1000000ull); }
  bool passed() const { return now_ns() >= at_; }
  uint64_t at() const { return at_; }

 private:
  explicit Deadline(uint64_t at) : at_(at) {}
  uint64_t at_;
};

class Idler {
 public:
  explicit Idler(const config::IdlePolicy &p) : p_(p) {}
  // Call after a poll that found nothing.
  void idle() {
    if (p_.mode == config::IdlePolicy::Mode::kSpin || ++empty_ <= p_.spin_polls) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      return;
    }
    if (p_.mode == config::IdlePolicy::Mode::kSpinThenYield) {
      sched_yield();
    } else {
      timespec ts{0, static_cast<long>(p_.sleep_us) * 1000};
      nanosleep(&ts, nullptr);
    }
  }
  // Call after a poll that found work.
  void busy() {
    empty_ = 0;
  }

 private:
  const config::IdlePolicy &p_;
  uint32_t empty_ = 0;
};

}  // namespace ferry::guest
