// What a hostile host does to a shared ring index, in the guest tests (in process) and in
// ferry-hostile-host (a separate process on a running data plane's region): one write that
// jumps far ahead, steps back, or stores any value.
#pragma once

#include <atomic>
#include <cstdint>

namespace ferry::testing {

template <typename Rng>
void scribble_index(uint32_t &index, Rng &rng) {
  std::atomic_ref<uint32_t> idx(index);
  switch (rng() % 3) {
    case 0:
      idx.fetch_add(1 + rng() % 100000);
      break;
    case 1:
      idx.fetch_sub(1 + rng() % 4);
      break;
    default:
      idx.store(rng());
  }
}

}  // namespace ferry::testing
