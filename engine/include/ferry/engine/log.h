// The services' log: DPDK's rte_log, under the types ferry.engine (links, transports, ports),
// ferry.relay (the data plane's guest regions) and ferry.node (the device node's sessions),
// so `--log-level ferry.relay:debug` or `--log-level 'ferry.*:info'` works like it does for
// any DPDK log type. Usable before (and without) rte_eal_init: rte_log needs no EAL.
//
// FERRY_LOG(Engine, NOTICE, "fmt", ...) logs one line at RTE_LOG_NOTICE under ferry.engine.
// FERRY_LOG_LIMITED(...) is the same behind a token bucket of its own (one per call site,
// shared by the threads that reach it, lock-free): for anything a peer or a guest can make
// happen again and again. A line that gets through reports how many the bucket held back
// since the last one ("(N similar messages suppressed)").
//
// Cost on the data path: a level check (rte_log_can_log) when the level is off; when it is
// on, the bucket (a few atomics) and, only for a line actually written, the formatting into
// a stack buffer. No allocation, no exception; rte_log's stdio stream is the one lock, taken
// only for a line that is written.
#pragma once

#include <rte_log.h>

#include <atomic>
#include <cstdint>

namespace ferry::engine {

enum class LogType { kEngine, kRelay, kNode };

// The rte_log type id of `t` (registered once, at program start).
int log_type(LogType t);
// Its name ("ferry.engine", ...).
const char *log_type_name(LogType t);

// A token bucket in the GCRA form: `burst` lines at once, then one line per `interval_ns`.
// constexpr-constructible, so a function-local static needs no guard.
class LogLimit {
 public:
  static constexpr uint32_t kDefaultBurst = 10;
  static constexpr uint64_t kDefaultIntervalNs = 1'000'000'000;  // then 1 line/s per site

  constexpr LogLimit(uint32_t burst = kDefaultBurst, uint64_t interval_ns = kDefaultIntervalNs)
      : burst_(burst), interval_ns_(interval_ns) {}

  // True when a line may be written at `now_ns`; then `suppressed` is the number refused
  // since the last admitted one (and the count starts again). False counts one refusal.
  bool admit(uint64_t now_ns, uint64_t &suppressed);

 private:
  uint32_t burst_;
  uint64_t interval_ns_;
  std::atomic<uint64_t> tat_{0};  // theoretical arrival time: the bucket is empty until then
  std::atomic<uint64_t> suppressed_{0};
};

// Writes one line "<type>: <message>[ (N similar messages suppressed)]" at `level`, unless
// `limit` (optional) refuses it. The caller has checked the level (the macros do).
void log_line(LogType t, uint32_t level, LogLimit *limit, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

}  // namespace ferry::engine

#define FERRY_LOG(type, level, ...)                                                          \
  do {                                                                                       \
    if (rte_log_can_log(::ferry::engine::log_type(::ferry::engine::LogType::k##type),        \
                        RTE_LOG_##level))                                                    \
      ::ferry::engine::log_line(::ferry::engine::LogType::k##type, RTE_LOG_##level, nullptr, \
                                __VA_ARGS__);                                                \
  } while (0)

#define FERRY_LOG_LIMITED(type, level, ...)                                           \
  do {                                                                                \
    static ::ferry::engine::LogLimit ferry_log_limit_;                                \
    if (rte_log_can_log(::ferry::engine::log_type(::ferry::engine::LogType::k##type), \
                        RTE_LOG_##level))                                             \
      ::ferry::engine::log_line(::ferry::engine::LogType::k##type, RTE_LOG_##level,   \
                                &ferry_log_limit_, __VA_ARGS__);                      \
  } while (0)
