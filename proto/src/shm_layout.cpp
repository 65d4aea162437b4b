// Geometry, formatting and validation of the guest <-> host shared-memory region.
#include "ferry/proto/shm_layout.h"

#include <atomic>
#include <bit>
#include <cstring>
#include <stdexcept>

#include "ferry/proto/descriptor.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/session.h"

namespace ferry::proto {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint32_t kMaxRingSlots = 1u << 20;  // free-running 32-bit indices need <= 2^31

uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

// Why a geometry cannot be laid out, or empty.
std::string check_geometry(const ShmGeometry &g) {
  if (g.n_queues == 0 || g.n_queues > kMaxQueues)
    return "n_queues " + std::to_string(g.n_queues) + " outside 1.." + std::to_string(kMaxQueues);
  if (g.ring_slots < 2 || g.ring_slots > kMaxRingSlots || !std::has_single_bit(g.ring_slots))
    return "ring_slots " + std::to_string(g.ring_slots) + " is not a power of two in 2.." +
           std::to_string(kMaxRingSlots);
  if (g.chunk_size == 0 || g.chunk_size % kCacheLine != 0 || g.chunk_size > kMaxChunkSize)
    return "chunk_size " + std::to_string(g.chunk_size) + " is not a multiple of 64 in 64.." +
           std::to_string(kMaxChunkSize);
  if (g.n_chunks == 0) return "n_chunks is 0";
  uint64_t window = uint64_t{g.n_chunks} * g.chunk_size;
  uint64_t end;
  if (__builtin_add_overflow(g.dma_base, window, &end))
    return "dma_base " + std::to_string(g.dma_base) + " + window wraps around 2^64";
  return {};
}

struct Offsets {
  uint64_t queues, stride, meta, window, size;
};

Offsets offsets_for(const ShmGeometry &g) {
  Offsets o;
  o.queues = kShmHeaderSize;
  o.stride = shm_queue_stride(g);
  o.meta = o.queues + uint64_t{g.n_queues} * o.stride;
  o.window = align_up(o.meta + uint64_t{g.n_chunks} * sizeof(ChunkMeta), kPage);
  o.size = align_up(o.window + uint64_t{g.n_chunks} * g.chunk_size, kPage);
  return o;
}

// Reads the layout line with volatile loads, once: later checks look only at the copy.
ShmLayoutLine read_layout(const volatile void *base) {
  const volatile uint8_t *src = static_cast<const volatile uint8_t *>(base);
  uint8_t bytes[sizeof(ShmLayoutLine)];
  for (size_t i = 0; i < sizeof(bytes); ++i) bytes[i] = src[i];
  ShmLayoutLine l;
  std::memcpy(&l, bytes, sizeof(l));
  return l;
}

// [off, off + len) inside [lo, size), without overflow.
bool range_inside(uint64_t off, uint64_t len, uint64_t lo, uint64_t size) {
  uint64_t end;
  return off >= lo && !__builtin_add_overflow(off, len, &end) && end <= size;
}

bool disjoint(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return a + alen <= b || b + blen <= a;  // only called on ranges already known not to wrap
}

}  // namespace

uint64_t shm_ring_bytes(const ShmGeometry &g) {
  return sizeof(RingHeader) + uint64_t{g.ring_slots} * kDescriptorSize;
}

uint64_t shm_queue_stride(const ShmGeometry &g) {
  return 2 * shm_ring_bytes(g);
}

uint64_t shm_region_size(const ShmGeometry &g) {
  return offsets_for(g).size;
}

void shm_format(void *base, uint64_t size, const ShmGeometry &g) {
  std::string why = check_geometry(g);
  if (!why.empty()) throw std::invalid_argument("shared-memory geometry: " + why);
  Offsets o = offsets_for(g);
  if (size < o.size)
    throw std::invalid_argument("shared-memory region of " + std::to_string(size) +
                                " bytes is smaller than the " + std::to_string(o.size) +
                                " bytes the geometry needs");
  auto *h = static_cast<ShmHeader *>(base);
  ShmLayoutLine l{};
  l.magic.set(kShmMagic);
  l.version.set(kShmVersion);
  l.header_size.set(kShmHeaderSize);
  l.region_size.set(o.size);
  l.channel.set(g.channel);
  l.n_queues.set(g.n_queues);
  l.ring_slots.set(g.ring_slots);
  l.chunk_size.set(g.chunk_size);
  l.n_chunks.set(g.n_chunks);
  l.queues_offset.set(o.queues);
  l.queue_stride.set(o.stride);
  l.meta_offset.set(o.meta);
  l.window_offset.set(o.window);
  l.dma_base.set(g.dma_base);
  std::memcpy(&h->layout, &l, sizeof(l));
  std::atomic_ref<uint32_t>(h->host.state)
      .store(static_cast<uint32_t>(ShmState::kFormatted), std::memory_order_release);
}

