// Key material is wiped before its memory goes back to the allocator. This executable
// replaces the global operator new/delete (malloc/free underneath) so that it can copy a
// watched block just before it is freed and look for the secret in it.
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <new>

#include "ferry/proto/aead.h"
#include "ferry/proto/session.h"
#include "proto_test_util.h"
#include "require.h"

namespace {
const void *g_watch = nullptr;
std::array<uint8_t, 1 << 16> g_freed;
size_t g_freed_len = 0;

void before_free(void *p) {
  if (p == nullptr || p != g_watch) return;
  g_freed_len = std::min(malloc_usable_size(p), g_freed.size());
  std::memcpy(g_freed.data(), p, g_freed_len);
  g_watch = nullptr;
}

void *alloc(size_t n, size_t align) {
  void *p = align <= alignof(std::max_align_t)
                ? std::malloc(n ? n : 1)
                : std::aligned_alloc(align, (std::max<size_t>(n, 1) + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void *operator new(size_t n) {
  return alloc(n, 0);
}
void *operator new[](size_t n) {
  return alloc(n, 0);
}
void *operator new(size_t n, std::align_val_t a) {
  return alloc(n, static_cast<size_t>(a));
}
void *operator new[](size_t n, std::align_val_t a) {
  return alloc(n, static_cast<size_t>(a));
}
void operator delete(void *p) noexcept {
  before_free(p), std::free(p);
}
void operator delete[](void *p) noexcept {
  before_free(p), std::free(p);
}
void operator delete(void *p, size_t) noexcept {
  before_free(p), std::free(p);
}
void operator delete[](void *p, size_t) noexcept {
  before_free(p), std::free(p);
}
void operator delete(void *p, std::align_val_t) noexcept {
  before_free(p), std::free(p);
}
void operator delete[](void *p, std::align_val_t) noexcept {
  before_free(p), std::free(p);
}
void operator delete(void *p, size_t, std::align_val_t) noexcept {
  before_free(p), std::free(p);
}
void operator delete[](void *p, size_t, std::align_val_t) noexcept {
  before_free(p), std::free(p);
}

namespace ferry::proto {
namespace {

bool freed_block_contains(const uint8_t *secret, size_t n) {
  return std::search(g_freed.begin(), g_freed.begin() + g_freed_len, secret, secret + n) !=
         g_freed.begin() + g_freed_len;
}

TEST(SecretsWipe, hook_sees_secrets_that_are_not_wiped) {
  // Control: without a wipe the secret is still there when the block is freed.
  auto *v = new std::array<uint8_t, 32>();
  std::fill(v->begin(), v->end(), 0x9c);
  std::array<uint8_t, 32> copy = *v;
  g_watch = v;
  delete v;
  ASSERT_GE(g_freed_len, 32u);
  EXPECT_TRUE(freed_block_contains(copy.data(), copy.size()));
}

TEST(SecretsWipe, session_secrets_wipe_every_stream_key_before_freeing) {
  SessionParams p;
  p.n_queues = 3;
  std::array<uint8_t, 32> key0{};
  {
    SessionSecrets s = test::test_secrets(p);
    key0 = s.streams[0].key;
    g_watch = s.streams.data();
  }
  ASSERT_GE(g_freed_len, 8 * sizeof(StreamSecret));
  EXPECT_FALSE(freed_block_contains(key0.data(), key0.size()));
  EXPECT_TRUE(std::all_of(g_freed.begin(), g_freed.begin() + 8 * sizeof(StreamSecret),
                          [](uint8_t b) { return b == 0; }));
}

TEST(SecretsWipe, expanded_ipsecmb_key_is_wiped_before_freeing) {
  FERRY_REQUIRE(ipsecmb_usable(), "CPU lacks AES-NI");
  auto aead = Aead::create(AeadImpl::kIpsecMb);
  std::array<uint8_t, 32> key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(0xc0 + i);
  std::unique_ptr<AeadKey> k = aead->expand(key);
  g_watch = k.get();
  k.reset();
  ASSERT_GT(g_freed_len, 240u);
  // AES's first round keys are the key itself: they must be gone.
  EXPECT_FALSE(freed_block_contains(key.data(), 16));
  EXPECT_FALSE(freed_block_contains(key.data() + 16, 16));
}

}  // namespace
}  // namespace ferry::proto
