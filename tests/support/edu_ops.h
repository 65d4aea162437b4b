// Driver-side edu operations through the C API, as a Linux edu driver would do them.
#pragma once

#include <cerrno>
#include <cstdint>
#include <thread>

#include "ferry/device/edu.h"
#include "ferry/guest.h"

namespace ferry::testing {

using device::EduModel;

// Programs one edu DMA transfer and polls the command register until the start bit clears.
// Returns 0, or the shim's error; -ETIMEDOUT if the device never finishes within ~5 s.
inline int edu_dma(ferry_dev *dev, uint64_t src, uint64_t dst, uint64_t count, bool to_ram,
                   bool irq = false) {
  ferry_iowrite64(dev, 0, EduModel::kRegDmaSrc, src);
  ferry_iowrite64(dev, 0, EduModel::kRegDmaDst, dst);
  ferry_iowrite64(dev, 0, EduModel::kRegDmaCount, count);
  uint64_t cmd = EduModel::kDmaCmdStart | (to_ram ? EduModel::kDmaCmdToRam : 0) |
                 (irq ? EduModel::kDmaCmdIrq : 0);
  ferry_iowrite64(dev, 0, EduModel::kRegDmaCmd, cmd);
  if (int e = ferry_last_error(dev); e != 0) return e;
  for (int i = 0; i < 50000; ++i) {
    uint64_t v = ferry_ioread64(dev, 0, EduModel::kRegDmaCmd);
    if (int e = ferry_last_error(dev); e != 0) return e;
    if ((v & EduModel::kDmaCmdStart) == 0) return 0;
    std::this_thread::yield();
  }
  return -ETIMEDOUT;
}

}  // namespace ferry::testing
