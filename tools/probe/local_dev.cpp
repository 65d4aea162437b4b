// The `local` baseline of ferry bench: the guest C API (ferry/guest.h) implemented in one
// process over the real device models of device-node/ (edu, accel), with no shared memory, no
// data plane, no network and no crypto. ferry-probe-local is ferry-probe's own source linked
// against this file instead of libferry-guest, so the same driver code and the same
// measurement code run against the same model; what is left is the floor every transport is
// compared with (the original work's same-host baseline).
//
//   ferry_open("local:edu") or ferry_open("local:accel")
//
// A register read or write is a direct call into the model. DMA memory is ordinary process
// memory with device addresses handed out by a bump allocator; a transfer the model starts is
// completed (memcpy and dma_done) at the next progress step, which every API call runs first,
// as the device node's poll loop would. ferry_map_bar traps the BAR with the same engine
// (guest-shim/trap) as the real shim, each trapped access becoming the accessor call.
// One device per process is what the probe needs; calls are serialised by one lock.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include "ferry/device/edu.h"
#include "ferry/device/model.h"
#include "ferry/guest.h"
#include "ferry/proto/idle.h"
#include "trap/trap.h"

namespace {

using ferry::device::DeviceContext;
using ferry::device::DeviceModel;
using ferry::device::DmaStatus;

thread_local int t_error = 0;
thread_local std::string t_open_error;

struct Buffer {
  uint8_t *cpu = nullptr;
  size_t len = 0;
};

// What the model sees of "guest memory": the buffers ferry_dma_alloc handed out.
class LocalContext final : public DeviceContext {
 public:
  LocalContext() = default;
  LocalContext(const LocalContext &) = delete;
  LocalContext &operator=(const LocalContext &) = delete;
  ~LocalContext() override {
    for (auto &b : buffers_) std::free(b.second.cpu);
  }
  bool dma_read(uint64_t addr, uint32_t len, uint8_t *dst, uint64_t cookie) override {
    if (len == 0 || find(addr, len) == nullptr) return false;
    pending_.push_back({false, addr, len, dst, nullptr, cookie});
    return true;
  }
  bool dma_write(uint64_t addr, const uint8_t *src, uint32_t len, uint64_t cookie) override {
    if (len == 0 || find(addr, len) == nullptr) return false;
    pending_.push_back({true, addr, len, nullptr, src, cookie});
    return true;
  }
  void raise_irq(uint32_t vectors) override { irqs_ |= vectors; }
  uint64_t now_ns() const override { return now_; }

  // The node's poll step: completes the transfers started since the last one, then ticks.
  void progress(DeviceModel &model) {
    now_ = ferry::proto::now_ns();
    std::deque<Pending> done;
    done.swap(pending_);
    for (const Pending &p : done) {
      uint8_t *mem = find(p.addr, p.len);
      DmaStatus st = mem != nullptr ? DmaStatus::kOk : DmaStatus::kFailed;  // freed meanwhile
      if (mem != nullptr) {
        if (p.to_guest)
          std::memcpy(mem, p.src, p.len);
        else
          std::memcpy(p.dst, mem, p.len);
      }
      model.dma_done(p.cookie, st);
    }
    model.tick(now_);
  }

  uint64_t alloc(uint8_t *cpu, size_t len) {
    if (buffers_.empty()) next_ = kBase;
    const uint64_t addr = next_;
    next_ += (len + 4095) & ~size_t{4095};
    buffers_[addr] = {cpu, len};
    return addr;
  }
  bool free(const void *cpu) {
    for (auto it = buffers_.begin(); it != buffers_.end(); ++it) {
      if (it->second.cpu != cpu) continue;
      buffers_.erase(it);
      return true;
    }
    return false;
  }
  // The CPU address of [addr, addr+len) when one buffer holds all of it.
  uint8_t *find(uint64_t addr, uint64_t len) const {
    auto it = buffers_.upper_bound(addr);
    if (it == buffers_.begin()) return nullptr;
    --it;
    const uint64_t off = addr - it->first;
    if (off > it->second.len || len > it->second.len - off) return nullptr;
    return it->second.cpu + off;
  }
  uint32_t take_irqs() {
    const uint32_t v = irqs_;
    irqs_ = 0;
    return v;
  }

