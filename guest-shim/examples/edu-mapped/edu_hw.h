/* The edu driver core: plain volatile loads and stores to BAR0, exactly as a driver for a
 * CPU-attached edu device (QEMU docs/specs/edu.rst) mapped through UIO or VFIO writes them.
 * It does not know whether BAR0 is real MMIO or a ferry_map_bar() range whose accesses are
 * trapped, sealed and forwarded to a network-attached device: that is the point. */
#ifndef FERRY_EXAMPLES_EDU_HW_H
#define FERRY_EXAMPLES_EDU_HW_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  EDU_REG_ID = 0x00,        /* RO 0x010000ed */
  EDU_REG_LIVENESS = 0x04,  /* reads back the inverse of what was written */
  EDU_REG_FACTORIAL = 0x08, /* write n: computes n!; read: the result */
  EDU_REG_STATUS = 0x20,    /* 0x01 computing, 0x80 interrupt when the factorial is done */
  EDU_REG_IRQ_STATUS = 0x24,
  EDU_REG_IRQ_RAISE = 0x60,
  EDU_REG_IRQ_ACK = 0x64,
  EDU_REG_DMA_SRC = 0x80, /* 64-bit registers from here on */
  EDU_REG_DMA_DST = 0x88,
  EDU_REG_DMA_COUNT = 0x90,
  EDU_REG_DMA_CMD = 0x98,
};
#define EDU_ID 0x010000edu
#define EDU_STATUS_COMPUTING 0x01u
#define EDU_DMA_START 0x1u
#define EDU_DMA_TO_RAM 0x2u
#define EDU_DMA_IRQ 0x4u
#define EDU_DMA_BUFFER 0x40000u /* the device's own buffer, as a DMA address */

/* 0 if BAR0 answers with the edu identification, else -ENODEV. */
int edu_check_id(volatile uint8_t *bar0);
/* 0 if the liveness register inverts a few patterns, else -EIO. */
int edu_check_liveness(volatile uint8_t *bar0);
/* Computes n! on the device; polls the status register at most max_polls times.
 * 0 with *result set, or -ETIMEDOUT. */
int edu_factorial(volatile uint8_t *bar0, uint32_t n, unsigned max_polls, uint32_t *result);
/* Raises interrupt bits, reads the interrupt status, acknowledges them again. */
void edu_raise_irq(volatile uint8_t *bar0, uint32_t bits);
uint32_t edu_irq_status(volatile uint8_t *bar0);
void edu_ack_irq(volatile uint8_t *bar0, uint32_t bits);
/* Programs one DMA transfer between `ram` (a DMA address) and the device buffer at `dev_off`
 * and polls until it is done: 0, or -ETIMEDOUT after max_polls. */
int edu_dma(volatile uint8_t *bar0, uint64_t ram, uint64_t dev_off, uint64_t count, int to_ram,
            unsigned max_polls);

#ifdef __cplusplus
}
#endif

#endif /* FERRY_EXAMPLES_EDU_HW_H */
