// Trapped BARs (trapped_bar.h). The backend runs inside the SIGSEGV handler of the thread whose
// load or store faulted; the accessors it calls take only the shim's own locks, which a driver
// never holds while touching its BAR.
#include "trapped_bar.h"

#include <cerrno>

namespace ferry::guest {

uint64_t AccessorBackend::read(unsigned bar, uint64_t off, unsigned size) {
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

void AccessorBackend::write(unsigned bar, uint64_t off, unsigned size, uint64_t value) {
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

TrappedBars::~TrappedBars() {
  for (Mapping &m : bars_) {
    if (m.addr != nullptr) trap::unmap_trapped_range(m.addr);
  }
}

int TrappedBars::map(unsigned bar, size_t len, volatile void *&addr, size_t &mapped_len) {
  if (bar >= kBars) return -EINVAL;
  std::lock_guard<std::mutex> lk(mutex_);
  Mapping &m = bars_[bar];
  if (m.addr == nullptr) {
    volatile void *p = nullptr;
    if (int r = trap::map_trapped_range(&backend_, bar, len, &p); r != 0) return r;
    m = Mapping{p, len};
  }
  addr = m.addr;
  mapped_len = m.len;
  return 0;
}

}  // namespace ferry::guest
