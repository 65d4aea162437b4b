// The guest side of the fault tests: a workload over the public C API (ferry/guest.h) on
// several devices at once, every result checked. A thread per edu device: liveness write and
// read back, factorials, small DMA round trips. A thread per accel device: batches of CRC32C +
// copy descriptors through its rings. Then the first device of each kind moves `BIG` transfers
// of 1 MiB (edu: to the device and back; accel: one 1 MiB descriptor), every byte compared.
//
//   ferry-fault-workload OPS BIG {edu|accel}:GUEST.yaml ...
//
// An operation is one register access (read or posted write), one accel descriptor or one
// edu DMA transfer; an edu device does kEduWeight times as many as an accel device, OPS in all.
// Prints one line
//   result ops=N reads=N writes=N descriptors=N dma_transfers=N dma_bytes=N failures=N ms=N ...
// (reads and writes summed over all devices: the device node's mmio_reads and mmio_writes
// must match them exactly) and exits 0 when every check passed.
#include <errno.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ferry/guest.h"

namespace {

std::atomic<uint64_t> g_reads{0}, g_writes{0}, g_descriptors{0}, g_dma{0}, g_dma_bytes{0};
std::atomic<uint64_t> g_failures{0};
thread_local uint64_t t_ops = 0;  // operations of the calling thread (one device each)

#define FAIL_IF(cond, ...)                                                  \
  do {                                                                      \
    if (cond) {                                                             \
      std::fprintf(stderr, "workload: FAILED %s:%d: ", __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);                                    \
      std::fprintf(stderr, "\n");                                           \
      g_failures.fetch_add(1);                                              \
      return false;                                                         \
    }                                                                       \
  } while (0)

uint64_t rd64(ferry_dev *d, uint64_t off) {
  g_reads.fetch_add(1, std::memory_order_relaxed);
  ++t_ops;
  return ferry_ioread64(d, 0, off);
}
uint32_t rd32(ferry_dev *d, uint64_t off) {
  g_reads.fetch_add(1, std::memory_order_relaxed);
  ++t_ops;
  return ferry_ioread32(d, 0, off);
}
void wr64(ferry_dev *d, uint64_t off, uint64_t v) {
  g_writes.fetch_add(1, std::memory_order_relaxed);
  ++t_ops;
  ferry_iowrite64(d, 0, off, v);
}
void wr32(ferry_dev *d, uint64_t off, uint32_t v) {
  g_writes.fetch_add(1, std::memory_order_relaxed);
  ++t_ops;
  ferry_iowrite32(d, 0, off, v);
}

uint64_t rng_next(uint64_t &s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

uint32_t crc32c(const uint8_t *p, size_t n) {
  static uint32_t table[256];
  static std::once_flag once;
  std::call_once(once, [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
      table[i] = c;
    }
  });
  uint32_t crc = 0xffffffffu;
  while (n--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint64_t get_le(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
void put_le(uint8_t *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// ---- edu (QEMU's educational device; device-node/include/ferry/device/edu.h) ----
constexpr uint64_t kEduLiveness = 0x04, kEduFact = 0x08, kEduStatus = 0x20;
constexpr uint64_t kEduDmaSrc = 0x80, kEduDmaDst = 0x88, kEduDmaCount = 0x90, kEduDmaCmd = 0x98;
constexpr uint64_t kEduBuffer = 0x40000;

uint32_t factorial(uint32_t n) {
  uint32_t r = 1;
  while (n > 0) r *= n--;
  return r;
}

bool edu_dma(ferry_dev *d, uint64_t src, uint64_t dst, uint64_t len, bool to_ram) {
  wr64(d, kEduDmaSrc, src);
  wr64(d, kEduDmaDst, dst);
  wr64(d, kEduDmaCount, len);
  wr64(d, kEduDmaCmd, 0x1 | (to_ram ? 0x2 : 0));
  g_dma.fetch_add(1);
  ++t_ops;
  g_dma_bytes.fetch_add(len);
  for (;;) {
    const uint64_t cmd = rd64(d, kEduDmaCmd);
    FAIL_IF(ferry_last_error(d) != 0, "edu DMA command read: error %d", ferry_last_error(d));
    if ((cmd & 0x1) == 0) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// To the device buffer and back into a second buffer; every byte compared.
bool edu_dma_round_trip(ferry_dev *d, size_t len, uint64_t &seed) {
  uint64_t out_dma = 0, in_dma = 0;
  auto *out = static_cast<uint8_t *>(ferry_dma_alloc(d, len, &out_dma));
  auto *in = static_cast<uint8_t *>(ferry_dma_alloc(d, len, &in_dma));
  FAIL_IF(out == nullptr || in == nullptr, "edu: DMA alloc of %zu bytes", len);
  for (size_t i = 0; i < len; i += 8) {
    const uint64_t v = rng_next(seed);
    std::memcpy(out + i, &v, std::min<size_t>(8, len - i));
  }
  bool ok = ferry_dma_sync_for_device(d, out_dma, len) == 0 &&
            edu_dma(d, out_dma, kEduBuffer, len, false) &&
            edu_dma(d, kEduBuffer, in_dma, len, true);
  const int sync = ok ? ferry_dma_sync_for_cpu(d, in_dma, len) : -1;
  const bool same = ok && sync == 0 && std::memcmp(in, out, len) == 0;
  ferry_dma_free(d, out, len);
  ferry_dma_free(d, in, len);
  FAIL_IF(!same, "edu: DMA round trip of %zu bytes: transfer %d, sync %d, data %s", len, ok, sync,
          ok && sync == 0 ? "differs" : "not compared");
  return true;
}

bool edu_run(ferry_dev *d, uint64_t ops, int big) {
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  for (uint64_t i = 0; t_ops < ops; ++i) {
    const uint32_t v = static_cast<uint32_t>(rng_next(seed));
    wr32(d, kEduLiveness, v);
    const uint32_t r = rd32(d, kEduLiveness);
    FAIL_IF(r != ~v || ferry_last_error(d) != 0, "edu liveness: wrote 0x%08x read 0x%08x (err %d)",
            v, r, ferry_last_error(d));
    if (i % 2 == 0) {  // a factorial: the write starts it (non-idempotent)
      const uint32_t n = static_cast<uint32_t>(i % 13) + 1;
      wr32(d, kEduFact, n);
      for (;;) {
        const uint32_t st = rd32(d, kEduStatus);
        FAIL_IF(ferry_last_error(d) != 0, "edu status read: error %d", ferry_last_error(d));
        if ((st & 0x1) == 0) break;
      }
      const uint32_t f = rd32(d, kEduFact);
      FAIL_IF(f != factorial(n) || ferry_last_error(d) != 0, "edu: %u! read %u, want %u (err %d)",
              n, f, factorial(n), ferry_last_error(d));
    }
    if (i % 1024 == 0) {
      if (!edu_dma_round_trip(d, 4096, seed)) return false;
    }
  }
  for (int b = 0; b < big; ++b) {
    if (!edu_dma_round_trip(d, 1u << 20, seed)) return false;
  }
  return true;
}

// ---- accel (device-node/include/ferry/device/accel.h) ----
constexpr uint64_t kAccCtrl = 0x18, kAccStatus = 0x20, kAccSqBase = 0x28, kAccCqBase = 0x30;
constexpr uint64_t kAccRingSize = 0x38, kAccDescSize = 0x40, kAccSqTail = 0x48, kAccSqHead = 0x50;
constexpr uint64_t kAccIrqCount = 0x58, kAccIrqAck = 0x70, kAccCompleted = 0x78;
constexpr uint32_t kRing = 64, kBatch = 32, kItem = 256;
// An accel descriptor takes a few device-node <-> data-plane round trips (input read, output
// and completion writes) where an edu access takes half of one: edu devices get this many
// times the operations of an accel device.
constexpr uint64_t kEduWeight = 4;

struct Accel {
  ferry_dev *d;
  uint8_t *sq, *cq;
  uint64_t sq_dma, cq_dma;
  uint32_t tail = 0;
  uint64_t completed = 0;
};

// Submits n items of len bytes each (in[i * len], out[i * len]) with one doorbell and checks
// every completion record, CRC and copied byte.
bool accel_batch(Accel &a, uint8_t *in, uint64_t in_dma, uint8_t *out, uint64_t out_dma, uint32_t n,
                 uint32_t len, uint64_t &seed) {
  ferry_dev *d = a.d;
  for (size_t i = 0; i < size_t(n) * len; i += 8) {
    const uint64_t v = rng_next(seed);
    std::memcpy(in + i, &v, std::min<size_t>(8, size_t(n) * len - i));
  }
  std::memset(out, 0, size_t(n) * len);
  FAIL_IF(ferry_dma_sync_for_device(d, in_dma, size_t(n) * len) != 0, "accel: sync input");
  FAIL_IF(ferry_dma_sync_for_device(d, out_dma, size_t(n) * len) != 0, "accel: sync output");
  const uint32_t first = a.tail;
  for (uint32_t i = 0; i < n; ++i) {
    uint8_t *desc = a.sq + size_t(a.tail) * 32;
    std::memset(desc, 0, 32);
    desc[0] = 1;  // CRC32C + copy
    put_le(desc + 4, len, 4);
    put_le(desc + 8, in_dma + uint64_t(i) * len, 8);
    put_le(desc + 16, out_dma + uint64_t(i) * len, 8);
    put_le(desc + 24, a.completed + i + 1, 8);  // cookie
    a.tail = (a.tail + 1) % kRing;
  }
  FAIL_IF(ferry_dma_sync_for_device(d, a.sq_dma, kRing * 32) != 0, "accel: sync SQ");
  wr64(d, kAccIrqCount, n);
  wr64(d, kAccSqTail, a.tail);  // doorbell
  g_descriptors.fetch_add(n);
  t_ops += n;
  g_dma_bytes.fetch_add(uint64_t(n) * len * 2);
  for (int waits = 0;; ++waits) {
    uint32_t vectors = 0;
    const int rc = ferry_wait_irq(d, &vectors, 10000);
    FAIL_IF(rc != 0, "accel: no interrupt within 10 s (rc %d)", rc);
    FAIL_IF(vectors & 0x2, "accel: error interrupt");
    wr64(d, kAccIrqAck, vectors);
    const uint64_t head = rd64(d, kAccSqHead);
    FAIL_IF(ferry_last_error(d) != 0, "accel: SQ_HEAD read error %d", ferry_last_error(d));
    if (head == a.tail) break;
    FAIL_IF(waits > 1000, "accel: head %llu never reached tail %u", (unsigned long long)head,
            a.tail);
  }
  FAIL_IF(ferry_dma_sync_for_cpu(d, a.cq_dma, kRing * 32) != 0, "accel: sync CQ");
  FAIL_IF(ferry_dma_sync_for_cpu(d, out_dma, size_t(n) * len) != 0, "accel: sync output back");
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t *c = a.cq + size_t((first + i) % kRing) * 32;
    const uint64_t seq = a.completed + i + 1;
    const uint8_t *src = in + size_t(i) * len;
    FAIL_IF(get_le(c, 4) != 0, "accel item %u: status %llu", i, (unsigned long long)get_le(c, 4));
    FAIL_IF(get_le(c + 4, 4) != crc32c(src, len), "accel item %u: CRC", i);
    FAIL_IF(get_le(c + 8, 4) != len, "accel item %u: length", i);
    FAIL_IF(get_le(c + 16, 8) != seq, "accel item %u: cookie", i);
    FAIL_IF(get_le(c + 24, 8) != seq, "accel item %u: sequence %llu, want %llu", i,
            (unsigned long long)get_le(c + 24, 8), (unsigned long long)seq);
    FAIL_IF(std::memcmp(src, out + size_t(i) * len, len) != 0, "accel item %u: copy differs", i);
  }
  a.completed += n;
  const uint64_t dev_completed = rd64(d, kAccCompleted);  // the device's own count
  FAIL_IF(dev_completed != a.completed, "accel: COMPLETED %llu, want %llu",
          (unsigned long long)dev_completed, (unsigned long long)a.completed);
  return true;
}

bool accel_run(ferry_dev *d, uint64_t ops, int big) {
  Accel a{d, nullptr, nullptr, 0, 0};
  a.sq = static_cast<uint8_t *>(ferry_dma_alloc(d, kRing * 32, &a.sq_dma));
  a.cq = static_cast<uint8_t *>(ferry_dma_alloc(d, kRing * 32, &a.cq_dma));
  uint64_t in_dma = 0, out_dma = 0;
  auto *in = static_cast<uint8_t *>(ferry_dma_alloc(d, kBatch * kItem, &in_dma));
  auto *out = static_cast<uint8_t *>(ferry_dma_alloc(d, kBatch * kItem, &out_dma));
  FAIL_IF(!a.sq || !a.cq || !in || !out, "accel: DMA alloc");
  wr64(d, kAccSqBase, a.sq_dma);
  wr64(d, kAccCqBase, a.cq_dma);
  wr64(d, kAccRingSize, kRing);
  wr64(d, kAccDescSize, 32);
  wr64(d, kAccCtrl, 1);
  const uint64_t st = rd64(d, kAccStatus);
  FAIL_IF((st & 0x4) != 0 || ferry_last_error(d) != 0, "accel halted on its configuration");
  uint64_t seed = 0xa5a5a5a55a5a5a5aull;
  while (t_ops < ops) {
    if (!accel_batch(a, in, in_dma, out, out_dma, kBatch, kItem, seed)) return false;
  }
  ferry_dma_free(d, in, kBatch * kItem);
  ferry_dma_free(d, out, kBatch * kItem);
  for (int b = 0; b < big; ++b) {  // one 1 MiB descriptor: 1 MiB in, CRC, 1 MiB out
    const uint32_t len = 1u << 20;
    auto *bin = static_cast<uint8_t *>(ferry_dma_alloc(d, len, &in_dma));
    auto *bout = static_cast<uint8_t *>(ferry_dma_alloc(d, len, &out_dma));
    FAIL_IF(!bin || !bout, "accel: 1 MiB DMA alloc");
    const bool ok = accel_batch(a, bin, in_dma, bout, out_dma, 1, len, seed);
    ferry_dma_free(d, bin, len);
    ferry_dma_free(d, bout, len);
    if (!ok) return false;
  }
  wr64(d, kAccCtrl, 0);
  ferry_dma_free(d, a.sq, kRing * 32);
  ferry_dma_free(d, a.cq, kRing * 32);
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s OPS BIG {edu|accel}:GUEST.yaml ...\n", argv[0]);
    return 2;
  }
  const uint64_t ops = std::strtoull(argv[1], nullptr, 0);
  const int big = std::atoi(argv[2]);
  struct Dev {
    bool edu;
    ferry_dev *d;
    bool ok = false;
    long long ms = 0;
  };
  std::vector<Dev> devs;
  bool opened = true;
  for (int i = 3; i < argc && opened; ++i) {
    const std::string a = argv[i];
    const bool edu = a.rfind("edu:", 0) == 0;
    if (!edu && a.rfind("accel:", 0) != 0) {
      std::fprintf(stderr, "workload: '%s' is not edu:CONFIG or accel:CONFIG\n", argv[i]);
      opened = false;
      break;
    }
    const std::string cfg = a.substr(a.find(':') + 1);
    ferry_dev *d = ferry_open(cfg.c_str());
    if (d == nullptr) {
      std::fprintf(stderr, "workload: open %s: %s\n", cfg.c_str(), ferry_open_error());
      opened = false;
      break;
    }
    devs.push_back({edu, d});
  }
  if (!opened || devs.empty()) {
    for (Dev &v : devs) ferry_close(v.d);
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  uint64_t weights = 0;
  for (const Dev &v : devs) weights += v.edu ? kEduWeight : 1;
  bool first_edu = true, first_accel = true;
  for (Dev &v : devs) {
    // The 1 MiB transfers run on the first device of each kind.
    const int b = (v.edu ? first_edu : first_accel) ? big : 0;
    (v.edu ? first_edu : first_accel) = false;
    const uint64_t share = ops * (v.edu ? kEduWeight : 1) / weights;
    threads.emplace_back([&v, b, t0, share] {
      v.ok = v.edu ? edu_run(v.d, share, b) : accel_run(v.d, share, b);
      v.ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - t0)
                 .count();
    });
  }
  for (auto &t : threads) t.join();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  bool ok = true;
  std::string per_device;
  for (Dev &v : devs) {
    ok = ok && v.ok;
    per_device += std::string(" ") + (v.edu ? "edu" : "accel") + "_ms=" + std::to_string(v.ms);
    ferry_close(v.d);
  }
  const uint64_t total = g_reads + g_writes + g_descriptors + g_dma;
  std::printf(
      "result ops=%llu reads=%llu writes=%llu descriptors=%llu dma_transfers=%llu "
      "dma_bytes=%llu failures=%llu ms=%lld%s\n",
      (unsigned long long)total, (unsigned long long)g_reads.load(),
      (unsigned long long)g_writes.load(), (unsigned long long)g_descriptors.load(),
      (unsigned long long)g_dma.load(), (unsigned long long)g_dma_bytes.load(),
      (unsigned long long)g_failures.load(), static_cast<long long>(ms), per_device.c_str());
  std::fflush(stdout);
  return ok && g_failures == 0 ? 0 : 1;
}
