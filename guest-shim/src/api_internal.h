// Internal entry points of the C API, for tests, the fuzz target and the benchmark (they
// link the shim's objects statically). Not exported from libferry-guest.so.
#pragma once

#include <memory>
#include <utility>

#include "device.h"
#include "ferry/guest.h"
#include "trapped_bar.h"

struct ferry_dev {
  ferry_dev(std::unique_ptr<ferry::guest::Device> device, uint64_t serial_number)
      : impl(std::move(device)), serial(serial_number), bars(this) {}

  std::unique_ptr<ferry::guest::Device> impl;
  uint64_t serial;  // never reused: keys the per-thread state
  // Declared after impl: destroyed (every trapped range unmapped) before the device is.
  ferry::guest::TrappedBars bars;
};

// ferry_open from a parsed config (no YAML file). NULL on failure, ferry_open_error() why.
ferry_dev *ferry_open_config(const ferry::config::GuestConfig &cfg);
// Wraps an already started Device (Device::attach) in a handle the C API accepts.
ferry_dev *ferry_wrap_device(std::unique_ptr<ferry::guest::Device> dev);
