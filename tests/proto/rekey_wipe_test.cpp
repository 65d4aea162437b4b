// A rekey wipes the key it replaces: this executable links tests/support/freed_memory.cpp,
// which searches every block freed during a scan for a watched secret (an AES key's first
// round key is the key itself) before it goes back to the allocator. The receiver also wipes the previous key when its
// overlap time ends, on the housekeeping timer.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstring>
#include <thread>

#include "ferry/proto/aead.h"
#include "ferry/proto/session.h"
#include "freed_memory.h"
#include "proto_test_util.h"
#include "require.h"

namespace ferry::proto {
namespace {

using testing::FreedScan;
using testing::start_freed_scan;
using testing::stop_freed_scan;

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
    std::memcpy(secret_.data(), secrets_.streams[0].key.data(), secret_.size());
  }
  void TearDown() override { stop_freed_scan(); }
  std::unique_ptr<Aead> aead_;
  SessionSecrets secrets_;
  std::array<uint8_t, 16> secret_{};
};

TEST_F(RekeyWipe, the_hook_finds_a_key_freed_without_a_wipe) {
  auto *raw = new std::array<uint8_t, 64>();
  std::memcpy(raw->data() + 8, secret_.data(), secret_.size());
  asm volatile("" : : "r"(raw) : "memory");  // the allocation and the copy must happen
  start_freed_scan(secret_);
  delete raw;
  const FreedScan scan = stop_freed_scan();
  EXPECT_EQ(scan.blocks_with_secret, 1u);
}

TEST_F(RekeyWipe, the_sender_frees_its_old_key_wiped_when_it_moves_on) {
  SessionCrypto guest(*aead_, secrets_);
  guest.set_rekey({.after_messages = 16});
  for (uint64_t i = 1; i <= 16; ++i) {
    Descriptor d = write_on_queue0(i);
    ASSERT_EQ(guest.seal(Dir::kGuestToDevice, d), Status::kOk);
  }
  start_freed_scan(secret_);
  Descriptor d = write_on_queue0(17);
  ASSERT_EQ(guest.seal(Dir::kGuestToDevice, d), Status::kOk);  // epoch 1: key 0 goes
  const FreedScan scan = stop_freed_scan();
  EXPECT_EQ(guest.rekey_stats().tx_rekeys, 1u);
  EXPECT_GT(scan.blocks_freed, 0u);
  EXPECT_EQ(scan.blocks_with_secret, 0u);
}

TEST_F(RekeyWipe, the_receiver_frees_the_previous_key_wiped_after_the_overlap) {
  SessionCrypto guest(*aead_, secrets_), device(*aead_, secrets_);
  guest.set_rekey({.after_messages = 16});
  device.set_rekey({.overlap_messages = 4});
  start_freed_scan(secret_);
  for (uint64_t i = 1; i <= 32; ++i) {
    Descriptor d = write_on_queue0(i);
    ASSERT_EQ(guest.seal(Dir::kGuestToDevice, d), Status::kOk);
    ASSERT_EQ(device.open(Dir::kGuestToDevice, d), Status::kOk) << i;
  }
  const FreedScan scan = stop_freed_scan();
  EXPECT_EQ(device.rekey_stats().old_keys_wiped, 1u);  // epoch 0's key, 4 past the switch
  EXPECT_GT(scan.blocks_freed, 0u);
  EXPECT_EQ(scan.blocks_with_secret, 0u);
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
  start_freed_scan(secret_);
  EXPECT_EQ(device.expire_old_keys(), 1u);  // the housekeeping timer, no descriptor needed
  const FreedScan scan = stop_freed_scan();
  EXPECT_EQ(device.rekey_stats().old_keys_wiped, 1u);
  EXPECT_GT(scan.blocks_freed, 0u);
  EXPECT_EQ(scan.blocks_with_secret, 0u);
  EXPECT_EQ(device.expire_old_keys(), 0u);  // nothing left to wipe
}

}  // namespace
}  // namespace ferry::proto
