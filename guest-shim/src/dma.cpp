#include "dma.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ferry::guest {

namespace {
constexpr size_t kBufferAlign = 4096;
}

DmaWindow::DmaWindow(Region &region, uint32_t channel)
    : region_(region),
      channel_(channel),
      chunk_size_(region.geometry().chunk_size),
      n_chunks_(region.geometry().n_chunks),
      dma_base_(region.geometry().dma_base),
      used_(n_chunks_, 0),
      chunks_(n_chunks_),
      sealing_(chunk_size_),
      free_chunks_(n_chunks_) {}

DmaWindow::~DmaWindow() {
  for (auto &[addr, m] : by_addr_) {
    proto::secure_wipe(m.cpu, static_cast<size_t>(m.n_chunks) * chunk_size_);
    std::free(m.cpu);
  }
}

void *DmaWindow::alloc(size_t len, uint64_t &dma_addr, int &err) {
  if (len == 0) {
    err = -EINVAL;
    return nullptr;
  }
  const uint64_t need64 = (static_cast<uint64_t>(len) + chunk_size_ - 1) / chunk_size_;
  if (need64 > free_chunks_) {
    err = -ENOMEM;
    return nullptr;
  }
  const uint32_t need = static_cast<uint32_t>(need64);
  // First fit over the chunk map: the window is small (about a thousand chunks).
  uint32_t run = 0, first = 0;
  bool found = false;
  for (uint32_t i = 0; i < n_chunks_; ++i) {
    if (used_[i]) {
      run = 0;
      continue;
    }
    if (run++ == 0) first = i;
    if (run == need) {
      found = true;
      break;
    }
  }
  if (!found) {
    err = -ENOMEM;  // enough chunks free, but not contiguous
    return nullptr;
  }
  const size_t bytes = static_cast<size_t>(need) * chunk_size_;
  void *cpu = nullptr;
  if (posix_memalign(&cpu, kBufferAlign, bytes) != 0) {
    err = -ENOMEM;
    return nullptr;
  }
  std::memset(cpu, 0, bytes);
  for (uint32_t i = first; i < first + need; ++i) {
    used_[i] = 1;
    chunks_[i] = ChunkState{};
  }
  free_chunks_ -= need;
  dma_addr = dma_base_ + static_cast<uint64_t>(first) * chunk_size_;
  by_addr_[dma_addr] = Mapping{static_cast<uint8_t *>(cpu), len, first, need};
  by_cpu_[cpu] = dma_addr;
  err = 0;
  return cpu;
}

int DmaWindow::free(void *cpu, size_t len) {
  auto it = by_cpu_.find(cpu);
  if (it == by_cpu_.end()) return -EINVAL;
  auto m = by_addr_.find(it->second);
  if (m->second.len != len) return -EINVAL;
  const Mapping &map = m->second;
  for (uint32_t i = map.first; i < map.first + map.n_chunks; ++i) {
    used_[i] = 0;
    chunks_[i] = ChunkState{};
  }
  free_chunks_ += map.n_chunks;
  proto::secure_wipe(map.cpu, static_cast<size_t>(map.n_chunks) * chunk_size_);
  std::free(map.cpu);
  by_addr_.erase(m);
  by_cpu_.erase(it);
  return 0;
}

DmaWindow::Mapping *DmaWindow::find(uint64_t addr, size_t len) {
  auto it = by_addr_.upper_bound(addr);
  if (it == by_addr_.begin()) return nullptr;
  --it;
  Mapping &m = it->second;
  const uint64_t start = it->first;
  if (addr - start > m.len || len > m.len - (addr - start)) return nullptr;
  return &m;
}

int DmaWindow::seal_for_device(proto::SessionCrypto &crypto, uint64_t dma_addr, size_t len,
                               DmaAnnouncement &out) {
  Mapping *m = find(dma_addr, len);
  if (m == nullptr || len == 0) return -EINVAL;
  const uint32_t c0 = static_cast<uint32_t>((dma_addr - dma_base_) / chunk_size_);
  const uint32_t c1 = static_cast<uint32_t>((dma_addr + len - 1 - dma_base_) / chunk_size_);
  out.addr = dma_base_ + static_cast<uint64_t>(c0) * chunk_size_;
  out.len = (c1 - c0 + 1) * chunk_size_;
  out.first_version = next_version_;
  for (uint32_t c = c0; c <= c1; ++c) {
    const uint64_t addr = dma_base_ + static_cast<uint64_t>(c) * chunk_size_;
    const uint64_t version = next_version_++;
    const uint8_t *plain = m->cpu + static_cast<size_t>(c - m->first) * chunk_size_;
    proto::ChunkMeta meta{};
    proto::ChunkAad aad =
        proto::make_chunk_aad(channel_, addr, chunk_size_, proto::Writer::kGuest, version);
    crypto.seal_chunk(proto::Dir::kGuestToDevice, aad, plain, sealing_.data(), chunk_size_,
                      meta.tag);
    std::memcpy(region_.chunk(c), sealing_.data(), chunk_size_);
    meta.version.set(version);
    meta.len.set(chunk_size_);
    meta.writer = static_cast<uint8_t>(proto::Writer::kGuest);
    meta.valid = 1;
    std::memcpy(region_.meta(c), &meta, sizeof(meta));
    // The guest's copy is now the chunk's truth: earlier device writes are superseded.
    chunks_[c] = ChunkState{};
    ++stats_.chunks_sealed;
  }
  return 0;
}

