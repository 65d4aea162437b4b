/* edu_exercise(): see edu_exercise.h. */
#include "edu_exercise.h"

#include <errno.h>
#include <string.h>

#include "edu_hw.h"

enum { kMaxPolls = 200000, kIrqTimeoutMs = 5000 };

static int step(FILE *log, const char *what, int rc) {
  if (log != NULL) fprintf(log, "edu: %-40s %s\n", what, rc == 0 ? "ok" : strerror(-rc));
  return rc;
}

static int check_irq(ferry_dev *dev, volatile uint8_t *bar0) {
  const uint32_t bits = 0x40;
  edu_raise_irq(bar0, bits);
  uint32_t vectors = 0;
  int rc = ferry_wait_irq(dev, &vectors, kIrqTimeoutMs);
  if (rc != 0) return rc;
  if ((vectors & bits) == 0 || (edu_irq_status(bar0) & bits) == 0) return -EIO;
  edu_ack_irq(bar0, bits);
  return edu_irq_status(bar0) & bits ? -EIO : 0;
}

static int check_dma(ferry_dev *dev, volatile uint8_t *bar0, size_t len) {
  uint64_t out_dma = 0, in_dma = 0;
  uint8_t *out = ferry_dma_alloc(dev, len, &out_dma);
  uint8_t *in = ferry_dma_alloc(dev, len, &in_dma);
  int rc = (out == NULL || in == NULL) ? -ENOMEM : 0;
  if (rc == 0) {
    for (size_t i = 0; i < len; ++i) out[i] = (uint8_t)(i * 7 + 3);
    rc = ferry_dma_sync_for_device(dev, out_dma, len);
  }
  if (rc == 0) rc = edu_dma(bar0, out_dma, 0, len, 0, kMaxPolls); /* RAM -> device */
  if (rc == 0) rc = edu_dma(bar0, in_dma, 0, len, 1, kMaxPolls);  /* device -> RAM */
  if (rc == 0) rc = ferry_dma_sync_for_cpu(dev, in_dma, len);
  if (rc == 0 && memcmp(in, out, len) != 0) rc = -EIO;
  if (out != NULL) ferry_dma_free(dev, out, len);
  if (in != NULL) ferry_dma_free(dev, in, len);
  return rc;
}

int edu_exercise(ferry_dev *dev, volatile uint8_t *bar0, size_t dma_len, FILE *log) {
  int rc = step(log, "identification register", edu_check_id(bar0));
  if (rc == 0) rc = step(log, "liveness register", edu_check_liveness(bar0));
  if (rc == 0) {
    uint32_t result = 0;
    rc = edu_factorial(bar0, 10, kMaxPolls, &result);
    if (rc == 0 && result != 3628800) rc = -EIO;
    rc = step(log, "factorial of 10", rc);
  }
  if (rc == 0) rc = step(log, "interrupt raise, wait, acknowledge", check_irq(dev, bar0));
  if (rc == 0 && dma_len > 0) rc = step(log, "DMA round trip", check_dma(dev, bar0, dma_len));
  return rc;
}
