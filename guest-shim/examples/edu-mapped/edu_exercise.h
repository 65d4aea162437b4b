/* One pass over everything the edu device does, through a BAR0 pointer: the registers by
 * plain loads and stores (edu_hw.c), interrupts and DMA buffers through the ferry API (where a
 * CPU-attached driver would use UIO's interrupt file and its platform's DMA mapping). */
#ifndef FERRY_EXAMPLES_EDU_EXERCISE_H
#define FERRY_EXAMPLES_EDU_EXERCISE_H

#include <stdint.h>
#include <stdio.h>

#include "ferry/guest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Identification, liveness, factorial, interrupt raise/ack, and a DMA round trip of
 * `dma_len` bytes (at most the device's 4096-byte buffer). Logs one line per step to `log`
 * (may be NULL). Returns 0, or the first failing step's -errno. */
int edu_exercise(ferry_dev *dev, volatile uint8_t *bar0, size_t dma_len, FILE *log);

#ifdef __cplusplus
}
#endif

#endif /* FERRY_EXAMPLES_EDU_EXERCISE_H */
