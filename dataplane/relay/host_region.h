// The host side of a guest's shared-memory region: the data plane creates the region file
// (hugetlbfs, or /dev/shm where no huge pages are available), sizes it to a power of two (it
// becomes the guest's ivshmem BAR), maps, zeroes and formats it, and removes it again when it
// goes away. Everything in it may later be written by the guest; the relay (host_relay.h)
// checks what it reads from it.
#pragma once

#include <cstdint>
#include <string>

#include "ferry/config/config.h"
#include "ferry/proto/shm_layout.h"

namespace ferry::dataplane {

class HostRegion {
 public:
  // What happens to the file when this object goes away.
  enum class AtExit { kRemove, kKeep };
  // Maps and formats region.path for the geometry in `region`. A file of that name and exactly
  // the size this geometry needs is reused in place (a VM may hold it as its BAR): it is marked
  // not ready, reformatted, and its generation (ShmHostLine) goes up by one. Any other file of
  // that name is replaced. The file is locked (flock) while this object lives: a second data
  // plane on the same region fails. Throws std::runtime_error naming the path and what failed.
  explicit HostRegion(const config::GuestRegion &region, AtExit at_exit = AtExit::kRemove);
  // Marks the region not ready and unmaps; removes the file unless kKeep.
  ~HostRegion();
  HostRegion(const HostRegion &) = delete;
  HostRegion &operator=(const HostRegion &) = delete;

  const std::string &path() const { return path_; }
  uint8_t *base() const { return base_; }
  uint64_t size() const { return size_; }  // bytes mapped (file size): a power of two
  uint32_t generation() const { return generation_; }
  bool reused() const { return reused_; }  // an existing file was reformatted in place
  const proto::ShmGeometry &geometry() const { return geo_; }

  proto::ShmHeader *header() const { return reinterpret_cast<proto::ShmHeader *>(base_); }
  proto::RingHeader *sq(uint32_t queue) const;  // guest -> host
  proto::RingHeader *cq(uint32_t queue) const;  // host -> guest
  proto::ChunkMeta *meta(uint32_t chunk) const;
  uint8_t *chunk(uint32_t chunk) const;
  // Index of the chunk at device address `addr`, or -1 when addr is not the start of a
  // chunk of this region's window.
  int64_t chunk_index(uint64_t addr) const;

  // Host runtime line (ShmHostLine), written with release ordering.
  void set_state(proto::ShmState s);
  void beat();  // heartbeat += 1

  // /dev/hugepages/<name> when a hugetlbfs is mounted there with a free huge page for the
  // region, /dev/shm/<name> otherwise.
  static std::string default_path(const std::string &name, uint64_t bytes);

 private:
  std::string path_;
  proto::ShmGeometry geo_;
  uint64_t queues_offset_ = 0, queue_stride_ = 0, meta_offset_ = 0, window_offset_ = 0;
  uint64_t size_ = 0;
  uint8_t *base_ = nullptr;
  int lock_fd_ = -1;
  uint32_t generation_ = 1;
  bool reused_ = false;
  AtExit at_exit_;
};

}  // namespace ferry::dataplane
