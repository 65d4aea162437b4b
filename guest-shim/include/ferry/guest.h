/* ferry guest shim: the C API a driver inside the confidential VM uses to reach its
 * network-attached device. Names follow the Linux driver API (ioread32, dma_sync_*), so a
 * driver written for a CPU-attached device ports by replacing its accessors.
 *
 * Every register access and DMA transfer is sealed (AES-GCM) in CVM-private memory before it
 * reaches the shared region, and every answer is authenticated before the driver sees it. A
 * failure never hands the driver unauthenticated data: a failed read returns all-ones (as a
 * PCIe read of an absent device does) and ferry_last_error() says why.
 *
 * Errors (negative errno values):
 *   -ETIMEDOUT  no answer within the configured mmio timeout (or the call's timeout)
 *   -EBADMSG    what came back did not authenticate, or the shared rings were corrupted
 *   -EIO        the device answered with an error status (refused access, failed DMA)
 *   -EPROTO     the session failed closed: something the guest sent never reached the
 *               device (a sequence gap), so nothing after it ran, or something the device
 *               sent never reached the guest (a completion, interrupt or DMA announcement
 *               withheld); every later call fails this way until the device is reopened
 *   -ENOTCONN   the data plane is gone (region no longer marked ready, heartbeat stopped, or
 *               restarted: the region reformatted with a new generation); close and reopen
 *               or the device lost the session
 *   -EINVAL     bad argument (BAR, range outside a mapping, unknown pointer, ...)
 *   -ENOMEM     the DMA window (or private memory or address space) is exhausted
 *   -ENOSPC     ferry_map_bar: the process already has the most trapped ranges it can hold
 *
 * Threads. Every function may be called from any thread, with these rules:
 *   - A ferry_dev has queues 0 .. queues-1 (config `queues`). Each thread issues its calls on
 *     one queue: the config's `queue` unless it called ferry_bind_queue(). Calls on one queue
 *     are serialised by that queue's lock; threads bound to different queues run in
 *     parallel. Register accesses on one queue are executed by the device in call order
 *     (a posted write is ordered before every later read on the same queue); there is no
 *     ordering between queues.
 *   - ferry_last_error() reports the calling thread's last call on that ferry_dev.
 *   - DMA mappings are shared by all queues (one lock); a buffer must not be synced and
 *     freed at the same time, and a sync_for_device must be on the queue that rings the
 *     doorbell (its announcement is ordered before later writes on that queue only).
 *   - ferry_close() must not run concurrently with any other call on the same ferry_dev, nor
 *     with an access to one of its mapped BARs.
 *   - ferry_open_error() is per thread.
 */
#ifndef FERRY_GUEST_H
#define FERRY_GUEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FERRY_API __attribute__((visibility("default")))
#else
#define FERRY_API
#endif

typedef struct ferry_dev ferry_dev;

/* Opens the device described by the guest YAML config at config_path: maps the shared region,
 * validates it, and runs the session handshake with the device node (within the config's
 * handshake_timeout_ms). Returns NULL on failure; ferry_open_error() then says why. */
FERRY_API ferry_dev *ferry_open(const char *config_path);
/* Why the calling thread's last ferry_open failed ("" if it did not). Valid until the next
 * ferry_open on this thread. */
FERRY_API const char *ferry_open_error(void);
/* Ends the session, unmaps the region and frees every DMA buffer still allocated. NULL is
 * ignored. */
FERRY_API void ferry_close(ferry_dev *dev);

/* Register reads: wait for the authenticated answer (config mmio_timeout_ms). On failure they
 * return all-ones and set the error. `off` is the byte offset inside BAR `bar` (0..5). */
FERRY_API uint8_t ferry_ioread8(ferry_dev *dev, unsigned bar, uint64_t off);
FERRY_API uint16_t ferry_ioread16(ferry_dev *dev, unsigned bar, uint64_t off);
FERRY_API uint32_t ferry_ioread32(ferry_dev *dev, unsigned bar, uint64_t off);
FERRY_API uint64_t ferry_ioread64(ferry_dev *dev, unsigned bar, uint64_t off);
/* Register writes are posted: they return once the sealed write is in the submission ring.
 * A full ring makes them wait (up to mmio_timeout_ms, then -ETIMEDOUT); nothing is dropped. */
