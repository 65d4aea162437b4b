// The shared-memory region between guest shim and host data plane. The host creates and
// formats it; the guest maps and validates it and then trusts nothing in it. All offsets are
// relative to the region start (the two sides map it at different addresses).
//
//   [0, 4096)            ShmHeader (three cache lines written by different sides)
//   queues_offset + q * queue_stride   QueueRings of queue q: SQ indices, SQ slots,
//                                      CQ indices, CQ slots
//   meta_offset          ChunkMeta[n_chunks]
//   window_offset        n_chunks * chunk_size bytes of sealed chunks
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ferry/proto/endian.h"

namespace ferry::proto {

inline constexpr uint64_t kShmMagic = 0x4d48535952524546ull;  // "FERRYSHM"
inline constexpr uint32_t kShmVersion = 1;
inline constexpr size_t kCacheLine = 64;
inline constexpr size_t kShmHeaderSize = 4096;

// kNone: being (re)formatted, or its data plane is gone.
enum class ShmState : uint32_t { kNone = 0, kFormatted = 1, kHostReady = 2 };

struct alignas(kCacheLine) ShmLayoutLine {  // written once by the host when it formats
  le64 magic;
  le32 version;
  le32 header_size;
  le64 region_size;
  le32 channel;         // channel id the host assigned to this guest
  le32 n_queues;
  le32 ring_slots;      // per ring, power of two
  le32 chunk_size;      // bytes per DMA chunk
  le32 n_chunks;
  le32 reserved;
  le64 queues_offset;
  le64 queue_stride;
  le64 meta_offset;
  le64 window_offset;
  le64 dma_base;        // device address of chunk 0; chunk i at dma_base + i * chunk_size
};

struct alignas(kCacheLine) ShmHostLine {  // host writes at run time
  uint32_t state;       // ShmState
  // Which start of the data plane formatted the region: 1 for a new file, one more each time a
  // data plane reformats the same file in place (a VM keeps its BAR across data plane
  // restarts); never 0 once formatted. A guest whose generation changed reopens.
  uint32_t generation;
  uint64_t heartbeat;   // incremented by the data plane's housekeeping
};

struct alignas(kCacheLine) ShmGuestLine {  // guest writes at run time
  uint32_t attached;    // 1 while a guest shim has the region open
  uint32_t pid;
};

struct ShmHeader {
  ShmLayoutLine layout;
  ShmHostLine host;
  ShmGuestLine guest;
};
static_assert(sizeof(ShmLayoutLine) == 2 * kCacheLine);
static_assert(sizeof(ShmHeader) <= kShmHeaderSize);

// One index on its own cache line (producer and consumer never share a line).
struct alignas(kCacheLine) RingIndex {
  uint32_t value;  // free-running; slot = value & (ring_slots - 1); accessed with atomic_ref
};
static_assert(sizeof(RingIndex) == kCacheLine);

// Layout of one ring inside a queue: producer index, consumer index, then the slots.
struct RingHeader {
  RingIndex prod;
  RingIndex cons;
};
static_assert(sizeof(RingHeader) == 2 * kCacheLine);

// Per-chunk metadata in the window (written by the data plane, never trusted by its readers).
struct alignas(kCacheLine) ChunkMeta {
  le64 version;
  le32 len;
  uint8_t writer;   // 0 guest, 1 device
  uint8_t valid;    // 1 once a sealed chunk was stored
  uint8_t pad[2];
  uint8_t tag[16];
};
static_assert(sizeof(ChunkMeta) == kCacheLine);

struct ShmGeometry {
  uint32_t channel = 1;
  uint32_t n_queues = 1;
  uint32_t ring_slots = 256;
  uint32_t chunk_size = 4096;
  uint32_t n_chunks = 1024;
  uint64_t dma_base = 0x1000000;
};

// Size of each part for a geometry (ring_slots a power of two, chunk_size a multiple of 64).
uint64_t shm_ring_bytes(const ShmGeometry &g);   // RingHeader + slots
uint64_t shm_queue_stride(const ShmGeometry &g); // SQ + CQ
uint64_t shm_region_size(const ShmGeometry &g);

// Writes a fresh header for `g` into `base` (size bytes, zeroed by the caller).
void shm_format(void *base, uint64_t size, const ShmGeometry &g);

// Validates a header read from an untrusted region of `size` bytes: magic, version, sizes,
// powers of two, every offset and range inside the region, no overlap. On success fills
// `out` and returns an empty string; otherwise says what is wrong.
std::string shm_validate(const volatile void *base, uint64_t size, ShmGeometry &out,
                         uint64_t &queues_offset, uint64_t &queue_stride, uint64_t &meta_offset,
                         uint64_t &window_offset);

}  // namespace ferry::proto
