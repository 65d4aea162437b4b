// A guest driver for the restart and rekey tests: liveness write/read pairs on edu's 0x04
// register through the C API, checked one by one, and every 20th pair a 4 KiB DMA round trip
// (guest memory -> edu's buffer -> other guest memory, compared), across failures of either
// service.
//
//   ferry-guest-workload CONFIG STOP_FILE KEYLOG|- MAX_CYCLES PACE_US
//
// Runs until STOP_FILE exists or MAX_CYCLES pairs succeeded. A failed call is timed and
// reported; the driver then closes the device and opens it again (a new handshake) until it
// succeeds. Lines it prints (the tests parse them):
//   session ID                       a session opened
//   progress N                       N pairs succeeded so far (every 100)
//   fail CALL ERRNO MS VALUE         a failed call: its error, duration and returned value
//   wrong WROTE READ                 a read that succeeded with the wrong value
//   wrong dma                        a DMA round trip that succeeded with other bytes
//   summary ok=N wrong=N failures=N max_fail_ms=N not_all_ones=N sessions=N elapsed_ms=N
//           tx_rekeys=N rx_rekeys=N old_keys_wiped=N epoch_rejects=N writes=N reads=N dma_ok=N
// KEYLOG (test only, through an internal seam): every session's secrets, one line per stream.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "api_internal.h"
#include "keylog.h"