 private:
  static constexpr uint64_t kBase = 0x100000;  // inside edu's 28-bit DMA mask
  struct Pending {
    bool to_guest;
    uint64_t addr;
    uint32_t len;
    uint8_t *dst;
    const uint8_t *src;
    uint64_t cookie;
  };
  std::deque<Pending> pending_;
  std::map<uint64_t, Buffer> buffers_;
  uint64_t next_ = kBase;
  uint32_t irqs_ = 0;
  uint64_t now_ = 0;
};

class LocalBackend final : public ferry::trap::MmioBackend {
 public:
  explicit LocalBackend(ferry_dev *dev) : dev_(dev) {}
  uint64_t read(unsigned bar, uint64_t off, unsigned size) override {
    switch (size) {
      case 1:
        return ferry_ioread8(dev_, bar, off);
      case 2:
        return ferry_ioread16(dev_, bar, off);
      case 4:
        return ferry_ioread32(dev_, bar, off);
      default:
        return ferry_ioread64(dev_, bar, off);
    }
  }
  void write(unsigned bar, uint64_t off, unsigned size, uint64_t v) override {
    switch (size) {
      case 1:
        ferry_iowrite8(dev_, bar, off, static_cast<uint8_t>(v));
        break;
      case 2:
        ferry_iowrite16(dev_, bar, off, static_cast<uint16_t>(v));
        break;
      case 4:
        ferry_iowrite32(dev_, bar, off, static_cast<uint32_t>(v));
        break;
      default:
        ferry_iowrite64(dev_, bar, off, v);
        break;
    }
  }

 private:
  ferry_dev *dev_;
};

}  // namespace

struct ferry_dev {
  std::mutex mu;
  LocalContext ctx;
  std::unique_ptr<DeviceModel> model;
  std::unique_ptr<LocalBackend> backend;
  volatile void *bar0 = nullptr;
  size_t bar0_len = 0;
};

namespace {

template <typename T>
T read_reg(ferry_dev *dev, unsigned bar, uint64_t off) {
  if (dev == nullptr) {
    t_error = -EINVAL;
    return static_cast<T>(~T{0});
  }
  std::lock_guard<std::mutex> lock(dev->mu);
  dev->ctx.progress(*dev->model);
  auto v = dev->model->mmio_read(bar, off, sizeof(T));
  t_error = v ? 0 : -EIO;
  return v ? static_cast<T>(*v) : static_cast<T>(~T{0});
}

template <typename T>
void write_reg(ferry_dev *dev, unsigned bar, uint64_t off, T v) {
  if (dev == nullptr) {
    t_error = -EINVAL;
    return;
  }
  std::lock_guard<std::mutex> lock(dev->mu);
  dev->ctx.progress(*dev->model);
  t_error = dev->model->mmio_write(bar, off, sizeof(T), v) ? 0 : -EIO;
}

int sync_range(ferry_dev *dev, uint64_t dma_addr, size_t len) {
  if (dev == nullptr) return t_error = -EINVAL;
  std::lock_guard<std::mutex> lock(dev->mu);
  return t_error = dev->ctx.find(dma_addr, len) != nullptr ? 0 : -EINVAL;
}

}  // namespace

