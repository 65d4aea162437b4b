// What both service mains share: configuration errors exit 2, SIGINT/SIGTERM stop the loop,
// the ready file appears once the service serves and goes away when it stops.
#pragma once

#include <atomic>
#include <string>

namespace ferry::services {

inline constexpr int kExitConfigError = 2;
inline constexpr int kExitRuntimeError = 1;

// Set by SIGINT / SIGTERM.
extern std::atomic<bool> g_stop;
void install_signal_handlers();

// Writes "<pid>\n" to `path` atomically (temporary file + rename); empty path: nothing.
void write_ready_file(const std::string &path);
void remove_ready_file(const std::string &path);

// Test-only fault injection, from FERRY_TEST_TX_DROP="next=N,every=N,permille=N,seed=N" in the
// environment (the retransmission tests set it; unset in any real deployment). Throws
// std::runtime_error on a malformed value.
struct TestDrops {
  uint32_t next = 0, every = 0, permille = 0;
  uint64_t seed = 1;
  bool any() const { return next || every || permille; }
};
TestDrops test_drops_from_env();

}  // namespace ferry::services
