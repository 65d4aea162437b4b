// A forged descriptor that claims a later key epoch makes the receiver derive that epoch's key
// on trial. Failed trials are rate-limited per session (kEpochTrialBurst, then one per
// kEpochTrialRefillNs), so a flood of them costs about what a flood of forged current-epoch
// descriptors costs, the refused ones are counted, and the genuine next epoch still opens once
// the flood stops.
#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <thread>

#include "ferry/proto/aead.h"
#include "ferry/proto/session.h"
#include "proto_test_util.h"

namespace ferry::proto {
namespace {

constexpr int kForgeries = 4000;

Descriptor forged(uint64_t epoch, uint64_t counter) {
  Descriptor d{};
  d.hdr.version = kProtoVersion;
  d.hdr.kind = static_cast<uint8_t>(Kind::kSealed);  // as every sealed descriptor on the wire
  d.hdr.seq.set(epoch << kKeyEpochShift | counter);
  d.tag[0] = 0x42;  // no key made this tag
  return d;
}

uint64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// CPU time the receiver spends refusing kForgeries forgeries of `epoch`.
uint64_t cost_of_refusing(SessionCrypto &rx, uint64_t epoch) {
  const uint64_t t0 = thread_cpu_ns();
  for (int i = 1; i <= kForgeries; ++i) {
    Descriptor d = forged(epoch, static_cast<uint64_t>(i));
    EXPECT_NE(rx.open(Dir::kGuestToDevice, d), Status::kOk);
  }
  return thread_cpu_ns() - t0;
}

class ForgedEpoch : public ::testing::Test {
 protected:
  void SetUp() override {
    aead_ = Aead::create_best();
    secrets_ = test::test_secrets(SessionParams{});
  }
  std::unique_ptr<Aead> aead_;
  SessionSecrets secrets_;
};

TEST_F(ForgedEpoch, forged_future_epoch_descriptors_cost_about_what_forged_current_ones_cost) {
  SessionCrypto rx(*aead_, secrets_);
  // The first trials may run the KDF (and OpenSSL's first fetch loads its provider): spend
  // the burst before anything is timed.
  for (uint32_t i = 1; i <= kEpochTrialBurst; ++i) {
    Descriptor d = forged(kMaxKeyEpochSkip, i);
    ASSERT_NE(rx.open(Dir::kGuestToDevice, d), Status::kOk);
  }
  const uint64_t current = cost_of_refusing(rx, 0);
  const uint64_t ahead = cost_of_refusing(rx, kMaxKeyEpochSkip);
  EXPECT_LT(ahead, 4 * current + 2'000'000)
      << "refusing " << kForgeries << " forgeries " << kMaxKeyEpochSkip << " epochs ahead took "
      << ahead / 1000 << " us of CPU, current-epoch ones " << current / 1000
      << " us: each one ran the key derivation";
  EXPECT_EQ(rx.key_epoch(Dir::kGuestToDevice, 0), 0u);
}

TEST_F(ForgedEpoch, refused_trials_are_counted_and_the_genuine_next_epoch_opens_after_the_flood) {
  SessionCrypto tx(*aead_, secrets_), rx(*aead_, secrets_);
  tx.set_rekey({.after_messages = 1});
  for (int i = 1; i <= kForgeries; ++i) {
    Descriptor d =
        forged(1 + static_cast<uint64_t>(i) % kMaxKeyEpochSkip, static_cast<uint64_t>(i));
    ASSERT_NE(rx.open(Dir::kGuestToDevice, d), Status::kOk);
  }
  // Trials ran only for the burst and what refilled meanwhile; every other one was counted.
  EXPECT_GE(rx.rekey_stats().epoch_trials_refused, kForgeries - kEpochTrialBurst - 100u);
  EXPECT_EQ(rx.rekey_stats().rx_rekeys, 0u);
  // The real sender moves to epoch 1 (its first descriptor is epoch 0, the second epoch 1).
  Descriptor first = forged(0, 1), second = forged(0, 2);  // sealing replaces the tags
  first.hdr.kind = second.hdr.kind = static_cast<uint8_t>(Kind::kMmioWrite);  // what is sealed
  ASSERT_EQ(tx.seal(Dir::kGuestToDevice, first), Status::kOk);
  ASSERT_EQ(tx.seal(Dir::kGuestToDevice, second), Status::kOk);
  ASSERT_EQ(seq_key_epoch(second.hdr.seq.get()), 1u);
  ASSERT_EQ(rx.open(Dir::kGuestToDevice, first), Status::kOk);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(rx.open(Dir::kGuestToDevice, second), Status::kOk);
  EXPECT_EQ(rx.key_epoch(Dir::kGuestToDevice, 0), 1u);
}

}  // namespace
}  // namespace ferry::proto