FERRY_API void ferry_iowrite8(ferry_dev *dev, unsigned bar, uint64_t off, uint8_t v);
FERRY_API void ferry_iowrite16(ferry_dev *dev, unsigned bar, uint64_t off, uint16_t v);
FERRY_API void ferry_iowrite32(ferry_dev *dev, unsigned bar, uint64_t off, uint32_t v);
FERRY_API void ferry_iowrite64(ferry_dev *dev, unsigned bar, uint64_t off, uint64_t v);

/* Allocates len bytes of zeroed, page-aligned CVM-private memory for streaming DMA and the
 * device address (*dma_addr) the device uses for it. The device address is backed by
 * contiguous chunks of the shared DMA window; NULL with -ENOMEM when the window has no room
 * left. The buffer belongs to the caller until ferry_dma_free. */
FERRY_API void *ferry_dma_alloc(ferry_dev *dev, size_t len, uint64_t *dma_addr);
/* Frees a buffer from ferry_dma_alloc (same len); its window chunks can be reused. */
FERRY_API void ferry_dma_free(ferry_dev *dev, void *cpu_addr, size_t len);
/* Hands [dma_addr, dma_addr+len) to the device: seals every window chunk the range touches
 * (whole chunks) and announces their versions on the calling thread's queue, ordered before
 * that queue's next register write. 0 or -errno. */
FERRY_API int ferry_dma_sync_for_device(ferry_dev *dev, uint64_t dma_addr, size_t len);
/* Takes [dma_addr, dma_addr+len) back from the device: opens every chunk the device announced
 * as written and, only when all of them verify, copies the bytes the device wrote (inside the
 * range) into the buffer. On any failure nothing is copied. 0 or -errno. */
FERRY_API int ferry_dma_sync_for_cpu(ferry_dev *dev, uint64_t dma_addr, size_t len);

/* Waits up to timeout_ms (0: just check) for interrupts; on success stores the OR of the
 * vectors raised since the last call in *vectors and returns 0. -ETIMEDOUT when none came,
 * -EINVAL for a negative timeout or NULL vectors, -ENOTCONN when the data plane is gone. */
FERRY_API int ferry_wait_irq(ferry_dev *dev, uint32_t *vectors, int timeout_ms);

/* 0 if the calling thread's last call on dev succeeded, else its -errno. Like errno, read it
 * right after the call it is about. */
FERRY_API int ferry_last_error(ferry_dev *dev);

/* Transparency, for drivers written UIO/VFIO style: maps BAR `bar` as an inaccessible range of
 * the BAR's size (config bar_size; BAR0 defaults to 1 MiB) and stores its start in *addr and
 * its length in *len. Each 1, 2, 4 or 8-byte load or store to it faults, is decoded and becomes
 * the ferry_ioreadN / ferry_iowriteN call of that size on the calling thread: same queue, same
 * posted-write and ordering rules; a failed read loads all-ones and sets ferry_last_error().
 * An instruction the shim cannot emulate, or an access outside the BAR, aborts the program
 * with a message naming it. Mapping a BAR again returns the same range; ferry_close unmaps it.
 * Threads must not block SIGSEGV, and a SIGSEGV handler installed later must chain to the one
 * it replaces. 0, or -EINVAL (NULL addr or len, BAR above 5 or without a configured size),
 * -ENOSPC or -ENOMEM. */
FERRY_API int ferry_map_bar(ferry_dev *dev, unsigned bar, volatile void **addr, size_t *len);

/* ferry extension (no Linux counterpart): makes the calling thread issue its calls on queue
 * `queue` (0 .. config queues-1) of dev. 0 or -EINVAL. */
FERRY_API int ferry_bind_queue(ferry_dev *dev, unsigned queue);

#ifdef __cplusplus
}
#endif

#endif /* FERRY_GUEST_H */
