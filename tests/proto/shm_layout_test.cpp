// The shared-memory header: a formatted region validates, and every inconsistent header a
// hostile host could write is refused with a message that says what is wrong.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "ferry/proto/shm_layout.h"

namespace ferry::proto {
namespace {

struct Region {
  explicit Region(uint64_t n) : size(n), mem(static_cast<uint8_t *>(std::aligned_alloc(4096, n))) {
    std::memset(mem.get(), 0, n);
  }
  struct Free {
    void operator()(uint8_t *p) const { std::free(p); }
  };
  uint64_t size;
  std::unique_ptr<uint8_t, Free> mem;
  ShmLayoutLine &layout() { return reinterpret_cast<ShmHeader *>(mem.get())->layout; }
};

ShmGeometry small_geometry() {
  ShmGeometry g;
  g.channel = 3;
  g.n_queues = 2;
  g.ring_slots = 64;
  g.chunk_size = 4096;
  g.n_chunks = 16;
  g.dma_base = 0x40000;
  return g;
}

std::string validate(Region &r, uint64_t size = 0) {
  ShmGeometry g;
  uint64_t q, s, m, w;
  return shm_validate(r.mem.get(), size ? size : r.size, g, q, s, m, w);
}

TEST(ShmLayout, formatted_region_validates_and_reports_its_geometry) {
  ShmGeometry g = small_geometry();
  Region r(shm_region_size(g));
  shm_format(r.mem.get(), r.size, g);
  ShmGeometry out;
  uint64_t q = 0, s = 0, m = 0, w = 0;
  ASSERT_EQ(shm_validate(r.mem.get(), r.size, out, q, s, m, w), "");
  EXPECT_EQ(out.channel, 3u);
  EXPECT_EQ(out.n_queues, 2u);
  EXPECT_EQ(out.ring_slots, 64u);
  EXPECT_EQ(out.chunk_size, 4096u);
  EXPECT_EQ(out.n_chunks, 16u);
  EXPECT_EQ(out.dma_base, 0x40000u);
  EXPECT_EQ(q, kShmHeaderSize);
  EXPECT_EQ(s, shm_queue_stride(g));
  EXPECT_EQ(s, 2 * (sizeof(RingHeader) + 64 * 64));
  EXPECT_GE(m, q + 2 * s);
  EXPECT_GE(w, m + 16 * sizeof(ChunkMeta));
  EXPECT_EQ(w % 4096, 0u);
  EXPECT_LE(w + 16 * 4096, r.size);
  EXPECT_EQ(reinterpret_cast<ShmHeader *>(r.mem.get())->host.state,
            static_cast<uint32_t>(ShmState::kFormatted));
}

TEST(ShmLayout, default_geometry_fits_its_region) {
  ShmGeometry g;
  Region r(shm_region_size(g));
  shm_format(r.mem.get(), r.size, g);
  EXPECT_EQ(validate(r), "");
}

TEST(ShmLayout, format_refuses_bad_geometry_and_small_regions) {
  Region r(1 << 20);
  auto bad = [&](auto mutate) {
    ShmGeometry g = small_geometry();
    mutate(g);
    EXPECT_THROW(shm_format(r.mem.get(), r.size, g), std::invalid_argument);
  };
  bad([](ShmGeometry &g) { g.ring_slots = 100; });
  bad([](ShmGeometry &g) { g.ring_slots = 0; });
  bad([](ShmGeometry &g) { g.chunk_size = 1000; });
  bad([](ShmGeometry &g) { g.chunk_size = 2 * 65536; });
  bad([](ShmGeometry &g) { g.n_queues = 0; });
  bad([](ShmGeometry &g) { g.n_queues = 65; });
  bad([](ShmGeometry &g) { g.n_chunks = 0; });
  bad([](ShmGeometry &g) { g.dma_base = ~0ull - 100; });
  bad([](ShmGeometry &g) { g.n_chunks = 1000; });  // needs more than 1 MiB
}

struct Corruption {
  const char *name;
  void (*mutate)(ShmLayoutLine &);
  const char *says;  // a word the message must contain
};

const Corruption kCorruptions[] = {
    {"magic", [](ShmLayoutLine &l) { l.magic.set(1); }, "magic"},
    {"version", [](ShmLayoutLine &l) { l.version.set(2); }, "version"},
    {"header_size", [](ShmLayoutLine &l) { l.header_size.set(8192); }, "header_size"},
    {"region_larger_than_mapping",
     [](ShmLayoutLine &l) { l.region_size.set(l.region_size.get() * 2); }, "region_size"},
    {"region_below_header", [](ShmLayoutLine &l) { l.region_size.set(100); }, "region_size"},
    {"ring_slots_not_power_of_two", [](ShmLayoutLine &l) { l.ring_slots.set(65); }, "ring_slots"},
    {"ring_slots_huge", [](ShmLayoutLine &l) { l.ring_slots.set(1u << 31); }, "ring_slots"},
    {"chunk_size_not_multiple_of_64", [](ShmLayoutLine &l) { l.chunk_size.set(4000); },
     "chunk_size"},
    {"chunk_size_too_large", [](ShmLayoutLine &l) { l.chunk_size.set(1u << 20); }, "chunk_size"},
    {"chunk_size_zero", [](ShmLayoutLine &l) { l.chunk_size.set(0); }, "chunk_size"},
    {"n_queues_zero", [](ShmLayoutLine &l) { l.n_queues.set(0); }, "n_queues"},
    {"n_queues_huge", [](ShmLayoutLine &l) { l.n_queues.set(0xffffffffu); }, "n_queues"},
    {"n_chunks_huge", [](ShmLayoutLine &l) { l.n_chunks.set(0xffffffffu); }, "outside"},
    {"queues_inside_header", [](ShmLayoutLine &l) { l.queues_offset.set(64); }, "queues"},
    {"queues_past_end", [](ShmLayoutLine &l) { l.queues_offset.set(~0ull & ~63ull); }, "queues"},
    {"stride_too_small", [](ShmLayoutLine &l) { l.queue_stride.set(l.queue_stride.get() - 64); },
     "queue_stride"},
    {"stride_overflows", [](ShmLayoutLine &l) { l.queue_stride.set(0x8000000000000000ull); },
     "overflow"},
    {"offset_unaligned", [](ShmLayoutLine &l) { l.meta_offset.set(l.meta_offset.get() + 8); },
     "multiples of 64"},
    {"meta_past_end", [](ShmLayoutLine &l) { l.meta_offset.set(l.region_size.get() - 64); },
     "metadata"},
    {"meta_wraps", [](ShmLayoutLine &l) { l.meta_offset.set(~0ull & ~63ull); }, "metadata"},
    {"window_past_end", [](ShmLayoutLine &l) { l.window_offset.set(l.window_offset.get() + 4096); },
     "window"},
    {"window_wraps", [](ShmLayoutLine &l) { l.window_offset.set(0xffffffffffff0000ull); },
     "window"},
    {"meta_overlaps_queues",
     [](ShmLayoutLine &l) { l.meta_offset.set(l.queues_offset.get() + 64); }, "overlap"},
    {"window_overlaps_meta", [](ShmLayoutLine &l) { l.window_offset.set(l.meta_offset.get()); },
     "overlap"},
    {"window_overlaps_queues", [](ShmLayoutLine &l) { l.window_offset.set(l.queues_offset.get()); },
     "overlap"},
    {"dma_base_wraps", [](ShmLayoutLine &l) { l.dma_base.set(~0ull - 4096); }, "dma_base"},
};

void PrintTo(const Corruption &c, std::ostream *os) {
  *os << c.name;
}

class ShmCorruption : public ::testing::TestWithParam<Corruption> {};

TEST_P(ShmCorruption, inconsistent_header_is_refused_with_a_message_naming_the_problem) {
  ShmGeometry g = small_geometry();
  Region r(shm_region_size(g));
  shm_format(r.mem.get(), r.size, g);
  GetParam().mutate(r.layout());
  ShmGeometry out{};
  out.n_queues = 12345;
  uint64_t q = 7, s = 7, m = 7, w = 7;
  std::string why = shm_validate(r.mem.get(), r.size, out, q, s, m, w);
  EXPECT_NE(why, "");
  EXPECT_NE(why.find(GetParam().says), std::string::npos) << why;
  EXPECT_EQ(out.n_queues, 12345u) << "outputs untouched on failure";
  EXPECT_EQ(q, 7u);
}

INSTANTIATE_TEST_SUITE_P(Fields, ShmCorruption, ::testing::ValuesIn(kCorruptions),
                         [](const auto &info) { return std::string(info.param.name); });

TEST(ShmLayout, region_smaller_than_a_header_is_refused) {
  Region r(4096);
  EXPECT_NE(validate(r, 100).find("smaller"), std::string::npos);
}

TEST(ShmLayout, mapping_smaller_than_the_claimed_region_is_refused) {
  ShmGeometry g = small_geometry();
  Region r(shm_region_size(g));
  shm_format(r.mem.get(), r.size, g);
  EXPECT_NE(validate(r, r.size - 4096).find("region_size"), std::string::npos);
}

TEST(ShmLayout, unformatted_region_is_refused) {
  Region r(1 << 16);
  EXPECT_NE(validate(r).find("magic"), std::string::npos);
}

TEST(ShmLayout, sizes_follow_the_geometry) {
  ShmGeometry g = small_geometry();
  EXPECT_EQ(shm_ring_bytes(g), 128u + 64u * 64u);
  EXPECT_EQ(shm_queue_stride(g), 2 * shm_ring_bytes(g));
  EXPECT_EQ(shm_region_size(g) % 4096, 0u);
  EXPECT_GE(shm_region_size(g), kShmHeaderSize + 2 * shm_queue_stride(g) + 16 * (64 + 4096));
}

}  // namespace
}  // namespace ferry::proto
