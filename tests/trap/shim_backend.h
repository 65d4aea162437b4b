// The MmioBackend that ferry_map_bar needs: each trapped access becomes the accessor call of
// the same size, on the calling thread's queue, so the accessor API's posted-write and
// ordering rules carry over. The shim's ferry_map_bar should install exactly this; the tests
// here use it directly until it does.
#pragma once

#include <cstdint>

#include "ferry/guest.h"
#include "trap/trap.h"

namespace ferry::trap::testing {

class ShimBackend : public MmioBackend {
 public:
  explicit ShimBackend(ferry_dev *dev) : dev_(dev) {}
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
  void write(unsigned bar, uint64_t off, unsigned size, uint64_t value) override {
    switch (size) {
      case 1:
        ferry_iowrite8(dev_, bar, off, static_cast<uint8_t>(value));
        break;
      case 2:
        ferry_iowrite16(dev_, bar, off, static_cast<uint16_t>(value));
        break;
      case 4:
        ferry_iowrite32(dev_, bar, off, static_cast<uint32_t>(value));
        break;
      default:
        ferry_iowrite64(dev_, bar, off, value);
        break;
    }
  }

 private:
  ferry_dev *dev_;
};

}  // namespace ferry::trap::testing
