// What the libFuzzer targets share: reading an input as a script of typed values, reporting
// a broken invariant (it traps, so libFuzzer keeps the input), a shared-memory region file of
// a given geometry, and fixed session keys and PSKs (the seed corpora were made with them).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "ferry/config/config.h"
#include "ferry/proto/handshake.h"
#include "ferry/proto/session.h"

namespace ferry::fuzz {

// The input read front to back; past its end every value reads as zero.
class Input {
 public:
  Input(const uint8_t *d, size_t n) : d_(d), n_(n) {}
  bool done() const { return pos_ >= n_; }
  uint8_t u8() { return pos_ < n_ ? d_[pos_++] : 0; }
  // `bytes` bytes, little-endian.
  uint64_t u64(size_t bytes = 8) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(u8()) << (8 * i);
    return v;
  }
  void bytes(void *out, size_t n) {
    auto *o = static_cast<uint8_t *>(out);
    for (size_t i = 0; i < n; ++i) o[i] = u8();
  }
  // The next `len` bytes in place (fewer at the end).
  std::span<const uint8_t> span(size_t len) {
    len = std::min(len, n_ - std::min(pos_, n_));
    std::span<const uint8_t> s(d_ + pos_, len);
    pos_ += len;
    return s;
  }

 private:
  const uint8_t *d_;
  size_t n_;
  size_t pos_ = 0;
};

// Says where an invariant broke, then traps.
[[noreturn]] inline void invariant_broken(const char *file, int line) {
  std::fprintf(stderr, "%s:%d: invariant broken\n", file, line);
  __builtin_trap();
}
#define FUZZ_VIOLATION() ::ferry::fuzz::invariant_broken(__FILE__, __LINE__)

// A guest region under /dev/shm named after the target and this process.
inline config::GuestRegion shm_region(const std::string &target, uint32_t channel,
                                      uint32_t ring_slots, uint32_t chunk_size, uint32_t n_chunks,
                                      uint64_t dma_base) {
  config::GuestRegion r;
  r.path = "/dev/shm/ferry-" + target + "-" + std::to_string(getpid());
  r.channel = channel;
  r.ring_slots = ring_slots;
  r.chunk_size = chunk_size;
  r.n_chunks = n_chunks;
  r.dma_base = dma_base;
  return r;
}

// Session secrets with fixed keys: stream i's key byte k is key0 + i * stream_step + k, its
// salt salt0 + i.
inline proto::SessionSecrets fixed_secrets(const proto::SessionParams &params, uint64_t session_id,
                                           uint8_t key0, uint8_t stream_step, uint32_t salt0) {
  proto::SessionSecrets s;
  s.params = params;
  s.session_id = session_id;
  s.streams.resize(s.n_streams());
  for (size_t i = 0; i < s.streams.size(); ++i) {
    for (size_t k = 0; k < s.streams[i].key.size(); ++k)
      s.streams[i].key[k] = static_cast<uint8_t>(key0 + i * stream_step + k);
    s.streams[i].salt = salt0 + static_cast<uint32_t>(i);
  }
  return s;
}

// A PSK whose byte i is first + i.
inline proto::Psk fixed_psk(uint8_t first) {
  proto::Psk p;
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(first + i);
  return p;
}

}  // namespace ferry::fuzz
