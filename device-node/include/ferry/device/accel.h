// "accel": a queue-driven accelerator, driven the way real ones are (NVMe-style rings in DMA
// memory, a doorbell register, completion records, coalesced interrupts). Its work is
// CRC32C (Castagnoli) of an input buffer plus a copy of the buffer to an output buffer.
//
// Registers, BAR0 (4 KiB). Every register is 64 bits wide at an 8-aligned offset and accepts
// 1-, 2-, 4- and 8-byte accesses at naturally aligned offsets inside it (a narrow write
// changes only its bytes, then the register acts on the merged value). Misaligned accesses
// and offsets with no register read all-ones and ignore writes.
//   0x00 ID          RO  kId ("FERRYACC" in little-endian bytes)
//   0x08 VERSION     RO  kVersion (major << 16 | minor)
//   0x10 SCRATCH     RW  plain storage
//   0x18 CTRL        RW  bit0 enable (clearing it lets the descriptor in hand finish and
//                        fetches nothing more); bit1 reset (self-clearing: indices, error,
//                        interrupt status and counters go back to 0; in-flight work is abandoned)
//   0x20 STATUS      RO  bit0 enabled, bit1 busy, bit2 halted on error
//   0x28 SQ_BASE     RW  device address of the submission ring (desc_size aligned)
//   0x30 CQ_BASE     RW  device address of the completion ring (32-byte records, 32-aligned)
//   0x38 RING_SIZE   RW  entries of both rings, a power of two in [2, 65536]
//   0x40 DESC_SIZE   RW  32 or 64 (bytes per work descriptor)
//   0x48 SQ_TAIL     RW  doorbell: the driver's producer index in [0, RING_SIZE)
//   0x50 SQ_HEAD     RO  the device's consumer index: every entry before it is done and its
//                        completion record written
//   0x58 IRQ_COUNT   RW  coalescing: interrupt once this many completions are unsignalled
//   0x60 IRQ_TIME_NS RW  coalescing: interrupt once the oldest unsignalled completion is this
//                        old (checked on every tick). Both 0: an interrupt per completion
//   0x68 IRQ_STATUS  RO  bit0 completions (vector 0x1), bit1 error (vector 0x2)
//   0x70 IRQ_ACK     WO  clears the written bits from IRQ_STATUS
//   0x78 COMPLETED   RO  descriptors completed since reset
// SQ_BASE, CQ_BASE, RING_SIZE and DESC_SIZE ignore writes while enabled; the configuration
// is checked when enable is set (a bad one halts with the error bit and vector 0x2).
//
// The ring is full when (tail + 1) % size == head. On a doorbell the device fetches the
// descriptors between head and tail by DMA (up to kMaxBatch at a time, never across the
// ring's end), then for each: reads `len` bytes at src, computes CRC32C, writes them to dst
// (dst 0: no copy), writes the completion record at CQ_BASE + index * 32, advances SQ_HEAD
// and counts the completion for interrupt coalescing. A failed input or output DMA completes
// the descriptor with an error status; a failed descriptor fetch or completion write halts
// the device (STATUS bit2, vector 0x2) until reset. Put the rings and the data in separate
// DMA allocations (chunks), as each side rewrites whole chunks it syncs.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "ferry/device/model.h"
#include "ferry/proto/endian.h"

