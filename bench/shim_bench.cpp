// The guest shim's own cost, against the in-process responder (real relay, real device node,
// edu model) running on its own thread: an MMIO read split into seal, post and wait (the wait
// includes the relay, the device node and opening the completion), the open alone, and DMA
// syncs of 4 KiB and 64 KiB split into sealing/opening the chunks and the whole call.
//
//   ferry-shim-bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <time.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "api_internal.h"
#include "device.h"
#include "ferry/device/edu.h"
#include "ferry/proto/session.h"
#include "responder.h"

namespace {

using ferry::device::EduModel;
using ferry::proto::Descriptor;
using ferry::proto::Dir;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// One responder and one open device for the whole run (sessions are expensive to set up).
struct Rig {
  Rig() {
    ferry::testing::ResponderOptions o;
    o.params["dma_buffer_size"] = 65536;
    responder = std::make_unique<ferry::testing::Responder>(o);
    dev = ferry_open_config(responder->guest_config(5000));
    if (dev == nullptr) throw std::runtime_error(ferry_open_error());
  }
  ~Rig() { ferry_close(dev); }
  ferry::guest::Device &impl() { return *dev->impl; }
  std::unique_ptr<ferry::testing::Responder> responder;
  ferry_dev *dev = nullptr;
};

Rig &rig() {
  static Rig r;
  return r;
}

// Fixed session keys for the crypto-only phases (no device involved).
ferry::proto::SessionSecrets bench_secrets() {
  ferry::proto::SessionSecrets s;
  s.params.n_queues = 1;
  s.params.channel = 1;
  s.streams.resize(s.n_streams());
  for (size_t i = 0; i < s.streams.size(); ++i) s.streams[i].key.fill(static_cast<uint8_t>(i));
  return s;
}

void BM_MmioRead(benchmark::State &state) {
  ferry_dev *dev = rig().dev;
  for (auto _ : state) {
    uint32_t v = ferry_ioread32(dev, 0, EduModel::kRegId);
    if (v != EduModel::kId) state.SkipWithError("read failed");
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_MmioRead)->UseRealTime();

// The same read, timed per phase: seal (fill + AES-GCM), post (into the SQ), wait (relay,
// device node, model, sealing back, and opening the completion in the shim).
void BM_MmioReadPhases(benchmark::State &state) {
  ferry::guest::Device &dev = rig().impl();
  uint64_t seal = 0, post = 0, wait = 0;
  for (auto _ : state) {
    Descriptor d;
    uint64_t t0 = now_ns();
    uint64_t seq = dev.seal_read(0, 0, EduModel::kRegId, 4, d);
    uint64_t t1 = now_ns();
    if (dev.post(0, d) != 0) state.SkipWithError("post failed");
    uint64_t t2 = now_ns();
    uint64_t v = 0;
    if (dev.wait_completion(0, seq, v) != 0) state.SkipWithError("wait failed");
    uint64_t t3 = now_ns();
    seal += t1 - t0;
    post += t2 - t1;
    wait += t3 - t2;
  }
  using C = benchmark::Counter;
  state.counters["seal_ns"] = C(static_cast<double>(seal), C::kAvgIterations);
  state.counters["post_ns"] = C(static_cast<double>(post), C::kAvgIterations);
  state.counters["wait_ns"] = C(static_cast<double>(wait), C::kAvgIterations);
}
BENCHMARK(BM_MmioReadPhases)->UseRealTime();

// Opening one completion (what the shim does per answer): copy, header check, AES-GCM open.
void BM_OpenCompletion(benchmark::State &state) {
  auto aead = ferry::proto::Aead::create_best();
  auto secrets = bench_secrets();
  ferry::proto::SessionCrypto device(*aead, secrets), guest(*aead, secrets);
  Descriptor sealed{};
  sealed.hdr.kind = static_cast<uint8_t>(ferry::proto::Kind::kCompletion);
  sealed.hdr.channel.set(1);
  sealed.hdr.seq.set(1);
  sealed.body.value.set(EduModel::kId);
  device.seal(Dir::kDeviceToGuest, sealed);
  for (auto _ : state) {
    Descriptor d;
    ferry::proto::copy_from_untrusted(d, &sealed);
    if (guest.open(Dir::kDeviceToGuest, d) != ferry::proto::Status::kOk)
      state.SkipWithError("open failed");
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_OpenCompletion);

// Sealing (guest -> window) and opening (window -> guest) of `bytes` in 4 KiB chunks: the
// crypto part of the two DMA syncs.
void BM_SealChunks(benchmark::State &state) {
  const size_t bytes = static_cast<size_t>(state.range(0)), chunk = 4096;
  auto aead = ferry::proto::Aead::create_best();
  ferry::proto::SessionCrypto crypto(*aead, bench_secrets());
  std::vector<uint8_t> plain(bytes, 0x5a), sealed(bytes);
  uint8_t tag[16];
  uint64_t version = 1;
  for (auto _ : state) {
    for (size_t off = 0; off < bytes; off += chunk) {
      auto aad = ferry::proto::make_chunk_aad(1, 0x1000000 + off, chunk,
                                              ferry::proto::Writer::kGuest, version++);
      crypto.seal_chunk(Dir::kGuestToDevice, aad, plain.data() + off, sealed.data() + off, chunk,
                        tag);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_SealChunks)->Arg(4096)->Arg(65536);

void BM_OpenChunks(benchmark::State &state) {
  const size_t bytes = static_cast<size_t>(state.range(0)), chunk = 4096;
  auto aead = ferry::proto::Aead::create_best();
  ferry::proto::SessionCrypto crypto(*aead, bench_secrets());
  std::vector<uint8_t> plain(bytes, 0x5a), sealed(bytes), out(bytes);
  std::vector<uint8_t> tags(bytes / chunk * 16);
  for (size_t off = 0; off < bytes; off += chunk) {
    auto aad =
        ferry::proto::make_chunk_aad(1, 0x1000000 + off, chunk, ferry::proto::Writer::kDevice, 7);
    crypto.seal_chunk(Dir::kDeviceToGuest, aad, plain.data() + off, sealed.data() + off, chunk,
                      tags.data() + off / chunk * 16);
  }
  for (auto _ : state) {
    for (size_t off = 0; off < bytes; off += chunk) {
      auto aad =
          ferry::proto::make_chunk_aad(1, 0x1000000 + off, chunk, ferry::proto::Writer::kDevice, 7);
      std::memcpy(out.data() + off, sealed.data() + off, chunk);  // the private copy
      if (crypto.open_chunk(Dir::kDeviceToGuest, aad, out.data() + off, out.data() + off, chunk,
                            tags.data() + off / chunk * 16) != ferry::proto::Status::kOk)
        state.SkipWithError("open failed");
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_OpenChunks)->Arg(4096)->Arg(65536);

// The whole ferry_dma_sync_for_device: seal every chunk into the window and post the
// announcement (the device node applies it on its side).
void BM_SyncForDevice(benchmark::State &state) {
  ferry_dev *dev = rig().dev;
  const size_t bytes = static_cast<size_t>(state.range(0));
  uint64_t dma = 0;
  void *buf = ferry_dma_alloc(dev, bytes, &dma);
  if (buf == nullptr) return state.SkipWithError("alloc failed");
  std::memset(buf, 0x11, bytes);
  for (auto _ : state)
    if (ferry_dma_sync_for_device(dev, dma, bytes) != 0) state.SkipWithError("sync failed");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  ferry_dma_free(dev, buf, bytes);
}
BENCHMARK(BM_SyncForDevice)->Arg(4096)->Arg(65536)->UseRealTime();

// The whole ferry_dma_sync_for_cpu of a buffer the device wrote: drain the completion rings,
// copy every announced chunk out of the window, open it, copy the dirty bytes in.
void BM_SyncForCpu(benchmark::State &state) {
  ferry_dev *dev = rig().dev;
  const size_t bytes = static_cast<size_t>(state.range(0));
  uint64_t dma = 0;
  void *buf = ferry_dma_alloc(dev, bytes, &dma);
  if (buf == nullptr) return state.SkipWithError("alloc failed");
  ferry_iowrite64(dev, 0, EduModel::kRegDmaSrc, EduModel::kDmaBufferAddr);
  ferry_iowrite64(dev, 0, EduModel::kRegDmaDst, dma);
  ferry_iowrite64(dev, 0, EduModel::kRegDmaCount, bytes);
  ferry_iowrite64(dev, 0, EduModel::kRegDmaCmd, EduModel::kDmaCmdStart | EduModel::kDmaCmdToRam);
  while (ferry_ioread64(dev, 0, EduModel::kRegDmaCmd) & EduModel::kDmaCmdStart) {
  }
  for (auto _ : state)
    if (ferry_dma_sync_for_cpu(dev, dma, bytes) != 0) state.SkipWithError("sync failed");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  ferry_dma_free(dev, buf, bytes);
}
BENCHMARK(BM_SyncForCpu)->Arg(4096)->Arg(65536)->UseRealTime();

// End to end: sync_for_device, then the edu device pulls the buffer through the relay and
// verifies every chunk, and the driver polls until the transfer is done.
void BM_EduDmaToDevice(benchmark::State &state) {
  ferry_dev *dev = rig().dev;
  const size_t bytes = static_cast<size_t>(state.range(0));
  uint64_t dma = 0;
  void *buf = ferry_dma_alloc(dev, bytes, &dma);
  if (buf == nullptr) return state.SkipWithError("alloc failed");
  for (auto _ : state) {
    ferry_dma_sync_for_device(dev, dma, bytes);
    ferry_iowrite64(dev, 0, EduModel::kRegDmaSrc, dma);
    ferry_iowrite64(dev, 0, EduModel::kRegDmaDst, EduModel::kDmaBufferAddr);
    ferry_iowrite64(dev, 0, EduModel::kRegDmaCount, bytes);
    ferry_iowrite64(dev, 0, EduModel::kRegDmaCmd, EduModel::kDmaCmdStart);
    while (ferry_ioread64(dev, 0, EduModel::kRegDmaCmd) & EduModel::kDmaCmdStart) {
    }
    if (ferry_last_error(dev) != 0) state.SkipWithError("transfer failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  ferry_dma_free(dev, buf, bytes);
}
BENCHMARK(BM_EduDmaToDevice)->Arg(4096)->Arg(65536)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
