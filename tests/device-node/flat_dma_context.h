// A tiny DeviceContext for model unit tests: guest memory is a flat byte array, transfers
// complete (in order) when the test calls complete_all(), interrupts are recorded. Lets a
// model be tested alone, with DMA still asynchronous as under the device node.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "ferry/device/model.h"

namespace ferry::testing {

class FlatDmaContext final : public device::DeviceContext {
 public:
  FlatDmaContext(uint64_t base, size_t size) : base_(base), mem_(size, 0) {}
  void attach(device::DeviceModel &m) { model_ = &m; }

  bool dma_read(uint64_t addr, uint32_t len, uint8_t *dst, uint64_t cookie) override {
    if (!in_range(addr, len)) return false;
    pending_.push_back({false, addr, len, dst, nullptr, cookie});
    ++reads;
    return true;
  }
  bool dma_write(uint64_t addr, const uint8_t *src, uint32_t len, uint64_t cookie) override {
    if (!in_range(addr, len)) return false;
    pending_.push_back({true, addr, len, nullptr, src, cookie});
    ++writes;
    return true;
  }
  void raise_irq(uint32_t vectors) override { irqs.push_back(vectors); }
  uint64_t now_ns() const override { return now; }

  // Completes every transfer queued so far and any the model starts from its callbacks.
  // fail_next makes the next n transfers complete with kFailed (and move no data).
  size_t complete_all(size_t limit = 1'000'000) {
    size_t n = 0;
    while (!pending_.empty() && n < limit) {
      Xfer x = pending_.front();
      pending_.pop_front();
      device::DmaStatus st = device::DmaStatus::kOk;
      if (fail_next > 0) {
        --fail_next;
        st = device::DmaStatus::kFailed;
      } else if (x.write) {
        std::memcpy(at(x.addr), x.src, x.len);
      } else {
        std::memcpy(x.dst, at(x.addr), x.len);
      }
      model_->dma_done(x.cookie, st);
      ++n;
    }
    return n;
  }
  size_t pending() const { return pending_.size(); }
  uint8_t *at(uint64_t addr) { return &mem_[addr - base_]; }
  void tick(uint64_t advance_ns) {
    now += advance_ns;
    model_->tick(now);
  }

  uint64_t now = 1000;
  std::vector<uint32_t> irqs;
  uint64_t reads = 0, writes = 0;
  size_t fail_next = 0;

 private:
  struct Xfer {
    bool write;
    uint64_t addr;
    uint32_t len;
    uint8_t *dst;
    const uint8_t *src;
    uint64_t cookie;
  };
  bool in_range(uint64_t addr, uint64_t len) const {
    return addr >= base_ && len <= mem_.size() && addr - base_ <= mem_.size() - len;
  }
  uint64_t base_;
  std::vector<uint8_t> mem_;
  std::deque<Xfer> pending_;
  device::DeviceModel *model_ = nullptr;
};

}  // namespace ferry::testing
