#include "ferry/engine/idle.h"

#include "ferry/engine/transport.h"

#include <sched.h>
#include <time.h>

namespace ferry::engine {

void IdlePoller::idle_slow() {
  ++waits_;
  switch (p_.mode) {
    case config::IdlePolicy::Mode::kSpin:
      __builtin_ia32_pause();
      break;
    case config::IdlePolicy::Mode::kSpinThenYield:
      sched_yield();
      break;
    case config::IdlePolicy::Mode::kSpinThenSleep:
      if (waiter_ != nullptr) {
        waiter_->idle_wait(p_.sleep_us);
      } else {
        timespec ts{0, static_cast<long>(p_.sleep_us) * 1000};
        nanosleep(&ts, nullptr);
      }
      break;
  }
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace ferry::engine
