/* A user-space driver for ferry's "accel" model (device-node/include/ferry/device/accel.h),
 * written only against ferry/guest.h: rings in DMA memory, a doorbell register, completion
 * records, coalesced interrupts. Each work item is CRC32C of an input buffer plus a copy of it
 * to an output buffer; the driver checks every CRC, every copied byte and every completion.
 *
 *   ferry-accel-example GUEST_CONFIG.yaml    exits 0 when every check passed (--help,
 *                                            --version, exit 2 on a bad command line)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "example_cli.h"
#include "ferry/guest.h"

#define ACC_BAR 0
#define ACC_ID 0x00
#define ACC_VERSION 0x08
#define ACC_SCRATCH 0x10
#define ACC_CTRL 0x18
#define ACC_STATUS 0x20
#define ACC_SQ_BASE 0x28
#define ACC_CQ_BASE 0x30
#define ACC_RING_SIZE 0x38
#define ACC_DESC_SIZE 0x40
#define ACC_SQ_TAIL 0x48
#define ACC_SQ_HEAD 0x50
#define ACC_IRQ_COUNT 0x58
#define ACC_IRQ_STATUS 0x68
#define ACC_IRQ_ACK 0x70
#define ACC_COMPLETED 0x78

#define ACC_ID_VALUE 0x4343415952524546ull /* "FERRYACC" */
#define ACC_CTRL_ENABLE 0x1
#define ACC_STATUS_HALTED 0x4
#define ACC_IRQ_COMPLETION 0x1
#define ACC_OP_CRC_COPY 1

#define RING 8
#define DESC 32
#define COMPLETION 32
#define MAX_ITEMS 6
#define IRQ_TIMEOUT_MS 2000

static int failures;

#define CHECK(dev, cond, ...)                                                           \
  do {                                                                                  \
    int err_ = ferry_last_error(dev);                                                   \
    if (!(cond) || err_ != 0) {                                                         \
      fprintf(stderr, "accel: FAILED %s:%d: ", __FILE__, __LINE__);                     \
      fprintf(stderr, __VA_ARGS__);                                                     \
      fprintf(stderr, " (last error %d: %s)\n", err_, err_ ? strerror(-err_) : "none"); \
      ++failures;                                                                       \
      return -1;                                                                        \
    }                                                                                   \
  } while (0)

