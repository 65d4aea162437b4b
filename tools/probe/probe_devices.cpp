#include "probe_devices.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

namespace probe {
namespace {

constexpr uint32_t kEduId = 0x010000ed;
constexpr uint64_t kAccelId = 0x4343415952524546ull;  // "FERRYACC"
constexpr uint64_t kEduDmaSrc = 0x80, kEduDmaDst = 0x88, kEduDmaCount = 0x90, kEduDmaCmd = 0x98;
constexpr uint64_t kEduBuffer = 0x40000;
constexpr uint64_t kEduReadValue = 0x0123456789abcdefull & 0x0fffffffull;
constexpr uint64_t kPollLimit = 10'000'000;

uint8_t pattern(uint64_t i) {
  return static_cast<uint8_t>(i * 7 + 3);
}

int fail(ferry_dev *dev, const char *what) {
  std::fprintf(stderr, "ferry-probe: %s (last error %d)\n", what, ferry_last_error(dev));
  return -1;
}

uint64_t next_pow2(uint64_t v) {
  uint64_t p = 2;
  while (p < v) p <<= 1;
  return p;
}

uint32_t crc32c(const uint8_t *p, size_t n) {
  uint32_t crc = 0xffffffffu;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put_le(uint8_t *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get_le(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

}  // namespace

uint64_t Device::read_offset(uint64_t size) const {
  if (kind == Kind::kEdu) return size == 4 ? 0x00 : size == 8 ? kEduDmaSrc : kNoRegister;
  if (kind == Kind::kAccel && (size == 1 || size == 2 || size == 4 || size == 8)) return 0x00;
  return kNoRegister;
}

uint64_t Device::read_expect(uint64_t size) const {
  if (kind == Kind::kEdu) return size == 4 ? kEduId : kEduReadValue;
  return size == 8 ? kAccelId : kAccelId & ((1ull << (8 * size)) - 1);
}

uint64_t Device::scratch_offset() const {
  return kind == Kind::kEdu ? 0x04 : 0x10;
}

uint64_t Device::scratch_expect(uint64_t size, uint64_t last) const {
  if (kind == Kind::kEdu) return ~static_cast<uint32_t>(last) & 0xffffffffu;  // liveness inverts
  return size == 8 ? last : last & ((1ull << (8 * size)) - 1);
}

uint64_t read(ferry_dev *dev, uint64_t size, uint64_t off) {
  switch (size) {
    case 1:
      return ferry_ioread8(dev, 0, off);
    case 2:
      return ferry_ioread16(dev, 0, off);
    case 4:
      return ferry_ioread32(dev, 0, off);
    default:
      return ferry_ioread64(dev, 0, off);
  }
}

void write(ferry_dev *dev, uint64_t size, uint64_t off, uint64_t v) {
  switch (size) {
    case 1:
      ferry_iowrite8(dev, 0, off, static_cast<uint8_t>(v));
      break;
    case 2:
      ferry_iowrite16(dev, 0, off, static_cast<uint16_t>(v));
      break;
    case 4:
      ferry_iowrite32(dev, 0, off, static_cast<uint32_t>(v));
      break;
    default:
      ferry_iowrite64(dev, 0, off, v);
      break;
  }
}

Device identify(ferry_dev *dev) {
  Device d;
  if (ferry_ioread32(dev, 0, 0x00) == kEduId) {
    d.kind = Kind::kEdu;
    ferry_iowrite64(dev, 0, kEduDmaSrc, kEduReadValue);  // the 8-byte register probe reads
  } else if (ferry_ioread64(dev, 0, 0x00) == kAccelId) {
    d.kind = Kind::kAccel;
  }
  return d;
}

int edu_dma(ferry_dev *dev, uint64_t dma_addr, uint64_t len, bool to_device) {
  if (to_device && ferry_dma_sync_for_device(dev, dma_addr, len) != 0)
    return fail(dev, "sync_for_device");
  ferry_iowrite64(dev, 0, kEduDmaSrc, to_device ? dma_addr : kEduBuffer);
  ferry_iowrite64(dev, 0, kEduDmaDst, to_device ? kEduBuffer : dma_addr);
  ferry_iowrite64(dev, 0, kEduDmaCount, len);
  ferry_iowrite64(dev, 0, kEduDmaCmd, to_device ? 0x1 : 0x3);
  uint64_t i = 0;
  while ((ferry_ioread64(dev, 0, kEduDmaCmd) & 0x1) != 0) {
    if (ferry_last_error(dev) != 0 || ++i == kPollLimit) return fail(dev, "edu DMA did not finish");
  }
  if (ferry_last_error(dev) != 0) return fail(dev, "reading the DMA command register");
  if (!to_device && ferry_dma_sync_for_cpu(dev, dma_addr, len) != 0)
    return fail(dev, "sync_for_cpu");
  return 0;
}

int edu_fill_device(ferry_dev *dev, uint64_t len) {
  uint64_t addr = 0;
  auto *buf = static_cast<uint8_t *>(ferry_dma_alloc(dev, len, &addr));
  if (buf == nullptr) return fail(dev, "dma_alloc");
  for (uint64_t i = 0; i < len; ++i) buf[i] = pattern(i);
  int rc = edu_dma(dev, addr, len, true);
  ferry_dma_free(dev, buf, len);
  return rc;
}

int edu_check_from_device(ferry_dev *dev, const uint8_t *buf, uint64_t, uint64_t len) {
  for (uint64_t i = 0; i < len; ++i)
    if (buf[i] != pattern(i)) return fail(dev, "from-device data differs from the device buffer");
  return 0;
}

int edu_factorials(ferry_dev *dev, uint64_t n) {
  ferry_iowrite32(dev, 0, 0x20, 0x80);  // interrupt when a factorial finishes
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t k = static_cast<uint32_t>(i % 12 + 1), want = 1;
    for (uint32_t j = 2; j <= k; ++j) want *= j;
    ferry_iowrite32(dev, 0, 0x08, k);
    uint32_t vectors = 0;
    if (ferry_wait_irq(dev, &vectors, 2000) != 0 || (vectors & 0x1) == 0)
      return fail(dev, "no factorial interrupt");
    ferry_iowrite32(dev, 0, 0x64, 0x1);
    if (ferry_ioread32(dev, 0, 0x08) != want) return fail(dev, "wrong factorial");
  }
  ferry_iowrite32(dev, 0, 0x20, 0);
  return ferry_last_error(dev) == 0 ? 0 : fail(dev, "edu workload");
}

int accel_jobs(ferry_dev *dev, uint64_t jobs, uint32_t qd, uint64_t size, double &jobs_per_s) {
  const uint64_t ring = next_pow2(qd + 1);
  uint64_t sq_dma = 0, cq_dma = 0;
  auto *sq = static_cast<uint8_t *>(ferry_dma_alloc(dev, ring * 32, &sq_dma));
  auto *cq = static_cast<uint8_t *>(ferry_dma_alloc(dev, ring * 32, &cq_dma));
  std::vector<uint8_t *> in(qd), out(qd);
  std::vector<uint64_t> in_dma(qd), out_dma(qd);
  std::vector<uint32_t> crc(qd);
  if (sq == nullptr || cq == nullptr) return fail(dev, "dma_alloc of the rings");
  for (uint32_t i = 0; i < qd; ++i) {
    in[i] = static_cast<uint8_t *>(ferry_dma_alloc(dev, size, &in_dma[i]));
    out[i] = static_cast<uint8_t *>(ferry_dma_alloc(dev, size, &out_dma[i]));
    if (in[i] == nullptr || out[i] == nullptr) return fail(dev, "dma_alloc of the buffers");
    for (uint64_t k = 0; k < size; ++k) in[i][k] = static_cast<uint8_t>(k * 31 + i);
    crc[i] = crc32c(in[i], size);
    if (ferry_dma_sync_for_device(dev, in_dma[i], size) != 0) return fail(dev, "sync input");
  }
  ferry_iowrite64(dev, 0, 0x18, 0x2);  // reset
  ferry_iowrite64(dev, 0, 0x28, sq_dma);
  ferry_iowrite64(dev, 0, 0x30, cq_dma);
  ferry_iowrite64(dev, 0, 0x38, ring);
  ferry_iowrite64(dev, 0, 0x40, 32);
  ferry_iowrite64(dev, 0, 0x58, qd);  // one interrupt per batch
  ferry_iowrite64(dev, 0, 0x18, 0x1);
  if ((ferry_ioread64(dev, 0, 0x20) & 0x4) != 0) return fail(dev, "accel halted on its set-up");

  uint64_t tail = 0, done = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (done < jobs) {
    const uint32_t batch = static_cast<uint32_t>(std::min<uint64_t>(qd, jobs - done));
    const uint64_t first = tail;
    for (uint32_t i = 0; i < batch; ++i) {
      uint8_t *d = sq + (tail % ring) * 32;
      std::memset(d, 0, 32);
      d[0] = 1;  // CRC32C + copy
      put_le(d + 4, size, 4);
      put_le(d + 8, in_dma[i], 8);
      put_le(d + 16, out_dma[i], 8);
      put_le(d + 24, done + i, 8);
      ++tail;
    }
    if (ferry_dma_sync_for_device(dev, sq_dma, ring * 32) != 0) return fail(dev, "sync ring");
    ferry_iowrite64(dev, 0, 0x58, batch);
    ferry_iowrite64(dev, 0, 0x48, tail % ring);  // doorbell
    while (ferry_ioread64(dev, 0, 0x50) != tail % ring) {
      uint32_t vectors = 0;
      if (ferry_wait_irq(dev, &vectors, 2000) != 0) return fail(dev, "no completion interrupt");
      ferry_iowrite64(dev, 0, 0x70, vectors);
      if (vectors & 0x2) return fail(dev, "accel reported an error");
    }
    if (ferry_dma_sync_for_cpu(dev, cq_dma, ring * 32) != 0) return fail(dev, "sync CQ");
    for (uint32_t i = 0; i < batch; ++i) {
      const uint8_t *c = cq + ((first + i) % ring) * 32;
      if (get_le(c, 4) != 0 || get_le(c + 4, 4) != crc[i] || get_le(c + 16, 8) != done + i)
        return fail(dev, "wrong completion record");
      if (ferry_dma_sync_for_cpu(dev, out_dma[i], size) != 0) return fail(dev, "sync output");
      if (std::memcmp(in[i], out[i], size) != 0) return fail(dev, "copied bytes differ");
      std::memset(out[i], 0, size);
    }
    done += batch;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  jobs_per_s = done / secs;
  ferry_iowrite64(dev, 0, 0x18, 0);
  for (uint32_t i = 0; i < qd; ++i) {
    ferry_dma_free(dev, in[i], size);
    ferry_dma_free(dev, out[i], size);
  }
  ferry_dma_free(dev, sq, ring * 32);
  ferry_dma_free(dev, cq, ring * 32);
  return ferry_last_error(dev) == 0 ? 0 : fail(dev, "accel workload");
}

}  // namespace probe
