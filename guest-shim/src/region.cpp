#include "region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ferry::guest {

namespace {
std::runtime_error region_error(const std::string &path, const std::string &what) {
  return std::runtime_error("region " + path + ": " + what);
}
}  // namespace

Region::Region(const std::string &path) : path_(path) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw region_error(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    throw region_error(path, std::string("cannot stat: ") + std::strerror(e));
  }
  if (st.st_size < static_cast<off_t>(proto::kShmHeaderSize)) {
    close(fd);
    throw region_error(path, "too small (" + std::to_string(st.st_size) +
                                 " bytes) to hold a ferry header: is the data plane running?");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED) throw region_error(path, std::string("cannot map: ") + std::strerror(e));
  base_ = static_cast<uint8_t *>(p);
  // Before the layout: a reformat after this read changes the generation, and host_ready()
  // then never holds for this mapping.
  generation_ =
      std::atomic_ref<uint32_t>(reinterpret_cast<proto::ShmHeader *>(base_)->host.generation)
          .load(std::memory_order_acquire);
  std::string err = proto::shm_validate(base_, size_, geo_, queues_offset_, queue_stride_,
                                        meta_offset_, window_offset_);
  if (!err.empty()) {
    munmap(base_, size_);
    base_ = nullptr;
    throw region_error(path, "invalid header: " + err);
  }
  ring_bytes_ = proto::shm_ring_bytes(geo_);
}

Region::~Region() {
  if (base_ != nullptr) munmap(base_, size_);
}

proto::RingHeader *Region::sq(uint32_t queue) const {
  return reinterpret_cast<proto::RingHeader *>(base_ + queues_offset_ + queue * queue_stride_);
}

proto::RingHeader *Region::cq(uint32_t queue) const {
  return reinterpret_cast<proto::RingHeader *>(base_ + queues_offset_ + queue * queue_stride_ +
                                               ring_bytes_);
}

proto::ChunkMeta *Region::meta(uint32_t chunk) const {
  return reinterpret_cast<proto::ChunkMeta *>(base_ + meta_offset_) + chunk;
}

uint8_t *Region::chunk(uint32_t chunk) const {
  return base_ + window_offset_ + static_cast<uint64_t>(chunk) * geo_.chunk_size;
}

bool Region::host_ready() const {
  auto *h = reinterpret_cast<proto::ShmHeader *>(base_);
  return std::atomic_ref<uint32_t>(h->host.state).load(std::memory_order_acquire) ==
             static_cast<uint32_t>(proto::ShmState::kHostReady) &&
         std::atomic_ref<uint32_t>(h->host.generation).load(std::memory_order_acquire) ==
             generation_;
}

uint64_t Region::heartbeat() const {
  auto *h = reinterpret_cast<proto::ShmHeader *>(base_);
  return std::atomic_ref<uint64_t>(h->host.heartbeat).load(std::memory_order_acquire);
}

void Region::set_attached(bool attached) {
  auto *h = reinterpret_cast<proto::ShmHeader *>(base_);
  std::atomic_ref<uint32_t>(h->guest.pid)
      .store(attached ? static_cast<uint32_t>(getpid()) : 0, std::memory_order_relaxed);
  std::atomic_ref<uint32_t>(h->guest.attached).store(attached ? 1 : 0, std::memory_order_release);
}

}  // namespace ferry::guest