namespace {

FILE *keylog = nullptr;

void log_secrets(const ferry::proto::SessionSecrets &s) {
  if (keylog != nullptr) ferry::testing::write_keylog(keylog, s);
}

constexpr size_t kDmaLen = 4096;
constexpr uint64_t kEduBuffer = 0x40000;

// One edu DMA transfer, its completion polled on the command register. 0 or -errno; every
// register write and read that succeeded is counted (the rekey test compares with the device).
int edu_dma(ferry_dev *dev, uint64_t src, uint64_t dst, uint64_t to_ram, uint64_t &writes,
            uint64_t &reads) {
  const uint64_t regs[][2] = {{0x80, src}, {0x88, dst}, {0x90, kDmaLen}, {0x98, 0x1 | to_ram}};
  for (const auto &[reg, value] : regs) {
    ferry_iowrite64(dev, 0, reg, value);
    if (int e = ferry_last_error(dev); e != 0) return e;
    ++writes;
  }
  for (int i = 0; i < 100000; ++i) {
    const uint64_t cmd = ferry_ioread64(dev, 0, 0x98);
    if (int e = ferry_last_error(dev); e != 0) return e;
    ++reads;
    if ((cmd & 0x1) == 0) return 0;
  }
  return -ETIMEDOUT;
}

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s CONFIG STOP_FILE KEYLOG|- MAX_CYCLES PACE_US\n", argv[0]);
    return 2;
  }
  const std::string config = argv[1], stop = argv[2], keylog_path = argv[3];
  const uint64_t max_cycles = std::strtoull(argv[4], nullptr, 10);
  const unsigned pace_us = static_cast<unsigned>(std::strtoul(argv[5], nullptr, 10));
  if (keylog_path != "-") {
    keylog = std::fopen(keylog_path.c_str(), "w");
    if (keylog == nullptr) return 2;
    ferry::guest::Device::set_secrets_observer(log_secrets);
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);

  uint64_t ok = 0, wrong = 0, failures = 0, max_fail_ms = 0, not_all_ones = 0, sessions = 0;
  uint64_t writes = 0, reads = 0, dma_ok = 0;  // calls (round trips) that succeeded
  uint8_t *out = nullptr, *in = nullptr;
  uint64_t to_dev = 0, from_dev = 0;
  ferry::proto::RekeyStats rekey;
  const uint64_t t0 = now_ms();
  ferry_dev *dev = nullptr;
  auto close_dev = [&] {
    if (dev == nullptr) return;
    const ferry::proto::RekeyStats r = dev->impl->stats().rekey;
    rekey.tx_rekeys += r.tx_rekeys;
    rekey.rx_rekeys += r.rx_rekeys;
    rekey.old_keys_wiped += r.old_keys_wiped;
    rekey.epoch_rejects += r.epoch_rejects;
    ferry_close(dev);
    dev = nullptr;
  };
  auto stopped = [&] { return access(stop.c_str(), F_OK) == 0 || ok >= max_cycles; };
  uint64_t cycle = 0;
  while (!stopped()) {
    if (dev == nullptr) {
      dev = ferry_open(config.c_str());
      if (dev == nullptr) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      ++sessions;
      std::printf("session %u\n", dev->impl->session_id());
      out = static_cast<uint8_t *>(ferry_dma_alloc(dev, kDmaLen, &to_dev));
      in = static_cast<uint8_t *>(ferry_dma_alloc(dev, kDmaLen, &from_dev));
      if (out == nullptr || in == nullptr) {
        std::printf("fail dma_alloc %d 0 0x0\n", -ferry_last_error(dev));
        return 1;
      }
    }
    if (cycle % 20 == 19) {  // a DMA round trip with bytes of its own
      for (size_t i = 0; i < kDmaLen; ++i) out[i] = static_cast<uint8_t>(i * 31 + cycle);
      const uint64_t t = now_ms();
      int err = ferry_dma_sync_for_device(dev, to_dev, kDmaLen);
      if (err == 0) err = edu_dma(dev, to_dev, kEduBuffer, 0, writes, reads);
      if (err == 0) err = edu_dma(dev, kEduBuffer, from_dev, 0x2, writes, reads);
      if (err == 0) err = ferry_dma_sync_for_cpu(dev, from_dev, kDmaLen);
      if (err != 0) {
        const uint64_t ms = now_ms() - t;
        ++failures;
        std::printf("fail dma %d %" PRIu64 " 0x0\n", -err, ms);
        close_dev();
        ++cycle;
        continue;
      }
      if (std::memcmp(in, out, kDmaLen) != 0) {
        ++wrong;
        std::printf("wrong dma\n");
      } else {
        ++dma_ok;
      }
    }
    const uint32_t wrote = static_cast<uint32_t>(0x9e3779b9u * ++cycle) ^ 0x5a5a0000u;
    uint64_t t = now_ms();
    ferry_iowrite32(dev, 0, 0x04, wrote);
    int err = ferry_last_error(dev);
    const char *call = "write";
    uint32_t got = 0;
    if (err == 0) {
      ++writes;
      t = now_ms();
      got = ferry_ioread32(dev, 0, 0x04);
      err = ferry_last_error(dev);
      call = "read";
      if (err == 0) ++reads;
    }
    if (err != 0) {
      const uint64_t ms = now_ms() - t;
      ++failures;
      if (ms > max_fail_ms) max_fail_ms = ms;
      if (call[0] == 'r' && got != 0xffffffffu) ++not_all_ones;
      std::printf("fail %s %d %" PRIu64 " 0x%08x\n", call, -err, ms, got);
      close_dev();
      continue;
    }
    if (got != static_cast<uint32_t>(~wrote)) {
      ++wrong;
      std::printf("wrong 0x%08x 0x%08x\n", wrote, got);
    } else if (++ok % 100 == 0) {
      std::printf("progress %" PRIu64 "\n", ok);
    }
    if (pace_us != 0) std::this_thread::sleep_for(std::chrono::microseconds(pace_us));
  }
  close_dev();
  std::printf(
      "summary ok=%" PRIu64 " wrong=%" PRIu64 " failures=%" PRIu64 " max_fail_ms=%" PRIu64
      " not_all_ones=%" PRIu64 " sessions=%" PRIu64 " elapsed_ms=%" PRIu64 " tx_rekeys=%" PRIu64
      " rx_rekeys=%" PRIu64 " old_keys_wiped=%" PRIu64 " epoch_rejects=%" PRIu64 " writes=%" PRIu64
      " reads=%" PRIu64 " dma_ok=%" PRIu64 "\n",
      ok, wrong, failures, max_fail_ms, not_all_ones, sessions, now_ms() - t0, rekey.tx_rekeys,
      rekey.rx_rekeys, rekey.old_keys_wiped, rekey.epoch_rejects, writes, reads, dma_ok);
  if (keylog != nullptr) std::fclose(keylog);
  return 0;
}