namespace ferry::device {

// Work descriptor (32 bytes; a 64-byte descriptor has 32 reserved bytes after it).
struct [[gnu::packed]] AccelDesc {
  uint8_t opcode;  // AccelOp
  uint8_t flags;   // reserved, 0
  proto::le16 reserved;
  proto::le32 len;  // input bytes, at most the device's max_transfer
  proto::le64 src;
  proto::le64 dst;     // 0: CRC only
  proto::le64 cookie;  // echoed in the completion
};
static_assert(sizeof(AccelDesc) == 32);

// Completion record (32 bytes) at CQ_BASE + index * 32.
struct [[gnu::packed]] AccelCompletion {
  proto::le32 status;  // AccelStatus
  proto::le32 crc;     // CRC32C of the input
  proto::le32 len;     // bytes processed
  proto::le32 phase;   // bit0: 1 on the first pass over the ring, flips at every wrap
  proto::le64 cookie;
  proto::le64 seq;  // 1-based completion number since reset
};
static_assert(sizeof(AccelCompletion) == 32);

enum class AccelOp : uint8_t { kNop = 0, kCrcCopy = 1 };
enum class AccelStatus : uint32_t {
  kOk = 0,
  kBadDescriptor = 1,  // unknown opcode or len above max_transfer
  kInputFailed = 2,    // the input DMA failed verification or was refused
  kOutputFailed = 3,   // the output DMA failed or was refused
};

class AccelModel final : public DeviceModel {
 public:
  static constexpr uint64_t kBarSize = 4096;
  static constexpr uint64_t kId = 0x4343415952524546ull;  // "FERRYACC"
  static constexpr uint64_t kVersion = 0x00010000;
  static constexpr uint32_t kMaxBatch = 64;
  static constexpr uint32_t kIrqCompletion = 0x1;
  static constexpr uint32_t kIrqError = 0x2;
  enum Reg : uint64_t {
    kRegId = 0x00,
    kRegVersion = 0x08,
    kRegScratch = 0x10,
    kRegCtrl = 0x18,
    kRegStatus = 0x20,
    kRegSqBase = 0x28,
    kRegCqBase = 0x30,
    kRegRingSize = 0x38,
    kRegDescSize = 0x40,
    kRegSqTail = 0x48,
    kRegSqHead = 0x50,
    kRegIrqCount = 0x58,
    kRegIrqTimeNs = 0x60,
    kRegIrqStatus = 0x68,
    kRegIrqAck = 0x70,
    kRegCompleted = 0x78,
    kRegEnd = 0x80,
  };
  static constexpr uint64_t kCtrlEnable = 0x1;
  static constexpr uint64_t kCtrlReset = 0x2;
  static constexpr uint64_t kStatusEnabled = 0x1;
  static constexpr uint64_t kStatusBusy = 0x2;
  static constexpr uint64_t kStatusHalted = 0x4;

  static constexpr std::string_view kName = "accel";
  static constexpr ModelParam kParams[] = {
      {"max_transfer", 1u << 20, 1, 16u << 20},  // bytes per descriptor
  };
  // Throws ModelError on parameters outside kParams.
  AccelModel(DeviceContext &ctx, const ModelParams &params);

  std::string_view name() const override { return kName; }
  std::optional<uint64_t> mmio_read(unsigned bar, uint64_t offset, unsigned size) override;
  bool mmio_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) override;
  void tick(uint64_t now_ns) override;
  void dma_done(uint64_t cookie, DmaStatus status) override;

  // Observability (tests, telemetry).
  uint64_t completed() const { return completed_; }
  uint64_t interrupts() const { return interrupts_; }
  uint64_t bad_doorbells() const { return bad_doorbells_; }

 private:
  enum class Stage : uint8_t { kIdle, kFetch, kInput, kOutput, kCompletion };
  uint64_t reg_value(uint64_t reg) const;
  void reg_write(uint64_t reg, uint64_t value);
  void reset();
  void enable();
  void halt();
  void kick();
  void start_descriptor();
  void write_completion(AccelStatus st);
  void completion_written();
  void signal(bool force);
  bool issue_read(uint64_t addr, uint32_t len, uint8_t *dst);
  bool issue_write(uint64_t addr, const uint8_t *src, uint32_t len);

  DeviceContext &ctx_;
  uint32_t max_transfer_;
  // Registers.
  uint64_t scratch_ = 0, ctrl_ = 0, sq_base_ = 0, cq_base_ = 0, ring_size_ = 0, desc_size_ = 32;
  uint64_t sq_tail_ = 0, sq_head_ = 0, irq_count_ = 0, irq_time_ns_ = 0;
  uint32_t irq_status_ = 0;
  bool halted_ = false;
  uint64_t completed_ = 0;
  bool phase_ = true;  // completion phase bit of the current pass
  // Engine.
  Stage stage_ = Stage::kIdle;
  uint64_t generation_ = 0;  // bumps on reset: completions of abandoned work are ignored
  uint32_t batch_n_ = 0, batch_pos_ = 0;
  std::vector<uint8_t> batch_;  // fetched descriptors
  AccelDesc cur_{};
  uint32_t cur_crc_ = 0;
  AccelCompletion rec_{};
  std::vector<uint8_t> data_;
  // Coalescing.
  uint64_t unsignalled_ = 0;
  uint64_t first_unsignalled_ns_ = 0;
  uint64_t interrupts_ = 0, bad_doorbells_ = 0;
};

}  // namespace ferry::device
