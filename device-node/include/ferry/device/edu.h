// QEMU's educational PCI device ("edu"), after QEMU docs/specs/edu.rst and DESIGN.md.
//
// BAR0, 1 MiB. Below 0x80 only 4-byte accesses, from 0x80 4- or 8-byte accesses; any other
// size reads all-ones and writes are ignored, as are offsets with no register.
//   0x00 RO  identification 0x010000ed
//   0x04 RW  liveness: reads back the bitwise inverse of the last value written
//   0x08 RW  factorial: a write stores n and starts computing n! (32-bit, wraps); ignored
//            while a computation runs; reads the result once status bit 0x01 is clear
//   0x20 RW  status: 0x01 computing (RO), 0x80 raise interrupt 0x01 when a factorial ends
//   0x24 RO  interrupt status
//   0x60 WO  interrupt raise: ORs the value into the interrupt status and interrupts
//   0x64 WO  interrupt acknowledge: clears the value's bits from the interrupt status
//   0x80 RW  DMA source address        0x88 RW DMA destination address
//   0x90 RW  DMA transfer count        0x98 RW DMA command: 0x01 start (reads set until the
//            transfer is done), 0x02 direction (0 RAM -> device, 1 device -> RAM), 0x04 raise
//            interrupt 0x100 when done. DMA registers ignore writes while a transfer runs.
// The device buffer sits at device address 0x40000 (param dma_buffer_size, default 4096). A
// transfer whose device-side range leaves the buffer is refused: no data moves, it is counted
// (dma_refused) and the command completes (start bit clears, interrupt if asked), so a driver
// never hangs on it. RAM addresses are masked to dma_mask_bits (default 28) like QEMU's.
//
// Ferry specifics: the factorial takes factorial_delay_ns (default 100 us) of device time so
// the computing bit is observable; DMA goes through the asynchronous DMA engine and completes
// when the guest memory was verified (RAM -> device: the buffer changes only if every chunk
// verified; a failed transfer is counted in dma_failed and completes like a refused one).
// Interrupts carry the vector bits raised (0x01, 0x100, or what was written to 0x60).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ferry/device/model.h"

namespace ferry::device {

class EduModel final : public DeviceModel {
 public:
  static constexpr uint64_t kBarSize = 1u << 20;
  static constexpr uint32_t kId = 0x010000ed;
  static constexpr uint64_t kDmaBufferAddr = 0x40000;
  static constexpr uint32_t kFactIrq = 0x001;
  static constexpr uint32_t kDmaIrq = 0x100;
  enum Reg : uint64_t {
    kRegId = 0x00,
    kRegLiveness = 0x04,
    kRegFactorial = 0x08,
    kRegStatus = 0x20,
    kRegIrqStatus = 0x24,
    kRegIrqRaise = 0x60,
    kRegIrqAck = 0x64,
    kRegDmaSrc = 0x80,
    kRegDmaDst = 0x88,
    kRegDmaCount = 0x90,
    kRegDmaCmd = 0x98,
  };
  static constexpr uint32_t kStatusComputing = 0x01;
  static constexpr uint32_t kStatusIrqFact = 0x80;
  static constexpr uint64_t kDmaCmdStart = 0x1;
  static constexpr uint64_t kDmaCmdToRam = 0x2;
  static constexpr uint64_t kDmaCmdIrq = 0x4;

  static constexpr std::string_view kName = "edu";
  static constexpr ModelParam kParams[] = {
      {"dma_buffer_size", 4096, 64, 16u << 20},  // bytes of the device's own DMA buffer
      {"factorial_delay_ns", 100000, 0, 10'000'000'000},
      {"dma_mask_bits", 28, 12, 64},  // DMA addresses are masked to this many bits
  };
  // Throws ModelError on parameters outside kParams.
  EduModel(DeviceContext &ctx, const ModelParams &params);

  std::string_view name() const override { return kName; }
  std::optional<uint64_t> mmio_read(unsigned bar, uint64_t offset, unsigned size) override;
  bool mmio_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) override;
  void tick(uint64_t now_ns) override;
  void dma_done(uint64_t cookie, DmaStatus status) override;

  // Observability (tests, telemetry): device-side counts.
  uint64_t factorials_started() const { return factorials_started_; }
  uint64_t dma_started() const { return dma_started_; }
  uint64_t dma_refused() const { return dma_refused_; }
  uint64_t dma_failed() const { return dma_failed_; }
  std::span<const uint8_t> buffer() const { return buffer_; }

 private:
  bool access_ok(uint64_t offset, unsigned size) const;
  void write_dma_reg(uint64_t &reg, uint64_t value);
  void start_dma();
  void finish_dma();
  void raise(uint32_t vectors);

  DeviceContext &ctx_;
  uint64_t fact_delay_ns_;
  uint64_t dma_mask_;
  uint32_t liveness_ = 0;  // stores the inverse of the written value, as QEMU does
  uint32_t fact_ = 0;
  uint32_t status_ = 0;
  uint32_t irq_status_ = 0;
  uint64_t fact_done_at_ = 0;
  uint64_t dma_src_ = 0, dma_dst_ = 0, dma_cnt_ = 0, dma_cmd_ = 0;
  uint64_t dma_generation_ = 0;  // cookie of the transfer in flight
  std::vector<uint8_t> buffer_;
  std::vector<uint8_t> staging_;  // RAM -> device lands here and is committed on success
  uint64_t factorials_started_ = 0, dma_started_ = 0, dma_refused_ = 0, dma_failed_ = 0;
};

}  // namespace ferry::device
