// The queue-driven accelerator; see accel.h for the register map, rings and records.
#include "ferry/device/accel.h"

#include <bit>
#include <cstring>

#include "ferry/proto/crc32c.h"

namespace ferry::device {

AccelModel::AccelModel(DeviceContext &ctx, const ModelParams &params) : ctx_(ctx) {
  check_params(kName, kParams, params);
  max_transfer_ = static_cast<uint32_t>(param_value(kParams, params, "max_transfer"));
  batch_.assign(kMaxBatch * 64, 0);
  data_.assign(max_transfer_, 0);
}

uint64_t AccelModel::reg_value(uint64_t reg) const {
  switch (reg) {
    case kRegId:
      return kId;
    case kRegVersion:
      return kVersion;
    case kRegScratch:
      return scratch_;
    case kRegCtrl:
      return ctrl_;
    case kRegStatus:
      return ((ctrl_ & kCtrlEnable) ? kStatusEnabled : 0) |
             (stage_ != Stage::kIdle ? kStatusBusy : 0) | (halted_ ? kStatusHalted : 0);
    case kRegSqBase:
      return sq_base_;
    case kRegCqBase:
      return cq_base_;
    case kRegRingSize:
      return ring_size_;
    case kRegDescSize:
      return desc_size_;
    case kRegSqTail:
      return sq_tail_;
    case kRegSqHead:
      return sq_head_;
    case kRegIrqCount:
      return irq_count_;
    case kRegIrqTimeNs:
      return irq_time_ns_;
    case kRegIrqStatus:
      return irq_status_;
    case kRegIrqAck:
      return 0;
    case kRegCompleted:
      return completed_;
    default:
      return ~0ull;
  }
}

namespace {
bool sized_access(uint64_t offset, unsigned size) {
  return (size == 1 || size == 2 || size == 4 || size == 8) && offset % size == 0;
}
uint64_t size_mask(unsigned size) {
  return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}
}  // namespace

std::optional<uint64_t> AccelModel::mmio_read(unsigned bar, uint64_t offset, unsigned size) {
  if (bar != 0 || offset >= kBarSize) return std::nullopt;
  if (!sized_access(offset, size) || offset >= kRegEnd) return size_mask(size);
  return (reg_value(offset & ~7ull) >> (8 * (offset & 7))) & size_mask(size);
}

bool AccelModel::mmio_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) {
  if (bar != 0 || offset >= kBarSize) return false;
  if (!sized_access(offset, size) || offset >= kRegEnd) return true;
  const uint64_t reg = offset & ~7ull;
  const unsigned shift = 8 * (offset & 7);
  const uint64_t mask = size_mask(size) << shift;
  // Write-only and action registers merge into 0 / their stored value; RO ones ignore it.
  uint64_t old = reg == kRegIrqAck ? 0 : reg_value(reg);
  if (reg == kRegCtrl) old &= ~kCtrlReset;
  reg_write(reg, (old & ~mask) | ((value << shift) & mask));
  return true;
}

void AccelModel::reg_write(uint64_t reg, uint64_t v) {
  const bool enabled = (ctrl_ & kCtrlEnable) != 0;
  switch (reg) {
    case kRegScratch:
      scratch_ = v;
      break;
    case kRegCtrl:
      if (v & kCtrlReset) reset();
      if ((v & kCtrlEnable) && !(ctrl_ & kCtrlEnable)) {
        enable();
      } else if (!(v & kCtrlEnable)) {
        ctrl_ &= ~kCtrlEnable;  // finishes the descriptor in hand, fetches no more
      }
      break;
    case kRegSqBase:
      if (!enabled) sq_base_ = v;
      break;
    case kRegCqBase:
      if (!enabled) cq_base_ = v;
      break;
    case kRegRingSize:
      if (!enabled) ring_size_ = v;
      break;
    case kRegDescSize:
      if (!enabled) desc_size_ = v;
      break;
    case kRegSqTail:
      if (ring_size_ == 0 || v >= ring_size_) {
        ++bad_doorbells_;
        break;
      }
      sq_tail_ = v;
      kick();
      break;
    case kRegIrqCount:
      irq_count_ = v;
      break;
    case kRegIrqTimeNs:
      irq_time_ns_ = v;
      break;
    case kRegIrqAck:
      irq_status_ &= ~static_cast<uint32_t>(v);
      break;
    default:
      break;  // read-only
  }
}

void AccelModel::reset() {
  ++generation_;
  ctrl_ = 0;
  sq_tail_ = sq_head_ = 0;
  irq_status_ = 0;
  halted_ = false;
  completed_ = 0;
  phase_ = true;
  stage_ = Stage::kIdle;
  batch_n_ = batch_pos_ = 0;
  unsignalled_ = 0;
}

void AccelModel::enable() {
  const bool ok = ring_size_ >= 2 && ring_size_ <= 65536 && std::has_single_bit(ring_size_) &&
                  (desc_size_ == 32 || desc_size_ == 64) && sq_base_ % desc_size_ == 0 &&
                  cq_base_ % sizeof(AccelCompletion) == 0 && sq_tail_ < ring_size_ &&
                  sq_head_ < ring_size_;
  ctrl_ |= kCtrlEnable;
  batch_n_ = batch_pos_ = 0;  // the ring may have moved while disabled: fetch afresh
  if (!ok) {
    halt();
    return;
  }
  kick();
}

