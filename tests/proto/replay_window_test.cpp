// The RFC 6479 replay window: what it accepts, what it drops, and its edges.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "ferry/proto/replay_window.h"

namespace ferry::proto {
namespace {

TEST(ReplayWindow, in_order_sequence_numbers_are_all_accepted_once) {
  ReplayWindow w;
  for (uint64_t s = 1; s <= 10000; ++s) {
    ASSERT_TRUE(w.check(s)) << s;
    ASSERT_TRUE(w.update(s)) << s;
    ASSERT_FALSE(w.check(s)) << s;
  }
  EXPECT_EQ(w.highest(), 10000u);
}

TEST(ReplayWindow, sequence_zero_is_never_valid) {
  ReplayWindow w;
  EXPECT_FALSE(w.check(0));
  EXPECT_FALSE(w.update(0));
}

TEST(ReplayWindow, duplicates_are_rejected_and_change_nothing) {
  ReplayWindow w;
  ASSERT_TRUE(w.update(5));
  ASSERT_TRUE(w.update(3));
  EXPECT_FALSE(w.update(5));
  EXPECT_FALSE(w.update(3));
  EXPECT_EQ(w.highest(), 5u);
  EXPECT_TRUE(w.check(4));
}

TEST(ReplayWindow, reordered_inside_the_window_is_accepted) {
  ReplayWindow w(1024);
  std::vector<uint64_t> seqs(2000);
  for (size_t i = 0; i < seqs.size(); ++i) seqs[i] = i + 1;
  std::mt19937_64 rng(1);
  // Shuffle within blocks of 500: every seq arrives less than 1024 behind the highest.
  for (size_t b = 0; b < seqs.size(); b += 500)
    std::shuffle(seqs.begin() + b, seqs.begin() + b + 500, rng);
  for (uint64_t s : seqs) ASSERT_TRUE(w.update(s)) << s;
  for (uint64_t s = 2000 - 1023; s <= 2000; ++s) EXPECT_FALSE(w.check(s)) << s;
}

TEST(ReplayWindow, exactly_window_bits_behind_is_too_old) {
  ReplayWindow w(1024);
  ASSERT_TRUE(w.update(5000));
  EXPECT_TRUE(w.check(5000 - 1023));   // oldest still inside
  EXPECT_FALSE(w.check(5000 - 1024));  // just outside
  EXPECT_FALSE(w.update(1));
  EXPECT_TRUE(w.update(5000 - 1023));
}

TEST(ReplayWindow, large_jump_forgets_the_old_window) {
  ReplayWindow w(1024);
  for (uint64_t s = 1; s <= 100; ++s) ASSERT_TRUE(w.update(s));
  ASSERT_TRUE(w.update(1'000'000'000'000ull));
  EXPECT_EQ(w.highest(), 1'000'000'000'000ull);
  EXPECT_FALSE(w.check(50));  // far too old now
  // Every slot of the new window is fresh, including ones whose ring words held old bits.
  for (uint64_t s = 1'000'000'000'000ull - 1023; s < 1'000'000'000'000ull; ++s)
    ASSERT_TRUE(w.check(s)) << s;
}

TEST(ReplayWindow, jump_of_one_word_clears_only_the_new_word) {
  ReplayWindow w(1024);
  for (uint64_t s = 1; s <= 64; ++s) ASSERT_TRUE(w.update(s));
  ASSERT_TRUE(w.update(130));  // two words ahead
  for (uint64_t s = 1; s <= 64; ++s) EXPECT_FALSE(w.check(s)) << s;
  for (uint64_t s = 65; s < 130; ++s) EXPECT_TRUE(w.check(s)) << s;
}

TEST(ReplayWindow, sixty_four_bit_word_boundaries_are_exact) {
  ReplayWindow w(1024);
  for (uint64_t s : {63ull, 64ull, 65ull, 127ull, 128ull, 129ull, 191ull, 192ull})
    ASSERT_TRUE(w.update(s)) << s;
  for (uint64_t s : {63ull, 64ull, 65ull, 127ull, 128ull, 129ull, 191ull, 192ull})
    EXPECT_FALSE(w.check(s)) << s;
  for (uint64_t s : {62ull, 66ull, 126ull, 130ull, 190ull, 193ull}) EXPECT_TRUE(w.check(s)) << s;
}

TEST(ReplayWindow, window_slides_across_the_ring_wrap_many_times) {
  ReplayWindow w(1024);
  std::set<uint64_t> seen;
  std::mt19937_64 rng(7);
  uint64_t top = 0;
  for (int i = 0; i < 200000; ++i) {
    // Mostly forward steps, sometimes a late one inside or just outside the window.
    uint64_t s;
    if (rng() % 4 == 0 && top > 1100)
      s = top - (rng() % 1100);
    else
      s = top + 1 + (rng() % 70);
    bool fresh = s + 1024 > top && seen.count(s) == 0;
    ASSERT_EQ(w.check(s), fresh || s > top) << s << " top " << top;
    bool took = w.update(s);
    ASSERT_EQ(took, fresh || s > top) << s;
    if (took) {
      seen.insert(s);
      top = std::max(top, s);
    }
  }
}

TEST(ReplayWindow, size_is_rounded_up_to_a_power_of_two_of_at_least_1024) {
  EXPECT_EQ(ReplayWindow(1).size_bits(), 1024u);
  EXPECT_EQ(ReplayWindow(1025).size_bits(), 2048u);
  EXPECT_EQ(ReplayWindow(4096).size_bits(), 4096u);
  EXPECT_THROW(ReplayWindow((1u << 20) + 1), std::invalid_argument);
}

TEST(ReplayWindow, larger_window_accepts_older_reordering) {
  ReplayWindow w(8192);
  ASSERT_TRUE(w.update(10000));
  EXPECT_TRUE(w.check(10000 - 8191));
  EXPECT_FALSE(w.check(10000 - 8192));
}

TEST(ReplayWindow, reset_forgets_everything) {
  ReplayWindow w;
  ASSERT_TRUE(w.update(77));
  w.reset();
  EXPECT_EQ(w.highest(), 0u);
  EXPECT_TRUE(w.update(77));
}

}  // namespace
}  // namespace ferry::proto
