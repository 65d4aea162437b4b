// The services' rte_log types and the rate-limited line writer (include/ferry/engine/log.h).
#include "ferry/engine/log.h"

#include <time.h>

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

namespace ferry::engine {

namespace {

constexpr const char *kNames[] = {"ferry.engine", "ferry.relay", "ferry.node"};

// Lines up to INFO show by default; DEBUG needs --log-level ferry.TYPE:debug.
constexpr uint32_t kDefaultLevel = RTE_LOG_INFO;

const int *type_ids() {
  static const int ids[] = {
      rte_log_register_type_and_pick_level(kNames[0], kDefaultLevel),
      rte_log_register_type_and_pick_level(kNames[1], kDefaultLevel),
      rte_log_register_type_and_pick_level(kNames[2], kDefaultLevel),
  };
  return ids;
}

// Registered at program start (as RTE_LOG_REGISTER does), never first on a polling lcore;
// the EAL applies --log-level to types registered before it parses it, and remembers the
// patterns for any registered after.
[[maybe_unused]] const int *const kRegistered = type_ids();

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

}  // namespace

int log_type(LogType t) {
  const int id = type_ids()[static_cast<int>(t)];
  return id < 0 ? RTE_LOGTYPE_USER1 : id;  // registration failed (out of memory): still log
}

const char *log_type_name(LogType t) {
  return kNames[static_cast<int>(t)];
}

bool LogLimit::admit(uint64_t now_ns, uint64_t &suppressed) {
  const uint64_t tolerance = uint64_t{burst_ > 0 ? burst_ - 1 : 0} * interval_ns_;
  uint64_t tat = tat_.load(std::memory_order_relaxed);
  for (;;) {
    if (burst_ == 0 || tat > now_ns + tolerance) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    const uint64_t next = (tat > now_ns ? tat : now_ns) + interval_ns_;
    if (tat_.compare_exchange_weak(tat, next, std::memory_order_relaxed)) break;
  }
  suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
  return true;
}

void log_line(LogType t, uint32_t level, LogLimit *limit, const char *fmt, ...) {
  uint64_t suppressed = 0;
  if (limit != nullptr && !limit->admit(monotonic_ns(), suppressed)) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  const char *name = log_type_name(t);
  if (suppressed == 0) {
    rte_log(level, log_type(t), "%s: %s\n", name, msg);
  } else {
    rte_log(level, log_type(t), "%s: %s (%" PRIu64 " similar messages suppressed)\n", name, msg,
            suppressed);
  }
}

}  // namespace ferry::engine
