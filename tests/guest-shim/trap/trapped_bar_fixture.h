// Test helper: a trapped range backed by a RegisterFileBackend, unmapped on destruction.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "register_file_backend.h"
#include "trap/trap.h"

namespace ferry::trap::testing {

struct TrappedBar {
  explicit TrappedBar(size_t len, unsigned bar = 0) : backend(len) {
    volatile void *p = nullptr;
    EXPECT_EQ(map_trapped_range(&backend, bar, len, &p), 0);
    base = static_cast<volatile uint8_t *>(p);
  }
  ~TrappedBar() { EXPECT_EQ(unmap_trapped_range(base), 0); }
  TrappedBar(const TrappedBar &) = delete;
  TrappedBar &operator=(const TrappedBar &) = delete;

  template <typename T>
  volatile T *at(uint64_t off) const {
    return reinterpret_cast<volatile T *>(base + off);
  }

  RegisterFileBackend backend;
  volatile uint8_t *base = nullptr;
};

}  // namespace ferry::trap::testing
