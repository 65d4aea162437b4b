/* A user-space driver for QEMU's edu device, written only against ferry/guest.h the way a
 * Linux edu driver is written against ioread32/iowrite32 and the DMA API. It checks the
 * identification, the liveness register, factorials by polling and by interrupt, interrupt
 * raise and acknowledge, and DMA to and from the device buffer with the data verified.
 *
 *   ferry-edu-example GUEST_CONFIG.yaml      exits 0 when every check passed (--help,
 *                                            --version, exit 2 on a bad command line)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_cli.h"
#include "ferry/guest.h"

#define EDU_BAR 0
#define EDU_ID 0x00
#define EDU_LIVENESS 0x04
#define EDU_FACTORIAL 0x08
#define EDU_STATUS 0x20
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98

#define EDU_STATUS_COMPUTING 0x01
#define EDU_STATUS_IRQ_FACT 0x80
#define EDU_DMA_START 0x1
#define EDU_DMA_TO_RAM 0x2
#define EDU_DMA_IRQ 0x4
#define EDU_IRQ_FACT 0x001
#define EDU_IRQ_DMA 0x100
#define EDU_BUFFER 0x40000
#define EDU_DMA_LEN 4096

#define POLL_LIMIT 100000
#define IRQ_TIMEOUT_MS 2000

static int failures;

#define CHECK(dev, cond, ...)                                                           \
  do {                                                                                  \
    int err_ = ferry_last_error(dev);                                                   \
    if (!(cond) || err_ != 0) {                                                         \
      fprintf(stderr, "edu: FAILED %s:%d: ", __FILE__, __LINE__);                       \
      fprintf(stderr, __VA_ARGS__);                                                     \
      fprintf(stderr, " (last error %d: %s)\n", err_, err_ ? strerror(-err_) : "none"); \
      ++failures;                                                                       \
      return -1;                                                                        \
    }                                                                                   \
  } while (0)

static uint64_t factorial(uint32_t n) {
  uint32_t r = 1; /* the device computes in 32 bits */
  while (n > 1) r *= n--;
  return r;
}

static int check_identity(ferry_dev *dev) {
  uint32_t id = ferry_ioread32(dev, EDU_BAR, EDU_ID);
  CHECK(dev, (id & 0xff) == 0xed, "identification 0x%08x is not an edu device", id);
  printf("edu: id 0x%08x (version %u.%u)\n", id, id >> 24, (id >> 16) & 0xff);
  for (uint32_t v = 1; v != 0; v <<= 7) {
    ferry_iowrite32(dev, EDU_BAR, EDU_LIVENESS, v);
    uint32_t back = ferry_ioread32(dev, EDU_BAR, EDU_LIVENESS);
    CHECK(dev, back == ~v, "liveness: wrote 0x%08x, read 0x%08x", v, back);
  }
  return 0;
}

static int wait_not_computing(ferry_dev *dev) {
  for (int i = 0; i < POLL_LIMIT; ++i) {
    uint32_t st = ferry_ioread32(dev, EDU_BAR, EDU_STATUS);
    CHECK(dev, 1, "reading status");
    if ((st & EDU_STATUS_COMPUTING) == 0) return 0;
  }
  CHECK(dev, 0, "factorial never finished");
  return -1;
}

static int factorial_by_polling(ferry_dev *dev, uint32_t n) {
  ferry_iowrite32(dev, EDU_BAR, EDU_FACTORIAL, n);
  if (wait_not_computing(dev) != 0) return -1;
  uint32_t got = ferry_ioread32(dev, EDU_BAR, EDU_FACTORIAL);
  CHECK(dev, got == factorial(n), "%u! = %u, expected %lu", n, got, (unsigned long)factorial(n));
  return 0;
}

/* Acknowledges `vectors` and checks the interrupt status is clear of them afterwards. */
static int ack_irq(ferry_dev *dev, uint32_t vectors) {
  uint32_t st = ferry_ioread32(dev, EDU_BAR, EDU_IRQ_STATUS);
  CHECK(dev, (st & vectors) == vectors, "interrupt status 0x%x lacks 0x%x", st, vectors);
  ferry_iowrite32(dev, EDU_BAR, EDU_IRQ_ACK, vectors);
  st = ferry_ioread32(dev, EDU_BAR, EDU_IRQ_STATUS);
  CHECK(dev, (st & vectors) == 0, "interrupt status 0x%x after acknowledging 0x%x", st, vectors);
  return 0;
}

