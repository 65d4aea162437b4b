// QEMU's edu device; see edu.h for the register map and the rules.
#include "ferry/device/edu.h"

#include <cstring>

namespace ferry::device {

namespace {

// n! modulo 2^32. From 34 on the product holds at least 32 factors of two, so it is 0:
// no guest value can make the device loop for long.
uint32_t factorial32(uint32_t n) {
  if (n >= 34) return 0;
  uint32_t r = 1;
  while (n > 0) r *= n--;
  return r;
}

}  // namespace

EduModel::EduModel(DeviceContext &ctx, const ModelParams &params) : ctx_(ctx) {
  check_params(kName, kParams, params);
  const uint64_t size = param_value(kParams, params, "dma_buffer_size");
  fact_delay_ns_ = param_value(kParams, params, "factorial_delay_ns");
  const uint64_t bits = param_value(kParams, params, "dma_mask_bits");
  dma_mask_ = bits == 64 ? ~0ull : (1ull << bits) - 1;
  buffer_.assign(size, 0);
  staging_.assign(size, 0);
}

bool EduModel::access_ok(uint64_t offset, unsigned size) const {
  if (offset < 0x80) return size == 4;
  return size == 4 || size == 8;
}

std::optional<uint64_t> EduModel::mmio_read(unsigned bar, uint64_t offset, unsigned size) {
  if (bar != 0 || offset >= kBarSize) return std::nullopt;
  uint64_t v = ~0ull;
  if (!access_ok(offset, size)) return v;
  switch (offset) {
    case kRegId:
      v = kId;
      break;
    case kRegLiveness:
      v = liveness_;
      break;
    case kRegFactorial:
      v = fact_;
      break;
    case kRegStatus:
      v = status_;
      break;
    case kRegIrqStatus:
      v = irq_status_;
      break;
    case kRegDmaSrc:
      v = dma_src_;
      break;
    case kRegDmaDst:
      v = dma_dst_;
      break;
    case kRegDmaCount:
      v = dma_cnt_;
      break;
    case kRegDmaCmd:
      v = dma_cmd_;
      break;
    default:
      break;
  }
  if (size == 4) v &= 0xffffffffu;
  return v;
}

bool EduModel::mmio_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) {
  if (bar != 0 || offset >= kBarSize) return false;
  if (!access_ok(offset, size)) return true;  // ignored, as on the device
  if (size == 4) value &= 0xffffffffu;
  switch (offset) {
    case kRegLiveness:
      liveness_ = ~static_cast<uint32_t>(value);
      break;
    case kRegFactorial:
      if (status_ & kStatusComputing) break;
      fact_ = static_cast<uint32_t>(value);
      status_ |= kStatusComputing;
      fact_done_at_ = ctx_.now_ns() + fact_delay_ns_;
      ++factorials_started_;
      break;
    case kRegStatus:
      if (value & kStatusIrqFact) {
        status_ |= kStatusIrqFact;
      } else {
        status_ &= ~kStatusIrqFact;
      }
      break;
    case kRegIrqRaise: {
      uint32_t v = static_cast<uint32_t>(value);
      irq_status_ |= v;
      // Like MSI on the device: a raise notifies whenever some status bit is set.
      if (irq_status_ != 0) ctx_.raise_irq(v != 0 ? v : irq_status_);
      break;
    }
    case kRegIrqAck:
      irq_status_ &= ~static_cast<uint32_t>(value);
      break;
    case kRegDmaSrc:
      write_dma_reg(dma_src_, value);
      break;
    case kRegDmaDst:
      write_dma_reg(dma_dst_, value);
      break;
    case kRegDmaCount:
      write_dma_reg(dma_cnt_, value);
      break;
    case kRegDmaCmd:
      if (!(value & kDmaCmdStart) || (dma_cmd_ & kDmaCmdStart)) break;
      dma_cmd_ = value;
      start_dma();
      break;
    default:
      break;
  }
  return true;
}

void EduModel::write_dma_reg(uint64_t &reg, uint64_t value) {
  if (dma_cmd_ & kDmaCmdStart) return;  // ignored while a transfer runs
  reg = value;
}

void EduModel::raise(uint32_t vectors) {
  irq_status_ |= vectors;
  ctx_.raise_irq(vectors);
}

void EduModel::tick(uint64_t now_ns) {
  if ((status_ & kStatusComputing) && now_ns >= fact_done_at_) {
    fact_ = factorial32(fact_);
    status_ &= ~kStatusComputing;
    if (status_ & kStatusIrqFact) raise(kFactIrq);
  }
}

void EduModel::start_dma() {
  ++dma_started_;
  ++dma_generation_;
  const bool to_ram = (dma_cmd_ & kDmaCmdToRam) != 0;
  const uint64_t dev = to_ram ? dma_src_ : dma_dst_;
  const uint64_t ram = (to_ram ? dma_dst_ : dma_src_) & dma_mask_;
  const uint64_t size = buffer_.size();
  // Overflow-safe: [dev, dev + cnt) inside [kDmaBufferAddr, kDmaBufferAddr + size).
  if (dev < kDmaBufferAddr || dma_cnt_ > size || dev - kDmaBufferAddr > size - dma_cnt_) {
    ++dma_refused_;
    finish_dma();
    return;
  }
  const uint64_t off = dev - kDmaBufferAddr;
  const uint32_t cnt = static_cast<uint32_t>(dma_cnt_);
  if (cnt == 0) {
    finish_dma();
    return;
  }
  bool accepted = to_ram ? ctx_.dma_write(ram, buffer_.data() + off, cnt, dma_generation_)
                         : ctx_.dma_read(ram, cnt, staging_.data() + off, dma_generation_);
  if (!accepted) {
    ++dma_refused_;
    finish_dma();
  }
}

void EduModel::dma_done(uint64_t cookie, DmaStatus status) {
  if (cookie != dma_generation_ || !(dma_cmd_ & kDmaCmdStart)) return;
  if (status != DmaStatus::kOk) {
    ++dma_failed_;
  } else if (!(dma_cmd_ & kDmaCmdToRam)) {
    const uint64_t off = dma_dst_ - kDmaBufferAddr;  // checked by start_dma()
    std::memcpy(buffer_.data() + off, staging_.data() + off, dma_cnt_);
  }
  finish_dma();
}

void EduModel::finish_dma() {
  dma_cmd_ &= ~kDmaCmdStart;
  if (dma_cmd_ & kDmaCmdIrq) raise(kDmaIrq);
}

}  // namespace ferry::device
