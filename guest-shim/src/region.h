// The guest's mapping of the shared region (hugetlbfs file, /dev/shm file, or the ivshmem BAR
// of a real CVM). The header is validated once at open and its geometry kept in private
// memory: nothing in the region is read again as a size or an offset.
#pragma once

#include <cstdint>
#include <string>

#include "ferry/proto/shm_layout.h"

namespace ferry::guest {

class Region {
 public:
  // Maps `path` read-write and validates its header. Throws std::runtime_error saying what is
  // wrong ("region <path>: ...").
  explicit Region(const std::string &path);
  ~Region();
  Region(const Region &) = delete;
  Region &operator=(const Region &) = delete;

  const proto::ShmGeometry &geometry() const { return geo_; }
  proto::RingHeader *sq(uint32_t queue) const;
  proto::RingHeader *cq(uint32_t queue) const;
  proto::ChunkMeta *meta(uint32_t chunk) const;
  uint8_t *chunk(uint32_t chunk) const;

  // Host runtime line: untrusted, used only to tell a dead host from a slow device. Ready
  // means: marked ready, by the same start of the data plane (generation) as at open; a data
  // plane that restarted and reformatted the region in place is not this session's.
  bool host_ready() const;
  uint32_t generation() const { return generation_; }
  uint64_t heartbeat() const;
  // Guest runtime line.
  void set_attached(bool attached);

 private:
  std::string path_;
  uint8_t *base_ = nullptr;
  uint64_t size_ = 0;
  proto::ShmGeometry geo_;
  uint64_t queues_offset_ = 0, queue_stride_ = 0, meta_offset_ = 0, window_offset_ = 0;
  uint64_t ring_bytes_ = 0;
  uint32_t generation_ = 0;
};

}  // namespace ferry::guest
