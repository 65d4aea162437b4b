#include "relay/host_region.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace ferry::dataplane {

namespace {

std::runtime_error sys_error(const std::string &path, const char *what) {
  return std::runtime_error("region " + path + ": " + what + ": " + std::strerror(errno));
}

// Huge page size when `path`'s directory is a hugetlbfs mount, 0 otherwise.
uint64_t hugetlbfs_page_size(const std::string &path) {
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  if (dir.empty()) dir = ".";
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) != 0) return 0;
  if (static_cast<unsigned long>(fs.f_type) != HUGETLBFS_MAGIC) return 0;
  return static_cast<uint64_t>(fs.f_bsize);
}

}  // namespace

HostRegion::HostRegion(const config::GuestRegion &region, AtExit at_exit)
    : path_(region.path), at_exit_(at_exit) {
  geo_.channel = region.channel;
  geo_.n_queues = region.n_queues;
  geo_.ring_slots = region.ring_slots;
  geo_.chunk_size = region.chunk_size;
  geo_.n_chunks = region.n_chunks;
  geo_.dma_base = region.dma_base;
  if (path_.empty()) throw std::runtime_error("region: empty path");

  size_ = proto::shm_region_size(geo_);
  if (uint64_t huge = hugetlbfs_page_size(path_); huge != 0)
    size_ = (size_ + huge - 1) / huge * huge;
  // A power of two: the hypervisor exposes the file as a PCI BAR (ivshmem), and a BAR's size
  // must be one. (A power of two at least the huge page size is a multiple of it.)
  size_ = std::bit_ceil(size_);

  // Reuse a file of exactly this size in place: a VM maps it as its BAR and keeps it across
  // data plane restarts. Anything else of this name is replaced.
  int fd = open(path_.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  struct stat st {};
  if (fd >= 0 &&
      (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != size_)) {
    close(fd);
    fd = -1;
  }
  reused_ = fd >= 0;
  if (!reused_) {
    if (unlink(path_.c_str()) != 0 && errno != ENOENT)
      throw sys_error(path_, "removing a file of another size");
    fd = open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
    if (fd < 0) throw sys_error(path_, "creating");
  }
  auto fail = [&](const char *what) {
    auto e = sys_error(path_, what);
    close(fd);
    if (!reused_) unlink(path_.c_str());
    return e;
  };
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    auto e = std::runtime_error("region " + path_ + ": in use by another data plane (locked)");
    close(fd);
    throw e;
  }
  if (!reused_ && ftruncate(fd, static_cast<off_t>(size_)) != 0) throw fail("sizing");
  // For the hypervisor's user that maps it (guests[].owner, group, mode).
  if (fchmod(fd, static_cast<mode_t>(region.mode)) != 0) throw fail("setting its mode");
  if ((region.uid >= 0 || region.gid >= 0) &&
      fchown(fd, static_cast<uid_t>(region.uid), static_cast<gid_t>(region.gid)) != 0)
    throw fail("setting its owner or group");
  void *p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) throw fail("mapping (no free huge pages?)");
  lock_fd_ = fd;  // the lock lives as long as this object
  base_ = static_cast<uint8_t *>(p);

  auto *h = header();
  if (reused_) {
    // The guest stops at once (not ready), then sees a new generation: its session is gone.
    set_state(proto::ShmState::kNone);
    const uint32_t old =
        std::atomic_ref<uint32_t>(h->host.generation).load(std::memory_order_acquire);
    if (h->layout.magic.get() == proto::kShmMagic) generation_ = old + 1 == 0 ? 1 : old + 1;
  }
  std::memset(base_, 0, size_);
  proto::shm_format(base_, size_, geo_);
  std::atomic_ref<uint32_t>(h->host.generation).store(generation_, std::memory_order_release);

  proto::ShmGeometry check;
  std::string err = proto::shm_validate(base_, size_, check, queues_offset_, queue_stride_,
                                        meta_offset_, window_offset_);
  if (!err.empty()) {
    munmap(base_, size_);
    base_ = nullptr;
    close(lock_fd_);
    if (!reused_) unlink(path_.c_str());
    throw std::runtime_error("region " + path_ + ": formatted header does not validate: " + err);
  }
  set_state(proto::ShmState::kFormatted);
}

HostRegion::~HostRegion() {
  if (base_ != nullptr) {
    set_state(proto::ShmState::kNone);
    munmap(base_, size_);
  }
  if (at_exit_ == AtExit::kRemove) unlink(path_.c_str());
  if (lock_fd_ >= 0) close(lock_fd_);
}

proto::RingHeader *HostRegion::sq(uint32_t queue) const {
  return reinterpret_cast<proto::RingHeader *>(base_ + queues_offset_ + queue * queue_stride_);
}

proto::RingHeader *HostRegion::cq(uint32_t queue) const {
  return reinterpret_cast<proto::RingHeader *>(base_ + queues_offset_ + queue * queue_stride_ +
                                               proto::shm_ring_bytes(geo_));
}

proto::ChunkMeta *HostRegion::meta(uint32_t chunk) const {
  return reinterpret_cast<proto::ChunkMeta *>(base_ + meta_offset_) + chunk;
}

uint8_t *HostRegion::chunk(uint32_t chunk) const {
  return base_ + window_offset_ + static_cast<uint64_t>(chunk) * geo_.chunk_size;
}

int64_t HostRegion::chunk_index(uint64_t addr) const {
  if (addr < geo_.dma_base) return -1;
  uint64_t off = addr - geo_.dma_base;
  if (off % geo_.chunk_size != 0) return -1;
  uint64_t idx = off / geo_.chunk_size;
  if (idx >= geo_.n_chunks) return -1;
  return static_cast<int64_t>(idx);
}

void HostRegion::set_state(proto::ShmState s) {
  std::atomic_ref<uint32_t>(header()->host.state)
      .store(static_cast<uint32_t>(s), std::memory_order_release);
}

void HostRegion::beat() {
  std::atomic_ref<uint64_t>(header()->host.heartbeat).fetch_add(1, std::memory_order_release);
}

std::string HostRegion::default_path(const std::string &name, uint64_t bytes) {
  const std::string huge_dir = "/dev/hugepages/";
  struct statfs fs {};
  if (statfs(huge_dir.c_str(), &fs) == 0 &&
      static_cast<unsigned long>(fs.f_type) == HUGETLBFS_MAGIC && fs.f_bsize > 0) {
    uint64_t page = static_cast<uint64_t>(fs.f_bsize);
    uint64_t need = (bytes + page - 1) / page;
    // A mount with a size limit reports its free pages; without one, the pool does.
    uint64_t free_pages = static_cast<uint64_t>(fs.f_bavail);
    if (fs.f_blocks == 0) {
      std::string pool =
          "/sys/kernel/mm/hugepages/hugepages-" + std::to_string(page / 1024) + "kB/free_hugepages";
      free_pages = 0;
      if (FILE *f = std::fopen(pool.c_str(), "r")) {
        unsigned long long n = 0;
        if (std::fscanf(f, "%llu", &n) == 1) free_pages = n;
        std::fclose(f);
      }
    }
    if (free_pages >= need) return huge_dir + name;
  }
  return "/dev/shm/" + name;
}

}  // namespace ferry::dataplane
