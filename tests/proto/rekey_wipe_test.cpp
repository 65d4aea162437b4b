// A rekey wipes the key it replaces (and the receiver the previous one when its overlap time
// ends, on the housekeeping timer): this executable replaces the global operator delete so
// that every block freed is searched for a watched secret (an AES key's first round key is
// the key itself) before it goes back to the allocator.
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include "ferry/proto/aead.h"
#include "ferry/proto/session.h"
#include "proto_test_util.h"
#include "require.h"

namespace {
std::array<uint8_t, 16> g_secret{};
bool g_watching = false;
size_t g_blocks_with_secret = 0;
size_t g_blocks_freed = 0;

void before_free(void *p) {
  if (p == nullptr || !g_watching) return;
  ++g_blocks_freed;
  const auto *b = static_cast<const uint8_t *>(p);
  const size_t n = malloc_usable_size(p);
  if (std::search(b, b + n, g_secret.begin(), g_secret.end()) != b + n) ++g_blocks_with_secret;
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

Descriptor write_on_queue0(uint64_t counter) {
  Descriptor d{};
  d.hdr.kind = static_cast<uint8_t>(Kind::kMmioWrite);
  d.hdr.seq.set(counter);
  return d;
}

class RekeyWipe : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE(ipsecmb_usable(), "CPU lacks AES-NI");
    aead_ = Aead::create(AeadImpl::kIpsecMb);
    SessionParams p;
    p.n_queues = 1;
    secrets_ = test::test_secrets(p);
    for (size_t i = 0; i < secrets_.streams.size(); ++i) secrets_.streams[i].chain.fill(0x31 + i);
    // The epoch-0 key of guest -> device queue 0.
    std::memcpy(g_secret.data(), secrets_.streams[0].key.data(), g_secret.size());
    g_blocks_with_secret = g_blocks_freed = 0;
  }
  void TearDown() override { g_watching = false; }
  std::unique_ptr<Aead> aead_;
  SessionSecrets secrets_;
};

TEST_F(RekeyWipe, the_hook_finds_a_key_freed_without_a_wipe) {
  auto *raw = new std::array<uint8_t, 64>();
  std::memcpy(raw->data() + 8, g_secret.data(), g_secret.size());
  asm volatile("" : : "r"(raw) : "memory");  // the allocation and the copy must happen
  g_watching = true;
  delete raw;
  g_watching = false;
  EXPECT_EQ(g_blocks_with_secret, 1u);
}

TEST_F(RekeyWipe, the_sender_frees_its_old_key_wiped_when_it_moves_on) {
  SessionCrypto guest(*aead_, secrets_);
  guest.set_rekey({.after_messages = 16});
  for (uint64_t i = 1; i <= 16; ++i) {
    Descriptor d = write_on_queue0(i);
    ASSERT_EQ(guest.seal(Dir::kGuestToDevice, d), Status::kOk);
  }
  g_watching = true;
  Descriptor d = write_on_queue0(17);
  ASSERT_EQ(guest.seal(Dir::kGuestToDevice, d), Status::kOk);  // epoch 1: key 0 goes
  g_watching = false;
  EXPECT_EQ(guest.rekey_stats().tx_rekeys, 1u);
  EXPECT_GT(g_blocks_freed, 0u);
  EXPECT_EQ(g_blocks_with_secret, 0u);
}

TEST_F(RekeyWipe, the_receiver_frees_the_previous_key_wiped_after_the_overlap) {
  SessionCrypto guest(*aead_, secrets_), device(*aead_, secrets_);
  guest.set_rekey({.after_messages = 16});
  device.set_rekey({.overlap_messages = 4});
  g_watching = true;
  for (uint64_t i = 1; i <= 32; ++i) {
    Descriptor d = write_on_queue0(i);
    ASSERT_EQ(guest.seal(Dir::kGuestToDevice, d), Status::kOk);
    ASSERT_EQ(device.open(Dir::kGuestToDevice, d), Status::kOk) << i;
  }
  g_watching = false;
  EXPECT_EQ(device.rekey_stats().old_keys_wiped, 1u);  // epoch 0's key, 4 past the switch
  EXPECT_GT(g_blocks_freed, 0u);
  EXPECT_EQ(g_blocks_with_secret, 0u);
}

TEST_F(RekeyWipe, the_receiver_wipes_the_previous_key_on_its_timer_with_nothing_arriving) {
  SessionCrypto guest(*aead_, secrets_), device(*aead_, secrets_);
  guest.set_rekey({.after_messages = 16});
  device.set_rekey({.overlap_ns = 20'000'000});  // overlap_messages stays far off
  for (uint64_t i = 1; i <= 17; ++i) {
    Descriptor d = write_on_queue0(i);
    ASSERT_EQ(guest.seal(Dir::kGuestToDevice, d), Status::kOk);
    ASSERT_EQ(device.open(Dir::kGuestToDevice, d), Status::kOk) << i;
  }
  ASSERT_EQ(device.rekey_stats().rx_rekeys, 1u);
  EXPECT_EQ(device.expire_old_keys(), 0u);  // inside the overlap
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  g_watching = true;
  EXPECT_EQ(device.expire_old_keys(), 1u);  // the housekeeping timer, no descriptor needed
  g_watching = false;
  EXPECT_EQ(device.rekey_stats().old_keys_wiped, 1u);
  EXPECT_GT(g_blocks_freed, 0u);
  EXPECT_EQ(g_blocks_with_secret, 0u);
  EXPECT_EQ(device.expire_old_keys(), 0u);  // nothing left to wipe
}

}  // namespace
}  // namespace ferry::proto
