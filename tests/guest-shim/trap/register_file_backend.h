// A test MmioBackend: a plain in-memory register file with a call log. It runs inside the
// SIGSEGV handler, so it never allocates after construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include "trap/trap.h"

namespace ferry::trap::testing {

struct BackendCall {
  bool is_write;
  unsigned bar;
  uint64_t off;
  unsigned size;
  uint64_t value;  // read: what the backend returned; write: what it was given
};

class RegisterFileBackend : public MmioBackend {
 public:
  static constexpr size_t kMaxCalls = 64;

  explicit RegisterFileBackend(size_t len) : regs_(len, 0) {}

  uint64_t read(unsigned bar, uint64_t off, unsigned size) override {
    uint64_t v = 0;
    if (off + size <= regs_.size()) std::memcpy(&v, &regs_[off], size);
    log({false, bar, off, size, v});
    return v;
  }
  void write(unsigned bar, uint64_t off, unsigned size, uint64_t value) override {
    if (off + size <= regs_.size()) std::memcpy(&regs_[off], &value, size);
    log({true, bar, off, size, value});
  }

  void poke(uint64_t off, uint64_t v, unsigned size = 8) { std::memcpy(&regs_[off], &v, size); }
  uint64_t peek(uint64_t off, unsigned size = 8) const {
    uint64_t v = 0;
    std::memcpy(&v, &regs_[off], size);
    return v;
  }
  size_t call_count() const { return calls_.load(); }
  const BackendCall &call(size_t i) const { return log_[i]; }
  void clear_log() { calls_.store(0); }

 private:
  void log(const BackendCall &c) {
    const size_t i = calls_.fetch_add(1);
    if (i < kMaxCalls) log_[i] = c;
  }

  std::vector<uint8_t> regs_;
  BackendCall log_[kMaxCalls]{};
  std::atomic<size_t> calls_{0};
};

}  // namespace ferry::trap::testing
