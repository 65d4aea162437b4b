// Thin C++ wrapper over ferry/guest.h: RAII ownership of the device and of DMA buffers.
// Same thread-safety rules as the C API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "ferry/guest.h"

namespace ferry {

class GuestDevice;

// A streaming-DMA buffer: CVM-private memory plus its device address. Freed on destruction.
class DmaBuffer {
 public:
  DmaBuffer() = default;
  DmaBuffer(DmaBuffer &&o) noexcept { *this = std::move(o); }
  DmaBuffer &operator=(DmaBuffer &&o) noexcept {
    if (this != &o) {
      reset();
      std::swap(dev_, o.dev_);
      std::swap(cpu_, o.cpu_);
      std::swap(len_, o.len_);
      std::swap(dma_, o.dma_);
    }
    return *this;
  }
  ~DmaBuffer() { reset(); }

  void *data() const { return cpu_; }
  uint8_t *bytes() const { return static_cast<uint8_t *>(cpu_); }
  size_t size() const { return len_; }
  uint64_t dma_addr() const { return dma_; }
  explicit operator bool() const { return cpu_ != nullptr; }

  // 0 or -errno, as ferry_dma_sync_for_device / _for_cpu over [offset, offset+len).
  int sync_for_device(size_t offset, size_t len) const {
    return ferry_dma_sync_for_device(dev_, dma_ + offset, len);
  }
  int sync_for_device() const { return sync_for_device(0, len_); }
  int sync_for_cpu(size_t offset, size_t len) const {
    return ferry_dma_sync_for_cpu(dev_, dma_ + offset, len);
  }
  int sync_for_cpu() const { return sync_for_cpu(0, len_); }

  void reset() {
    if (cpu_ != nullptr) ferry_dma_free(dev_, cpu_, len_);
    dev_ = nullptr;
    cpu_ = nullptr;
    len_ = 0;
    dma_ = 0;
  }

 private:
  friend class GuestDevice;
  DmaBuffer(ferry_dev *dev, void *cpu, size_t len, uint64_t dma)
      : dev_(dev), cpu_(cpu), len_(len), dma_(dma) {}
  ferry_dev *dev_ = nullptr;
  void *cpu_ = nullptr;
  size_t len_ = 0;
  uint64_t dma_ = 0;
};

// An open device. Throws std::runtime_error (with ferry_open_error()'s text) if it cannot open.
class GuestDevice {
 public:
  explicit GuestDevice(const std::string &config_path) : dev_(ferry_open(config_path.c_str())) {
    if (dev_ == nullptr) throw std::runtime_error(ferry_open_error());
  }
  GuestDevice(const GuestDevice &) = delete;
  GuestDevice &operator=(const GuestDevice &) = delete;
  ~GuestDevice() { ferry_close(dev_); }

  ferry_dev *get() const { return dev_; }

  uint8_t read8(unsigned bar, uint64_t off) const { return ferry_ioread8(dev_, bar, off); }
  uint16_t read16(unsigned bar, uint64_t off) const { return ferry_ioread16(dev_, bar, off); }
  uint32_t read32(unsigned bar, uint64_t off) const { return ferry_ioread32(dev_, bar, off); }
  uint64_t read64(unsigned bar, uint64_t off) const { return ferry_ioread64(dev_, bar, off); }
  void write8(unsigned bar, uint64_t off, uint8_t v) const { ferry_iowrite8(dev_, bar, off, v); }
  void write16(unsigned bar, uint64_t off, uint16_t v) const { ferry_iowrite16(dev_, bar, off, v); }
  void write32(unsigned bar, uint64_t off, uint32_t v) const { ferry_iowrite32(dev_, bar, off, v); }
  void write64(unsigned bar, uint64_t off, uint64_t v) const { ferry_iowrite64(dev_, bar, off, v); }

  // An empty buffer (operator bool false) when the window is exhausted; last_error() says why.
  DmaBuffer dma_alloc(size_t len) const {
    uint64_t dma = 0;
    void *cpu = ferry_dma_alloc(dev_, len, &dma);
    if (cpu == nullptr) return {};
    return DmaBuffer(dev_, cpu, len, dma);
  }

  // 0 with *vectors set, or -ETIMEDOUT / -errno.
  int wait_irq(uint32_t &vectors, int timeout_ms) const {
    return ferry_wait_irq(dev_, &vectors, timeout_ms);
  }
  int last_error() const { return ferry_last_error(dev_); }
  int bind_queue(unsigned queue) const { return ferry_bind_queue(dev_, queue); }

 private:
  ferry_dev *dev_;
};

}  // namespace ferry