static int wait_vector(ferry_dev *dev, uint32_t vector) {
  uint32_t got = 0;
  int rc = ferry_wait_irq(dev, &got, IRQ_TIMEOUT_MS);
  CHECK(dev, rc == 0 && (got & vector) == vector, "waiting for interrupt 0x%x: rc %d, got 0x%x",
        vector, rc, got);
  return ack_irq(dev, vector);
}

static int factorial_by_interrupt(ferry_dev *dev, uint32_t n) {
  ferry_iowrite32(dev, EDU_BAR, EDU_STATUS, EDU_STATUS_IRQ_FACT);
  ferry_iowrite32(dev, EDU_BAR, EDU_FACTORIAL, n);
  if (wait_vector(dev, EDU_IRQ_FACT) != 0) return -1;
  uint32_t got = ferry_ioread32(dev, EDU_BAR, EDU_FACTORIAL);
  CHECK(dev, got == factorial(n), "%u! = %u by interrupt", n, got);
  ferry_iowrite32(dev, EDU_BAR, EDU_STATUS, 0);
  return 0;
}

static int raise_and_ack(ferry_dev *dev) {
  ferry_iowrite32(dev, EDU_BAR, EDU_IRQ_RAISE, 0x1000);
  return wait_vector(dev, 0x1000);
}

/* One DMA transfer, completion by interrupt. */
static int edu_dma(ferry_dev *dev, uint64_t src, uint64_t dst, uint64_t len, uint64_t dir) {
  ferry_iowrite64(dev, EDU_BAR, EDU_DMA_SRC, src);
  ferry_iowrite64(dev, EDU_BAR, EDU_DMA_DST, dst);
  ferry_iowrite64(dev, EDU_BAR, EDU_DMA_COUNT, len);
  ferry_iowrite64(dev, EDU_BAR, EDU_DMA_CMD, EDU_DMA_START | EDU_DMA_IRQ | dir);
  if (wait_vector(dev, EDU_IRQ_DMA) != 0) return -1;
  uint64_t cmd = ferry_ioread64(dev, EDU_BAR, EDU_DMA_CMD);
  CHECK(dev, (cmd & EDU_DMA_START) == 0, "DMA still running after its interrupt");
  return 0;
}

static int dma_round_trip(ferry_dev *dev) {
  uint64_t to_dev = 0, from_dev = 0;
  uint8_t *out = ferry_dma_alloc(dev, EDU_DMA_LEN, &to_dev);
  CHECK(dev, out != NULL, "allocating the outgoing DMA buffer");
  uint8_t *in = ferry_dma_alloc(dev, EDU_DMA_LEN, &from_dev);
  CHECK(dev, in != NULL, "allocating the incoming DMA buffer");
  for (size_t i = 0; i < EDU_DMA_LEN; ++i) out[i] = (uint8_t)(i * 31 + 7);

  int rc = ferry_dma_sync_for_device(dev, to_dev, EDU_DMA_LEN);
  CHECK(dev, rc == 0, "sync_for_device");
  if (edu_dma(dev, to_dev, EDU_BUFFER, EDU_DMA_LEN, 0) != 0) return -1;
  if (edu_dma(dev, EDU_BUFFER, from_dev, EDU_DMA_LEN, EDU_DMA_TO_RAM) != 0) return -1;
  rc = ferry_dma_sync_for_cpu(dev, from_dev, EDU_DMA_LEN);
  CHECK(dev, rc == 0, "sync_for_cpu");
  CHECK(dev, memcmp(in, out, EDU_DMA_LEN) == 0, "DMA data came back different");
  printf("edu: DMA %d bytes to the device and back, verified\n", EDU_DMA_LEN);
  ferry_dma_free(dev, out, EDU_DMA_LEN);
  ferry_dma_free(dev, in, EDU_DMA_LEN);
  return 0;
}

int main(int argc, char **argv) {
  const char *config = example_config_path(
      argc, argv,
      "Drives QEMU's edu device model through the guest C API: identification, liveness,\n"
      "factorials by polling and interrupt, DMA both ways, every result checked.");
  ferry_dev *dev = ferry_open(config);
  if (dev == NULL) {
    fprintf(stderr, "edu: ferry_open: %s\n", ferry_open_error());
    return 1;
  }
  (void)(check_identity(dev) == 0 && factorial_by_polling(dev, 5) == 0 &&
         factorial_by_polling(dev, 12) == 0 && factorial_by_interrupt(dev, 10) == 0 &&
         raise_and_ack(dev) == 0 && dma_round_trip(dev) == 0);
  ferry_close(dev);
  if (failures != 0) return 1;
  printf("edu: all checks passed\n");
  return 0;
}
