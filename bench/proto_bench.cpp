// The non-crypto parts of the data path: replay window and frame encode/decode.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "ferry/proto/crc32c.h"
#include "ferry/proto/descriptor.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/idle.h"
#include "ferry/proto/replay_window.h"

namespace ferry::proto {
namespace {

void BM_ReplayWindowInOrder(benchmark::State &st) {
  ReplayWindow w(1024);
  uint64_t seq = 1;
  for (auto _ : st) {
    bool fresh = w.check(seq) && w.update(seq);
    benchmark::DoNotOptimize(fresh);
    ++seq;
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations()));
}
BENCHMARK(BM_ReplayWindowInOrder);

void BM_ReplayWindowReordered(benchmark::State &st) {
  ReplayWindow w(1024);
  uint64_t base = 1;
  for (auto _ : st) {
    // Pairs swapped: 2, 1, 4, 3, ... plus a duplicate check of the previous one.
    bool a = w.update(base + 1);
    bool b = w.update(base);
    bool dup = w.check(base);
    benchmark::DoNotOptimize(a & b & !dup);
    base += 2;
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * 2));
}
BENCHMARK(BM_ReplayWindowReordered);

void BM_FrameEncode32Descriptors(benchmark::State &st) {
  std::vector<uint8_t> buf(kMaxFrameSize);
  Descriptor d{};
  std::memset(&d, 0x42, sizeof(d));
  FrameWriter w(buf);
  uint64_t seq = 1;
  for (auto _ : st) {
    w.reset();
    for (int i = 0; i < kBurst; ++i) {
      uint8_t *p = w.append(RecordType::kDescriptor, 1, sizeof(d));
      std::memcpy(p, &d, sizeof(d));
    }
    size_t n = w.finish(0, 1, seq++, 0);
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kBurst));
}
BENCHMARK(BM_FrameEncode32Descriptors);

void BM_FrameDecode32Descriptors(benchmark::State &st) {
  std::vector<uint8_t> buf(kMaxFrameSize);
  Descriptor d{};
  std::memset(&d, 0x42, sizeof(d));
  FrameWriter w(buf);
  for (int i = 0; i < kBurst; ++i)
    std::memcpy(w.append(RecordType::kDescriptor, 1, sizeof(d)), &d, sizeof(d));
  size_t n = w.finish(0, 1, 1, 0);
  std::span<const uint8_t> frame(buf.data(), n);
  FrameReader r;
  for (auto _ : st) {
    if (r.parse(frame) != Status::kOk) st.SkipWithError("parse failed");
    RecordView v;
    size_t bytes = 0;
    while (r.next(v)) bytes += v.payload.size();
    benchmark::DoNotOptimize(bytes);
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * kBurst));
}
BENCHMARK(BM_FrameDecode32Descriptors);

// The frame check sequence over a frame's bytes (SSE4.2 picked at run time where the CPU has
// it; docs: meson.build, -Dnative).
void BM_Crc32c(benchmark::State &st) {
  std::vector<uint8_t> buf(static_cast<size_t>(st.range(0)), 0x5a);
  uint32_t crc = 0;
  for (auto _ : st) {
    crc = crc32c(buf.data(), buf.size(), crc);
    benchmark::DoNotOptimize(crc);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * buf.size()));
}
BENCHMARK(BM_Crc32c)->Arg(64)->Arg(1500)->Arg(9000);

}  // namespace
}  // namespace ferry::proto

BENCHMARK_MAIN();
