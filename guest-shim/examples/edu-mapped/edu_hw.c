/* The edu driver core (edu_hw.h): nothing here but pointer accesses to BAR0. */
#include "edu_hw.h"

#include <errno.h>
#include <sched.h>

static uint32_t rd32(volatile uint8_t *bar0, unsigned off) {
  return *(volatile uint32_t *)(bar0 + off);
}
static void wr32(volatile uint8_t *bar0, unsigned off, uint32_t v) {
  *(volatile uint32_t *)(bar0 + off) = v;
}
static uint64_t rd64(volatile uint8_t *bar0, unsigned off) {
  return *(volatile uint64_t *)(bar0 + off);
}
static void wr64(volatile uint8_t *bar0, unsigned off, uint64_t v) {
  *(volatile uint64_t *)(bar0 + off) = v;
}

int edu_check_id(volatile uint8_t *bar0) {
  return rd32(bar0, EDU_REG_ID) == EDU_ID ? 0 : -ENODEV;
}

int edu_check_liveness(volatile uint8_t *bar0) {
  static const uint32_t patterns[] = {0, 1, 0x12345678, 0xffffffff};
  for (unsigned i = 0; i < sizeof patterns / sizeof patterns[0]; ++i) {
    wr32(bar0, EDU_REG_LIVENESS, patterns[i]);
    if (rd32(bar0, EDU_REG_LIVENESS) != ~patterns[i]) return -EIO;
  }
  return 0;
}

int edu_factorial(volatile uint8_t *bar0, uint32_t n, unsigned max_polls, uint32_t *result) {
  wr32(bar0, EDU_REG_FACTORIAL, n);
  for (unsigned i = 0; i < max_polls; ++i) {
    if ((rd32(bar0, EDU_REG_STATUS) & EDU_STATUS_COMPUTING) == 0) {
      *result = rd32(bar0, EDU_REG_FACTORIAL);
      return 0;
    }
    sched_yield();
  }
  return -ETIMEDOUT;
}

void edu_raise_irq(volatile uint8_t *bar0, uint32_t bits) {
  wr32(bar0, EDU_REG_IRQ_RAISE, bits);
}

uint32_t edu_irq_status(volatile uint8_t *bar0) {
  return rd32(bar0, EDU_REG_IRQ_STATUS);
}

void edu_ack_irq(volatile uint8_t *bar0, uint32_t bits) {
  wr32(bar0, EDU_REG_IRQ_ACK, bits);
}

int edu_dma(volatile uint8_t *bar0, uint64_t ram, uint64_t dev_off, uint64_t count, int to_ram,
            unsigned max_polls) {
  const uint64_t dev = EDU_DMA_BUFFER + dev_off;
  wr64(bar0, EDU_REG_DMA_SRC, to_ram ? dev : ram);
  wr64(bar0, EDU_REG_DMA_DST, to_ram ? ram : dev);
  wr64(bar0, EDU_REG_DMA_COUNT, count);
  wr64(bar0, EDU_REG_DMA_CMD, EDU_DMA_START | (to_ram ? EDU_DMA_TO_RAM : 0));
  for (unsigned i = 0; i < max_polls; ++i) {
    if ((rd64(bar0, EDU_REG_DMA_CMD) & EDU_DMA_START) == 0) return 0;
    sched_yield();
  }
  return -ETIMEDOUT;
}