static uint32_t crc32c(const uint8_t *p, size_t n) {
  uint32_t crc = 0xffffffffu;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static void put_le(uint8_t *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_le(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

struct item {
  uint8_t *in, *out;
  uint64_t in_dma, out_dma;
  uint32_t len;
};

struct rings {
  uint8_t *sq, *cq;
  uint64_t sq_dma, cq_dma;
  uint32_t tail;      /* next free SQ slot */
  uint64_t completed; /* completions checked so far */
};

static int identify(ferry_dev *dev) {
  uint64_t id = ferry_ioread64(dev, ACC_BAR, ACC_ID);
  CHECK(dev, id == ACC_ID_VALUE, "id 0x%016llx is not the accel device", (unsigned long long)id);
  uint64_t version = ferry_ioread64(dev, ACC_BAR, ACC_VERSION);
  printf("accel: id FERRYACC, version %llu.%llu\n", (unsigned long long)(version >> 16),
         (unsigned long long)(version & 0xffff));
  ferry_iowrite64(dev, ACC_BAR, ACC_SCRATCH, 0x5ca1ab1e0ddba11ull);
  uint64_t s = ferry_ioread64(dev, ACC_BAR, ACC_SCRATCH);
  CHECK(dev, s == 0x5ca1ab1e0ddba11ull, "scratch read back 0x%llx", (unsigned long long)s);
  return 0;
}

static int setup(ferry_dev *dev, struct rings *r) {
  r->sq = ferry_dma_alloc(dev, RING * DESC, &r->sq_dma);
  CHECK(dev, r->sq != NULL, "allocating the submission ring");
  r->cq = ferry_dma_alloc(dev, RING * COMPLETION, &r->cq_dma);
  CHECK(dev, r->cq != NULL, "allocating the completion ring");
  r->tail = 0;
  r->completed = 0;
  ferry_iowrite64(dev, ACC_BAR, ACC_SQ_BASE, r->sq_dma);
  ferry_iowrite64(dev, ACC_BAR, ACC_CQ_BASE, r->cq_dma);
  ferry_iowrite64(dev, ACC_BAR, ACC_RING_SIZE, RING);
  ferry_iowrite64(dev, ACC_BAR, ACC_DESC_SIZE, DESC);
  ferry_iowrite64(dev, ACC_BAR, ACC_CTRL, ACC_CTRL_ENABLE);
  uint64_t st = ferry_ioread64(dev, ACC_BAR, ACC_STATUS);
  CHECK(dev, (st & ACC_STATUS_HALTED) == 0, "device halted on its configuration");
  return 0;
}

/* Submits n items with one doorbell, waits for them by interrupt, checks every result. */
static int run_batch(ferry_dev *dev, struct rings *r, struct item *items, int n,
                     uint64_t irq_count) {
  ferry_iowrite64(dev, ACC_BAR, ACC_IRQ_COUNT, irq_count);
  uint32_t first = r->tail;
  for (int i = 0; i < n; ++i) {
    struct item *it = &items[i];
    for (uint32_t k = 0; k < it->len; ++k) it->in[k] = (uint8_t)(k * 13 + it->len + i);
    memset(it->out, 0, it->len);
    CHECK(dev, ferry_dma_sync_for_device(dev, it->in_dma, it->len) == 0, "syncing input %d", i);
    uint8_t *d = r->sq + (size_t)r->tail * DESC;
    memset(d, 0, DESC);
    d[0] = ACC_OP_CRC_COPY;
    put_le(d + 4, it->len, 4);
    put_le(d + 8, it->in_dma, 8);
    put_le(d + 16, it->out_dma, 8);
    put_le(d + 24, 0xc00c1e000ull + r->completed + (uint64_t)i, 8);
    r->tail = (r->tail + 1) % RING;
  }
  CHECK(dev, ferry_dma_sync_for_device(dev, r->sq_dma, RING * DESC) == 0, "syncing the ring");
  ferry_iowrite64(dev, ACC_BAR, ACC_SQ_TAIL, r->tail); /* doorbell */

  uint64_t head = ferry_ioread64(dev, ACC_BAR, ACC_SQ_HEAD);
  int interrupts = 0;
  while (head != r->tail) {
    uint32_t vectors = 0;
    int rc = ferry_wait_irq(dev, &vectors, IRQ_TIMEOUT_MS);
    CHECK(dev, rc == 0 && (vectors & ACC_IRQ_COMPLETION), "no completion interrupt (rc %d)", rc);
    ++interrupts;
    ferry_iowrite64(dev, ACC_BAR, ACC_IRQ_ACK, ACC_IRQ_COMPLETION);
    head = ferry_ioread64(dev, ACC_BAR, ACC_SQ_HEAD);
  }

  CHECK(dev, ferry_dma_sync_for_cpu(dev, r->cq_dma, RING * COMPLETION) == 0, "syncing the CQ");
  for (int i = 0; i < n; ++i) {
    struct item *it = &items[i];
    uint32_t slot = (first + (uint32_t)i) % RING;
    const uint8_t *c = r->cq + (size_t)slot * COMPLETION;
    uint64_t seq = r->completed + (uint64_t)i + 1;
    uint32_t phase = (uint32_t)(((seq - 1) / RING) % 2 == 0);
    CHECK(dev, ferry_dma_sync_for_cpu(dev, it->out_dma, it->len) == 0, "syncing output %d", i);
    CHECK(dev, get_le(c, 4) == 0, "item %d: status %llu", i, (unsigned long long)get_le(c, 4));
    CHECK(dev, get_le(c + 4, 4) == crc32c(it->in, it->len), "item %d: CRC 0x%08llx, want 0x%08x", i,
          (unsigned long long)get_le(c + 4, 4), crc32c(it->in, it->len));
    CHECK(dev, get_le(c + 8, 4) == it->len, "item %d: length", i);
    CHECK(dev, get_le(c + 12, 4) == phase, "item %d: phase bit", i);
    CHECK(dev, get_le(c + 16, 8) == 0xc00c1e000ull + r->completed + (uint64_t)i, "item %d: cookie",
          i);
    CHECK(dev, get_le(c + 24, 8) == seq, "item %d: sequence", i);
    CHECK(dev, memcmp(it->in, it->out, it->len) == 0, "item %d: copied bytes differ", i);
  }
  r->completed += (uint64_t)n;
  uint64_t done = ferry_ioread64(dev, ACC_BAR, ACC_COMPLETED);
  CHECK(dev, done == r->completed, "COMPLETED %llu, want %llu", (unsigned long long)done,
        (unsigned long long)r->completed);
  printf("accel: %d items verified (%d interrupts, coalescing %llu)\n", n, interrupts,
         (unsigned long long)irq_count);
  return 0;
}

static int run(ferry_dev *dev) {
  static const uint32_t sizes[MAX_ITEMS] = {1, 100, 4096, 5000, 20000, 65536};
  struct item items[MAX_ITEMS];
  struct rings r;
  if (identify(dev) != 0 || setup(dev, &r) != 0) return -1;
  for (int i = 0; i < MAX_ITEMS; ++i) {
    items[i].len = sizes[i];
    items[i].in = ferry_dma_alloc(dev, sizes[i], &items[i].in_dma);
    CHECK(dev, items[i].in != NULL, "allocating input %d", i);
    items[i].out = ferry_dma_alloc(dev, sizes[i], &items[i].out_dma);
    CHECK(dev, items[i].out != NULL, "allocating output %d", i);
  }
  /* An interrupt per completion, then a batch that wraps the ring with coalescing. */
  if (run_batch(dev, &r, items, 5, 0) != 0) return -1;
  if (run_batch(dev, &r, items, MAX_ITEMS, MAX_ITEMS) != 0) return -1;
  for (int i = 0; i < MAX_ITEMS; ++i) {
    ferry_dma_free(dev, items[i].in, items[i].len);
    ferry_dma_free(dev, items[i].out, items[i].len);
  }
  ferry_iowrite64(dev, ACC_BAR, ACC_CTRL, 0);
  ferry_dma_free(dev, r.sq, RING * DESC);
  ferry_dma_free(dev, r.cq, RING * COMPLETION);
  return 0;
}

int main(int argc, char **argv) {
  const char *config = example_config_path(
      argc, argv,
      "Drives ferry's accel model through the guest C API: CRC32C + copy jobs on rings in DMA\n"
      "memory, every result checked.");
  ferry_dev *dev = ferry_open(config);
  if (dev == NULL) {
    fprintf(stderr, "accel: ferry_open: %s\n", ferry_open_error());
    return 1;
  }
  (void)run(dev);
  ferry_close(dev);
  if (failures != 0) return 1;
  printf("accel: all checks passed\n");
  return 0;
}
