// What a block held when it went back to the allocator, for the tests that check that key
// material is wiped before its memory is freed. The hooks replace the global operator new and
// delete, so support/freed_memory.cpp is linked into such a test's executable itself (meson:
// `freed_memory_src`), not into the support library, where every test would get them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ferry::testing {

// The next delete of `block` copies its bytes (up to 64 KiB) just before they are freed.
void watch_next_free(const void *block);
// What the watched block held when it was freed (empty until it is).
std::span<const uint8_t> watched_block_bytes();

// From start_freed_scan() to stop_freed_scan(), every block deleted is searched for `secret`
// (at most 64 bytes) just before it is freed.
void start_freed_scan(std::span<const uint8_t> secret);
struct FreedScan {
  size_t blocks_freed = 0;
  size_t blocks_with_secret = 0;
};
FreedScan stop_freed_scan();

// True if `needle` stands anywhere in `haystack`.
bool contains(std::span<const uint8_t> haystack, std::span<const uint8_t> needle);

}  // namespace ferry::testing