int DmaWindow::open_for_cpu(proto::SessionCrypto &crypto, uint64_t dma_addr, size_t len,
                            std::vector<uint8_t> &staging) {
  Mapping *m = find(dma_addr, len);
  if (m == nullptr) return -EINVAL;
  if (len == 0) return 0;
  const uint64_t lo = dma_addr, hi = dma_addr + len;  // range, device addresses
  const uint32_t c0 = static_cast<uint32_t>((lo - dma_base_) / chunk_size_);
  const uint32_t c1 = static_cast<uint32_t>((hi - 1 - dma_base_) / chunk_size_);
  const size_t need = static_cast<size_t>(c1 - c0 + 1) * chunk_size_;
  if (staging.size() < need) staging.resize(need);
  // Pass 1: copy each announced chunk out of the window, then open the private copy.
  size_t opened = 0;
  for (uint32_t c = c0; c <= c1; ++c) {
    const ChunkState &s = chunks_[c];
    if (s.device_version == 0) continue;
    const uint64_t base = dma_base_ + static_cast<uint64_t>(c) * chunk_size_;
    if (base + s.dirty_hi <= lo || base + s.dirty_lo >= hi) continue;  // nothing in range
    uint8_t *priv = staging.data() + opened * chunk_size_;
    proto::ChunkMeta meta;
    std::memcpy(&meta, region_.meta(c), sizeof(meta));
    std::memcpy(priv, region_.chunk(c), chunk_size_);
    proto::ChunkAad aad = proto::make_chunk_aad(channel_, base, chunk_size_, proto::Writer::kDevice,
                                                s.device_version);
    if (crypto.open_chunk(proto::Dir::kDeviceToGuest, aad, priv, priv, chunk_size_, meta.tag) !=
        proto::Status::kOk) {
      ++stats_.open_failed;
      proto::secure_wipe(staging.data(), opened * chunk_size_);
      return -EBADMSG;
    }
    ++stats_.chunks_opened;
    ++opened;
  }
  // Pass 2: every chunk verified; copy the device's bytes that lie inside the range.
  size_t k = 0;
  for (uint32_t c = c0; c <= c1 && k < opened; ++c) {
    const ChunkState &s = chunks_[c];
    if (s.device_version == 0) continue;
    const uint64_t base = dma_base_ + static_cast<uint64_t>(c) * chunk_size_;
    if (base + s.dirty_hi <= lo || base + s.dirty_lo >= hi) continue;
    const uint64_t from = std::max(lo, base + s.dirty_lo);
    const uint64_t to = std::min(hi, base + s.dirty_hi);
    const uint64_t mapping_start = dma_base_ + static_cast<uint64_t>(m->first) * chunk_size_;
    std::memcpy(m->cpu + (from - mapping_start), staging.data() + k * chunk_size_ + (from - base),
                to - from);
    ++k;
  }
  proto::secure_wipe(staging.data(), opened * chunk_size_);
  return 0;
}

bool DmaWindow::on_device_sync(uint64_t addr, uint64_t version, uint64_t offset, uint64_t len) {
  if (addr < dma_base_ || (addr - dma_base_) % chunk_size_ != 0 ||
      (addr - dma_base_) / chunk_size_ >= n_chunks_ || version == 0 || len == 0 ||
      offset >= chunk_size_ || len > chunk_size_ - offset) {
    ++stats_.bad_announcements;
    return false;
  }
  ChunkState &s = chunks_[(addr - dma_base_) / chunk_size_];
  const uint32_t lo = static_cast<uint32_t>(offset), hi = static_cast<uint32_t>(offset + len);
  if (s.device_version == 0) {
    s.dirty_lo = lo;
    s.dirty_hi = hi;
  } else {
    // The newest version holds every byte the device wrote: the dirty ranges add up.
    s.dirty_lo = std::min(s.dirty_lo, lo);
    s.dirty_hi = std::max(s.dirty_hi, hi);
  }
  s.device_version = std::max(s.device_version, version);
  ++stats_.announcements;
  return true;
}

}  // namespace ferry::guest
