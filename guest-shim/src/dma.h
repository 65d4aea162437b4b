// Streaming DMA through the shared window (docs/protocol.md, DMA). The driver's buffers live
// in CVM-private memory; the window only ever holds sealed chunks. A buffer is backed by a
// run of whole window chunks, so its device address range is contiguous and chunk-aligned.
//
// What the guest trusts about a chunk is kept here, in private memory: for chunks it wrote,
// nothing needs keeping (the device checks them); for chunks the device wrote, the version
// and dirty range from the device's sealed kDmaSync announcement. ChunkMeta in the window
// is never trusted: only its tag is used, and a wrong tag fails authentication.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ferry/proto/session.h"
#include "region.h"

namespace ferry::guest {

struct DmaStats {
  uint64_t chunks_sealed = 0;
  uint64_t chunks_opened = 0;
  uint64_t open_failed = 0;        // chunks that did not verify in sync_for_cpu
  uint64_t announcements = 0;      // device kDmaSync accepted
  uint64_t bad_announcements = 0;  // authentic but out of bounds (dropped)
};

// A guest->device announcement to post after sealing (kDmaSync descriptor body).
struct DmaAnnouncement {
  uint64_t addr;
  uint32_t len;
  uint64_t first_version;
};

class DmaWindow {
 public:
  DmaWindow(Region &region, uint32_t channel);
  ~DmaWindow();  // frees (and wipes) every buffer still allocated

  std::mutex &mutex() { return mu_; }

  // All below: caller holds mutex().
  // Private buffer of len bytes backed by whole chunks. nullptr with err = -ENOMEM (window
  // exhausted or no memory) or -EINVAL (len 0).
  void *alloc(size_t len, uint64_t &dma_addr, int &err);
  // 0, or -EINVAL when cpu/len is not a live allocation.
  int free(void *cpu, size_t len);
  // Seals every chunk [dma_addr, dma_addr+len) touches (in private memory) and copies the
  // sealed chunks into the window. 0 or -EINVAL.
  int seal_for_device(proto::SessionCrypto &crypto, uint64_t dma_addr, size_t len,
                      DmaAnnouncement &out);
  // Opens the device-written chunks of the range into `staging` and, when all verify, copies
  // their dirty bytes inside the range into the buffer. 0, -EINVAL, or -EBADMSG (nothing
  // copied).
  int open_for_cpu(proto::SessionCrypto &crypto, uint64_t dma_addr, size_t len,
                   std::vector<uint8_t> &staging);
  // An authenticated device->guest kDmaSync. Out-of-window values are dropped (false).
  bool on_device_sync(uint64_t addr, uint64_t version, uint64_t offset, uint64_t len);

  const DmaStats &stats() const { return stats_; }
  uint32_t free_chunks() const { return free_chunks_; }

 private:
  struct Mapping {
    uint8_t *cpu;
    size_t len;
    uint32_t first;  // first chunk
    uint32_t n_chunks;
  };
  struct ChunkState {
    uint64_t device_version = 0;  // 0: the device has not written it since the guest did
    uint32_t dirty_lo = 0, dirty_hi = 0;
  };
  // The mapping holding all of [addr, addr+len), or nullptr.
  Mapping *find(uint64_t addr, size_t len);

  Region &region_;
  uint32_t channel_;
  uint32_t chunk_size_;
  uint32_t n_chunks_;
  uint64_t dma_base_;
  uint64_t next_version_ = 1;  // the guest's DMA stream sequence
  std::vector<uint8_t> used_;
  std::vector<ChunkState> chunks_;
  // Private: a chunk is sealed here and only then copied into the window, so no AEAD ever
  // reads bytes the host can change (GCM and GMAC read their output back).
  std::vector<uint8_t> sealing_;
  uint32_t free_chunks_;
  std::map<uint64_t, Mapping> by_addr_;
  std::unordered_map<void *, uint64_t> by_cpu_;
  DmaStats stats_;
  std::mutex mu_;
};

}  // namespace ferry::guest
