#include "freed_memory.h"

#include <malloc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <new>

namespace ferry::testing {
namespace {

// Plain globals, no allocation: they are used from inside operator delete.
const void *g_watch = nullptr;
std::array<uint8_t, 1 << 16> g_watched;
size_t g_watched_len = 0;

bool g_scanning = false;
std::array<uint8_t, 64> g_secret;
size_t g_secret_len = 0;
FreedScan g_scan;

void before_free(void *p) {
  if (p == nullptr) return;
  if (p == g_watch) {
    g_watched_len = std::min(malloc_usable_size(p), g_watched.size());
    std::memcpy(g_watched.data(), p, g_watched_len);
    g_watch = nullptr;
  }
  if (g_scanning) {
    ++g_scan.blocks_freed;
    if (contains({static_cast<const uint8_t *>(p), malloc_usable_size(p)},
                 {g_secret.data(), g_secret_len}))
      ++g_scan.blocks_with_secret;
  }
}

void *alloc(size_t n, size_t align) {
  void *p = align <= alignof(std::max_align_t)
                ? std::malloc(n ? n : 1)
                : std::aligned_alloc(align, (std::max<size_t>(n, 1) + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void watch_next_free(const void *block) {
  g_watched_len = 0;
  g_watch = block;
}

std::span<const uint8_t> watched_block_bytes() {
  return {g_watched.data(), g_watched_len};
}

void start_freed_scan(std::span<const uint8_t> secret) {
  g_secret_len = std::min(secret.size(), g_secret.size());
  std::memcpy(g_secret.data(), secret.data(), g_secret_len);
  g_scan = {};
  g_scanning = true;
}

FreedScan stop_freed_scan() {
  g_scanning = false;
  return g_scan;
}

bool contains(std::span<const uint8_t> haystack, std::span<const uint8_t> needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

}  // namespace ferry::testing

void *operator new(size_t n) {
  return ferry::testing::alloc(n, 0);
}
void *operator new[](size_t n) {
  return ferry::testing::alloc(n, 0);
}
void *operator new(size_t n, std::align_val_t a) {
  return ferry::testing::alloc(n, static_cast<size_t>(a));
}
void *operator new[](size_t n, std::align_val_t a) {
  return ferry::testing::alloc(n, static_cast<size_t>(a));
}
void operator delete(void *p) noexcept {
  ferry::testing::before_free(p), std::free(p);
}
void operator delete[](void *p) noexcept {
  ferry::testing::before_free(p), std::free(p);
}
void operator delete(void *p, size_t) noexcept {
  ferry::testing::before_free(p), std::free(p);
}
void operator delete[](void *p, size_t) noexcept {
  ferry::testing::before_free(p), std::free(p);
}
void operator delete(void *p, std::align_val_t) noexcept {
  ferry::testing::before_free(p), std::free(p);
}
void operator delete[](void *p, std::align_val_t) noexcept {
  ferry::testing::before_free(p), std::free(p);
}
void operator delete(void *p, size_t, std::align_val_t) noexcept {
  ferry::testing::before_free(p), std::free(p);
}
void operator delete[](void *p, size_t, std::align_val_t) noexcept {
  ferry::testing::before_free(p), std::free(p);
}