void AccelModel::halt() {
  halted_ = true;
  stage_ = Stage::kIdle;
  batch_n_ = batch_pos_ = 0;
  irq_status_ |= kIrqError;
  ctx_.raise_irq(kIrqError);
}

bool AccelModel::issue_read(uint64_t addr, uint32_t len, uint8_t *dst) {
  return ctx_.dma_read(addr, len, dst, generation_ << 8 | static_cast<uint8_t>(stage_));
}

bool AccelModel::issue_write(uint64_t addr, const uint8_t *src, uint32_t len) {
  return ctx_.dma_write(addr, src, len, generation_ << 8 | static_cast<uint8_t>(stage_));
}

void AccelModel::kick() {
  if (stage_ != Stage::kIdle || halted_ || !(ctrl_ & kCtrlEnable)) return;
  if (batch_pos_ < batch_n_) {
    start_descriptor();
    return;
  }
  if (sq_head_ == sq_tail_) return;
  // Fetch the entries up to the tail or the ring's end, whichever comes first.
  uint64_t n = sq_tail_ > sq_head_ ? sq_tail_ - sq_head_ : ring_size_ - sq_head_;
  if (n > kMaxBatch) n = kMaxBatch;
  batch_n_ = static_cast<uint32_t>(n);
  batch_pos_ = 0;
  stage_ = Stage::kFetch;
  if (!issue_read(sq_base_ + sq_head_ * desc_size_, static_cast<uint32_t>(n * desc_size_),
                  batch_.data())) {
    halt();
  }
}

void AccelModel::start_descriptor() {
  std::memcpy(&cur_, batch_.data() + static_cast<size_t>(batch_pos_) * desc_size_, sizeof(cur_));
  cur_crc_ = 0;
  const uint32_t len = cur_.len.get();
  if (cur_.opcode == static_cast<uint8_t>(AccelOp::kNop)) {
    write_completion(AccelStatus::kOk);
    return;
  }
  if (cur_.opcode != static_cast<uint8_t>(AccelOp::kCrcCopy) || len > max_transfer_) {
    write_completion(AccelStatus::kBadDescriptor);
    return;
  }
  if (len == 0) {
    write_completion(AccelStatus::kOk);
    return;
  }
  stage_ = Stage::kInput;
  if (!issue_read(cur_.src.get(), len, data_.data())) write_completion(AccelStatus::kInputFailed);
}

void AccelModel::write_completion(AccelStatus st) {
  rec_ = AccelCompletion{};
  rec_.status.set(static_cast<uint32_t>(st));
  rec_.crc.set(cur_crc_);
  const bool copied =
      st == AccelStatus::kOk && cur_.opcode == static_cast<uint8_t>(AccelOp::kCrcCopy);
  rec_.len.set(copied ? cur_.len.get() : 0);
  rec_.phase.set(phase_ ? 1 : 0);
  rec_.cookie.set(cur_.cookie.get());
  rec_.seq.set(completed_ + 1);
  stage_ = Stage::kCompletion;
  if (!issue_write(cq_base_ + sq_head_ * sizeof(AccelCompletion),
                   reinterpret_cast<const uint8_t *>(&rec_), sizeof(rec_))) {
    halt();
  }
}

void AccelModel::completion_written() {
  ++completed_;
  ++batch_pos_;
  sq_head_ = (sq_head_ + 1) & (ring_size_ - 1);
  if (sq_head_ == 0) phase_ = !phase_;
  if (unsignalled_++ == 0) first_unsignalled_ns_ = ctx_.now_ns();
  signal(false);
  stage_ = Stage::kIdle;
  kick();
}

void AccelModel::signal(bool timer_expired) {
  if (unsignalled_ == 0) return;
  const bool per_completion = irq_count_ == 0 && irq_time_ns_ == 0;
  const bool count_reached = irq_count_ != 0 && unsignalled_ >= irq_count_;
  if (!(per_completion || count_reached || timer_expired)) return;
  unsignalled_ = 0;
  irq_status_ |= kIrqCompletion;
  ++interrupts_;
  ctx_.raise_irq(kIrqCompletion);
}

void AccelModel::tick(uint64_t now_ns) {
  if (irq_time_ns_ != 0 && unsignalled_ != 0 && now_ns - first_unsignalled_ns_ >= irq_time_ns_) {
    signal(true);
  }
}

void AccelModel::dma_done(uint64_t cookie, DmaStatus status) {
  if (cookie >> 8 != generation_ || static_cast<Stage>(cookie & 0xff) != stage_) return;
  const bool ok = status == DmaStatus::kOk;
  switch (stage_) {
    case Stage::kFetch:
      if (!ok) {
        halt();
        return;
      }
      stage_ = Stage::kIdle;
      start_descriptor();
      break;
    case Stage::kInput:
      if (!ok) {
        write_completion(AccelStatus::kInputFailed);
        return;
      }
      cur_crc_ = proto::crc32c(data_.data(), cur_.len.get());
      if (cur_.dst.get() == 0) {
        write_completion(AccelStatus::kOk);
        return;
      }
      stage_ = Stage::kOutput;
      if (!issue_write(cur_.dst.get(), data_.data(), cur_.len.get())) {
        write_completion(AccelStatus::kOutputFailed);
      }
      break;
    case Stage::kOutput:
      write_completion(ok ? AccelStatus::kOk : AccelStatus::kOutputFailed);
      break;
    case Stage::kCompletion:
      if (!ok) {
        halt();
        return;
      }
      completion_written();
      break;
    case Stage::kIdle:
      break;
  }
}

}  // namespace ferry::device