extern "C" {

ferry_dev *ferry_open(const char *config_path) {
  t_open_error.clear();
  const std::string spec = config_path != nullptr ? config_path : "";
  // "local:MODEL", MODEL any name in the device node's model table (model_factory.cpp).
  const std::string prefix = "local:";
  if (spec.rfind(prefix, 0) != 0 || spec.size() == prefix.size()) {
    t_open_error = "the local baseline opens 'local:MODEL' (e.g. local:edu), not '" + spec + "'";
    return nullptr;
  }
  const std::string model = spec.substr(prefix.size());
  ferry::device::ModelParams params;
  if (model == ferry::device::EduModel::kName)
    params["dma_buffer_size"] = 1 << 20;  // as the lab's device node (1 MiB transfers)
  auto dev = std::make_unique<ferry_dev>();
  try {
    dev->model = ferry::device::make_model(model, params, dev->ctx);
  } catch (const std::exception &e) {
    t_open_error = e.what();
    return nullptr;
  }
  dev->backend = std::make_unique<LocalBackend>(dev.get());
  return dev.release();
}

const char *ferry_open_error(void) {
  return t_open_error.c_str();
}

void ferry_close(ferry_dev *dev) {
  if (dev == nullptr) return;
  if (dev->bar0 != nullptr) ferry::trap::unmap_trapped_range(dev->bar0);
  delete dev;
}

uint8_t ferry_ioread8(ferry_dev *dev, unsigned bar, uint64_t off) {
  return read_reg<uint8_t>(dev, bar, off);
}
uint16_t ferry_ioread16(ferry_dev *dev, unsigned bar, uint64_t off) {
  return read_reg<uint16_t>(dev, bar, off);
}
uint32_t ferry_ioread32(ferry_dev *dev, unsigned bar, uint64_t off) {
  return read_reg<uint32_t>(dev, bar, off);
}
uint64_t ferry_ioread64(ferry_dev *dev, unsigned bar, uint64_t off) {
  return read_reg<uint64_t>(dev, bar, off);
}
void ferry_iowrite8(ferry_dev *dev, unsigned bar, uint64_t off, uint8_t v) {
  write_reg(dev, bar, off, v);
}
void ferry_iowrite16(ferry_dev *dev, unsigned bar, uint64_t off, uint16_t v) {
  write_reg(dev, bar, off, v);
}
void ferry_iowrite32(ferry_dev *dev, unsigned bar, uint64_t off, uint32_t v) {
  write_reg(dev, bar, off, v);
}
void ferry_iowrite64(ferry_dev *dev, unsigned bar, uint64_t off, uint64_t v) {
  write_reg(dev, bar, off, v);
}

void *ferry_dma_alloc(ferry_dev *dev, size_t len, uint64_t *dma_addr) {
  if (dev == nullptr || len == 0 || dma_addr == nullptr) {
    t_error = -EINVAL;
    return nullptr;
  }
  const size_t rounded = (len + 4095) & ~size_t{4095};
  void *p = std::aligned_alloc(4096, rounded);
  if (p == nullptr) {
    t_error = -ENOMEM;
    return nullptr;
  }
  std::memset(p, 0, rounded);
  std::lock_guard<std::mutex> lock(dev->mu);
  *dma_addr = dev->ctx.alloc(static_cast<uint8_t *>(p), len);
  t_error = 0;
  return p;
}

void ferry_dma_free(ferry_dev *dev, void *cpu_addr, size_t) {
  if (dev == nullptr || cpu_addr == nullptr) return;
  std::lock_guard<std::mutex> lock(dev->mu);
  if (dev->ctx.free(cpu_addr)) std::free(cpu_addr);
}

int ferry_dma_sync_for_device(ferry_dev *dev, uint64_t dma_addr, size_t len) {
  return sync_range(dev, dma_addr, len);
}
int ferry_dma_sync_for_cpu(ferry_dev *dev, uint64_t dma_addr, size_t len) {
  return sync_range(dev, dma_addr, len);
}

int ferry_wait_irq(ferry_dev *dev, uint32_t *vectors, int timeout_ms) {
  if (dev == nullptr || vectors == nullptr) return t_error = -EINVAL;
  const uint64_t deadline =
      ferry::proto::now_ns() + static_cast<uint64_t>(timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(dev->mu);
      dev->ctx.progress(*dev->model);
      if (uint32_t v = dev->ctx.take_irqs(); v != 0) {
        *vectors = v;
        return t_error = 0;
      }
    }
    if (ferry::proto::now_ns() >= deadline) return t_error = -ETIMEDOUT;
    std::this_thread::yield();
  }
}

int ferry_last_error(ferry_dev *) {
  return t_error;
}

int ferry_map_bar(ferry_dev *dev, unsigned bar, volatile void **addr, size_t *len) {
  if (dev == nullptr || bar != 0 || addr == nullptr || len == nullptr) return t_error = -EINVAL;
  if (dev->bar0 == nullptr) {
    dev->bar0_len = 1u << 20;
    if (int rc = ferry::trap::map_trapped_range(dev->backend.get(), 0, dev->bar0_len, &dev->bar0);
        rc != 0)
      return t_error = rc;
  }
  *addr = dev->bar0;
  *len = dev->bar0_len;
  return t_error = 0;
}

int ferry_bind_queue(ferry_dev *dev, unsigned queue) {
  return t_error = (dev != nullptr && queue == 0) ? 0 : -EINVAL;
}

}  // extern "C"
