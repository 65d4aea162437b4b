#include "ferry/engine/transport.h"

#include <time.h>

namespace ferry::engine {

void Transport::idle_wait(uint32_t us) {
  timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
  nanosleep(&ts, nullptr);
}

void Transport::set_test_drops(uint32_t next_n, uint32_t every_nth, uint32_t permille,
                               uint64_t seed) {
  drop_next_ = next_n;
  drop_every_ = every_nth;
  drop_permille_ = permille > 1000 ? 1000 : permille;
  drop_count_ = 0;
  rng_ = seed ? seed : 1;
  drops_armed_ = next_n || every_nth || permille;
}

bool Transport::test_drop_slow() {
  ++drop_count_;
  bool drop = false;
  if (drop_next_ > 0) {
    --drop_next_;
    drop = true;
  }
  if (drop_every_ && drop_count_ % drop_every_ == 0) drop = true;
  if (drop_permille_) {
    rng_ ^= rng_ << 13;  // xorshift64: reproducible from the seed
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    if (rng_ % 1000 < drop_permille_) drop = true;
  }
  if (drop) counters_.test_drops.add();
  return drop;
}

}  // namespace ferry::engine
