// Key material is wiped before its memory goes back to the allocator. This executable links
// tests/support/freed_memory.cpp, which copies a watched block just before it is freed, and
// looks for the secret in that copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <span>

#include "ferry/proto/aead.h"
#include "ferry/proto/session.h"
#include "freed_memory.h"
#include "proto_test_util.h"
#include "require.h"

namespace ferry::proto {
namespace {

using testing::contains;
using testing::watch_next_free;
using testing::watched_block_bytes;

TEST(SecretsWipe, hook_sees_secrets_that_are_not_wiped) {
  // Control: without a wipe the secret is still there when the block is freed.
  auto *v = new std::array<uint8_t, 32>();
  std::fill(v->begin(), v->end(), 0x9c);
  std::array<uint8_t, 32> copy = *v;
  watch_next_free(v);
  delete v;
  ASSERT_GE(watched_block_bytes().size(), 32u);
  EXPECT_TRUE(contains(watched_block_bytes(), copy));
}

TEST(SecretsWipe, session_secrets_wipe_every_stream_key_before_freeing) {
  SessionParams p;
  p.n_queues = 3;
  std::array<uint8_t, 32> key0{};
  {
    SessionSecrets s = test::test_secrets(p);
    key0 = s.streams[0].key;
    watch_next_free(s.streams.data());
  }
  const std::span<const uint8_t> freed = watched_block_bytes();
  ASSERT_GE(freed.size(), 8 * sizeof(StreamSecret));
  EXPECT_FALSE(contains(freed, key0));
  EXPECT_TRUE(std::all_of(freed.begin(), freed.begin() + 8 * sizeof(StreamSecret),
                          [](uint8_t b) { return b == 0; }));
}

TEST(SecretsWipe, expanded_ipsecmb_key_is_wiped_before_freeing) {
  FERRY_REQUIRE(ipsecmb_usable(), "CPU lacks AES-NI");
  auto aead = Aead::create(AeadImpl::kIpsecMb);
  std::array<uint8_t, 32> key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(0xc0 + i);
  std::unique_ptr<AeadKey> k = aead->expand(key);
  watch_next_free(k.get());
  k.reset();
  ASSERT_GT(watched_block_bytes().size(), 240u);
  // AES's first round keys are the key itself: they must be gone.
  EXPECT_FALSE(contains(watched_block_bytes(), std::span(key).first(16)));
  EXPECT_FALSE(contains(watched_block_bytes(), std::span(key).subspan(16)));
}

}  // namespace
}  // namespace ferry::proto