std::string shm_validate(const volatile void *base, uint64_t size, ShmGeometry &out,
                         uint64_t &queues_offset, uint64_t &queue_stride, uint64_t &meta_offset,
                         uint64_t &window_offset) {
  if (base == nullptr) return "shared-memory region is not mapped";
  if (size < kShmHeaderSize)
    return "shared-memory region of " + std::to_string(size) +
           " bytes is smaller than its 4096-byte header";
  ShmLayoutLine l = read_layout(base);
  if (l.magic.get() != kShmMagic) return "bad magic: not a ferry shared-memory region";
  if (l.version.get() != kShmVersion)
    return "layout version " + std::to_string(l.version.get()) + ", this build reads " +
           std::to_string(kShmVersion);
  if (l.header_size.get() != kShmHeaderSize)
    return "header_size " + std::to_string(l.header_size.get()) + ", expected 4096";
  uint64_t region = l.region_size.get();
  if (region > size)
    return "region_size " + std::to_string(region) + " is larger than the " + std::to_string(size) +
           " bytes mapped";
  if (region < kShmHeaderSize) return "region_size " + std::to_string(region) + " below header";

  ShmGeometry g;
  g.channel = l.channel.get();
  g.n_queues = l.n_queues.get();
  g.ring_slots = l.ring_slots.get();
  g.chunk_size = l.chunk_size.get();
  g.n_chunks = l.n_chunks.get();
  g.dma_base = l.dma_base.get();
  std::string why = check_geometry(g);
  if (!why.empty()) return why;

  uint64_t qoff = l.queues_offset.get(), stride = l.queue_stride.get();
  uint64_t moff = l.meta_offset.get(), woff = l.window_offset.get();
  if (qoff % kCacheLine || moff % kCacheLine || woff % kCacheLine || stride % kCacheLine)
    return "queues_offset, queue_stride, meta_offset and window_offset must be multiples of 64";
  if (stride < shm_queue_stride(g))
    return "queue_stride " + std::to_string(stride) + " is smaller than the " +
           std::to_string(shm_queue_stride(g)) + " bytes two rings of " +
           std::to_string(g.ring_slots) + " slots need";
  uint64_t queues_len;
  if (__builtin_mul_overflow(stride, uint64_t{g.n_queues}, &queues_len))
    return "queue_stride * n_queues overflows";
  uint64_t meta_len = uint64_t{g.n_chunks} * sizeof(ChunkMeta);
  uint64_t window_len = uint64_t{g.n_chunks} * g.chunk_size;
  if (!range_inside(qoff, queues_len, kShmHeaderSize, region))
    return "queues [" + std::to_string(qoff) + ", +" + std::to_string(queues_len) +
           ") fall outside the region after the header";
  if (!range_inside(moff, meta_len, kShmHeaderSize, region))
    return "chunk metadata [" + std::to_string(moff) + ", +" + std::to_string(meta_len) +
           ") falls outside the region after the header";
  if (!range_inside(woff, window_len, kShmHeaderSize, region))
    return "DMA window [" + std::to_string(woff) + ", +" + std::to_string(window_len) +
           ") falls outside the region after the header";
  if (!disjoint(qoff, queues_len, moff, meta_len)) return "queues overlap the chunk metadata";
  if (!disjoint(qoff, queues_len, woff, window_len)) return "queues overlap the DMA window";
  if (!disjoint(moff, meta_len, woff, window_len)) return "chunk metadata overlaps the DMA window";

  out = g;
  queues_offset = qoff;
  queue_stride = stride;
  meta_offset = moff;
  window_offset = woff;
  return {};
}

}  // namespace ferry::proto
