// The C API: argument checks, the per-thread queue binding and error, and a barrier that
// keeps C++ exceptions from crossing into C. Everything else is Device's (and TrappedBars'
// for ferry_map_bar).
#include <array>
#include <atomic>
#include <cerrno>
#include <new>
#include <string>

#include "api_internal.h"
#include "ferry/config/config.h"

using ferry::guest::Device;
using ferry::guest::TrappedBars;

static_assert(std::tuple_size_v<decltype(ferry::config::GuestConfig::bar_sizes)> ==
              TrappedBars::kBars);

namespace {

std::atomic<uint64_t> g_next_serial{1};
thread_local std::string t_open_error;

// Per thread and device: the queue this thread uses and its last call's error. A thread
// rarely talks to more than a couple of devices; the oldest entry is reused beyond that.
struct ThreadSlot {
  uint64_t serial = 0;
  uint16_t queue = 0;
  int error = 0;
};
constexpr size_t kThreadSlots = 8;
thread_local std::array<ThreadSlot, kThreadSlots> t_slots;
thread_local size_t t_next_slot = 0;

ThreadSlot &slot(ferry_dev *dev) {
  for (ThreadSlot &s : t_slots)
    if (s.serial == dev->serial) return s;
  ThreadSlot &s = t_slots[t_next_slot++ % kThreadSlots];
  s = ThreadSlot{dev->serial, dev->impl->default_queue(), 0};
  return s;
}

int set_error(ferry_dev *dev, int err) {
  slot(dev).error = err;
  return err;
}

uint64_t read_n(ferry_dev *dev, unsigned bar, uint64_t off, unsigned size) {
  if (dev == nullptr) return ~0ull;
  uint64_t v = 0;
  int r = dev->impl->read(slot(dev).queue, bar, off, size, v);
  set_error(dev, r);
  return r == 0 ? v : ~0ull;
}

void write_n(ferry_dev *dev, unsigned bar, uint64_t off, unsigned size, uint64_t v) {
  if (dev == nullptr) return;
  set_error(dev, dev->impl->write(slot(dev).queue, bar, off, size, v));
}

}  // namespace

ferry_dev *ferry_wrap_device(std::unique_ptr<Device> dev) {
  return new ferry_dev(std::move(dev), g_next_serial.fetch_add(1));
}

ferry_dev *ferry_open_config(const ferry::config::GuestConfig &cfg) {
  t_open_error.clear();
  try {
    return ferry_wrap_device(Device::open(cfg));
  } catch (const std::exception &e) {
    t_open_error = e.what();
  } catch (...) {
    t_open_error = "unknown error";
  }
  return nullptr;
}

extern "C" {

ferry_dev *ferry_open(const char *config_path) {
  t_open_error.clear();
  if (config_path == nullptr) {
    t_open_error = "ferry_open: config_path is NULL";
    return nullptr;
  }
  ferry::config::GuestConfig cfg;
  try {
    cfg = ferry::config::load_guest(config_path);
  } catch (const std::exception &e) {
    t_open_error = e.what();
    return nullptr;
  }
  return ferry_open_config(cfg);
}

const char *ferry_open_error(void) {
  return t_open_error.c_str();
}

void ferry_close(ferry_dev *dev) {
  delete dev;
}

uint8_t ferry_ioread8(ferry_dev *dev, unsigned bar, uint64_t off) {
  return static_cast<uint8_t>(read_n(dev, bar, off, 1));
}
uint16_t ferry_ioread16(ferry_dev *dev, unsigned bar, uint64_t off) {
  return static_cast<uint16_t>(read_n(dev, bar, off, 2));
}
uint32_t ferry_ioread32(ferry_dev *dev, unsigned bar, uint64_t off) {
  return static_cast<uint32_t>(read_n(dev, bar, off, 4));
}
uint64_t ferry_ioread64(ferry_dev *dev, unsigned bar, uint64_t off) {
  return read_n(dev, bar, off, 8);
}

void ferry_iowrite8(ferry_dev *dev, unsigned bar, uint64_t off, uint8_t v) {
  write_n(dev, bar, off, 1, v);
}
void ferry_iowrite16(ferry_dev *dev, unsigned bar, uint64_t off, uint16_t v) {
  write_n(dev, bar, off, 2, v);
}
void ferry_iowrite32(ferry_dev *dev, unsigned bar, uint64_t off, uint32_t v) {
  write_n(dev, bar, off, 4, v);
}
void ferry_iowrite64(ferry_dev *dev, unsigned bar, uint64_t off, uint64_t v) {
  write_n(dev, bar, off, 8, v);
}

void *ferry_dma_alloc(ferry_dev *dev, size_t len, uint64_t *dma_addr) {
  if (dev == nullptr) return nullptr;
  if (dma_addr == nullptr) {
    set_error(dev, -EINVAL);
    return nullptr;
  }
  int err = 0;
  void *p = nullptr;
  try {
    p = dev->impl->dma_alloc(len, *dma_addr, err);
  } catch (const std::bad_alloc &) {
    err = -ENOMEM;
  }
  set_error(dev, err);
  return p;
}

void ferry_dma_free(ferry_dev *dev, void *cpu_addr, size_t len) {
  if (dev == nullptr || cpu_addr == nullptr) return;
  set_error(dev, dev->impl->dma_free(cpu_addr, len));
}

int ferry_dma_sync_for_device(ferry_dev *dev, uint64_t dma_addr, size_t len) {
  if (dev == nullptr) return -EINVAL;
  return set_error(dev, dev->impl->sync_for_device(slot(dev).queue, dma_addr, len));
}

int ferry_dma_sync_for_cpu(ferry_dev *dev, uint64_t dma_addr, size_t len) {
  if (dev == nullptr) return -EINVAL;
  int r;
  try {
    r = dev->impl->sync_for_cpu(slot(dev).queue, dma_addr, len);
  } catch (const std::bad_alloc &) {
    r = -ENOMEM;  // the private staging buffer could not grow
  }
  return set_error(dev, r);
}

int ferry_wait_irq(ferry_dev *dev, uint32_t *vectors, int timeout_ms) {
  if (dev == nullptr) return -EINVAL;
  if (vectors == nullptr) return set_error(dev, -EINVAL);
  return set_error(dev, dev->impl->wait_irq(slot(dev).queue, *vectors, timeout_ms));
}

int ferry_last_error(ferry_dev *dev) {
  if (dev == nullptr) return -EINVAL;
  return slot(dev).error;
}

int ferry_map_bar(ferry_dev *dev, unsigned bar, volatile void **addr, size_t *len) {
  if (dev == nullptr) return -EINVAL;
  const auto &sizes = dev->impl->config().bar_sizes;
  if (addr == nullptr || len == nullptr || bar >= sizes.size() || sizes[bar] == 0)
    return set_error(dev, -EINVAL);
  return set_error(dev, dev->bars.map(bar, sizes[bar], *addr, *len));
}

int ferry_bind_queue(ferry_dev *dev, unsigned queue) {
  if (dev == nullptr) return -EINVAL;
  if (queue >= dev->impl->n_queues()) return set_error(dev, -EINVAL);
  ThreadSlot &s = slot(dev);
  s.queue = static_cast<uint16_t>(queue);
  s.error = 0;
  return 0;
}

}  // extern "C"
