// A hostile host attacks the DMA window: swapped, stale, spliced or truncated chunks and
// garbage metadata. sync_for_cpu must fail and copy nothing; the device must refuse chunks
// the guest did not seal; metadata other than the tag is never trusted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "edu_ops.h"
#include "guest_fixture.h"

namespace ferry {
namespace {

using testing::edu_dma;
using testing::EduModel;
using testing::open_guest;
using testing::Responder;
using testing::ResponderOptions;
using testing::with_model;

constexpr size_t kChunk = 4096;
constexpr uint8_t kSentinel = 0xee;

// A guest with an edu whose buffer holds a known pattern, and a 2-chunk destination buffer
// the device has written (but the guest has not synced yet).
class HostileDma : public ::testing::Test {
 protected:
  void SetUp() override {
    ResponderOptions o;
    o.params["dma_buffer_size"] = 4 * kChunk;
    o.region.n_queues = 2;  // queue 1: a driver thread the device's queue-0 traffic bypasses
    r = std::make_unique<Responder>(o);
    config::GuestConfig cfg = r->guest_config();
    cfg.n_queues = 2;
    dev = open_guest(cfg);
    ASSERT_TRUE(dev);
    pattern.resize(2 * kChunk);
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 7 + 1);
    load_device(pattern);
    dst = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), 2 * kChunk, &dst_dma));
    ASSERT_NE(dst, nullptr);
    ASSERT_EQ(edu_dma(dev.get(), EduModel::kDmaBufferAddr, dst_dma, 2 * kChunk, true), 0);
    std::memset(dst, kSentinel, 2 * kChunk);
    first = chunk_index(dst_dma);
  }

  // Puts `bytes` into the device buffer through a guest buffer (RAM -> device).
  void load_device(const std::vector<uint8_t> &bytes) {
    uint64_t dma = 0;
    auto *src = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), bytes.size(), &dma));
    ASSERT_NE(src, nullptr);
    std::memcpy(src, bytes.data(), bytes.size());
    ASSERT_EQ(ferry_dma_sync_for_device(dev.get(), dma, bytes.size()), 0);
    ASSERT_EQ(edu_dma(dev.get(), dma, EduModel::kDmaBufferAddr, bytes.size(), false), 0);
    ferry_dma_free(dev.get(), src, bytes.size());
  }

  uint32_t chunk_index(uint64_t dma) const {
    return static_cast<uint32_t>(dma - r->region().geometry().dma_base) / kChunk;
  }
  bool untouched() const {
    return std::all_of(dst, dst + 2 * kChunk, [](uint8_t b) { return b == kSentinel; });
  }
  // Copy of a chunk's window bytes and metadata, as a host would keep one.
  struct Saved {
    std::vector<uint8_t> bytes;
    proto::ChunkMeta meta;
  };
  Saved save(uint32_t c) {
    Saved s{std::vector<uint8_t>(kChunk), {}};
    r->paused([&] {
      std::memcpy(s.bytes.data(), r->region().chunk(c), kChunk);
      std::memcpy(&s.meta, r->region().meta(c), sizeof(s.meta));
    });
    return s;
  }
  void restore(uint32_t c, const Saved &s) {
    r->paused([&] {
      std::memcpy(r->region().chunk(c), s.bytes.data(), kChunk);
      std::memcpy(r->region().meta(c), &s.meta, sizeof(s.meta));
    });
  }

  std::unique_ptr<Responder> r;
  testing::DevPtr dev;
  std::vector<uint8_t> pattern;
  uint8_t *dst = nullptr;
  uint64_t dst_dma = 0;
  uint32_t first = 0;
};

TEST_F(HostileDma, an_untouched_window_syncs_correctly) {
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, 2 * kChunk), 0);
  EXPECT_EQ(std::memcmp(dst, pattern.data(), 2 * kChunk), 0);
}

TEST_F(HostileDma, swapped_chunks_fail_the_sync_and_copy_nothing) {
  Saved a = save(first), b = save(first + 1);
  restore(first, b);
  restore(first + 1, a);
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, 2 * kChunk), -EBADMSG);
  EXPECT_EQ(ferry_last_error(dev.get()), -EBADMSG);
  EXPECT_TRUE(untouched()) << "bytes were copied from a chunk that did not verify";
  // Put them back: the same sync now works (a failed sync consumed nothing).
  restore(first, a);
  restore(first + 1, b);
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, 2 * kChunk), 0);
  EXPECT_EQ(std::memcmp(dst, pattern.data(), 2 * kChunk), 0);
}

TEST_F(HostileDma, one_bad_chunk_fails_the_whole_range_even_when_the_other_verifies) {
  Saved b = save(first + 1);
  r->paused([&] { r->region().chunk(first + 1)[100] ^= 1; });
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, 2 * kChunk), -EBADMSG);
  EXPECT_TRUE(untouched());
  // The good chunk alone still syncs.
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, kChunk), 0);
  EXPECT_EQ(std::memcmp(dst, pattern.data(), kChunk), 0);
  restore(first + 1, b);
}

TEST_F(HostileDma, a_stale_chunk_from_an_earlier_device_write_is_refused) {
  Saved old = save(first);
  // The device writes new contents to the same buffer (a newer version).
  std::vector<uint8_t> newer(2 * kChunk, 0x33);
  load_device(newer);
  ASSERT_EQ(edu_dma(dev.get(), EduModel::kDmaBufferAddr, dst_dma, 2 * kChunk, true), 0);
  restore(first, old);  // the host serves the old, validly sealed chunk
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, 2 * kChunk), -EBADMSG);
  EXPECT_TRUE(untouched());
}

TEST_F(HostileDma, a_dropped_guest_dma_sync_fails_the_session_instead_of_running_on_old_data) {
  uint64_t src_dma = 0;
  auto *src = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), kChunk, &src_dma));
  ASSERT_NE(src, nullptr);
  std::memset(src, 0x11, kChunk);
  ASSERT_EQ(ferry_dma_sync_for_device(dev.get(), src_dma, kChunk), 0);
  Saved old = save(chunk_index(src_dma));  // version 1, validly sealed
  // The guest writes a new job; the host deletes its kDmaSync and serves the old chunk.
  std::memset(src, 0x22, kChunk);
  r->paused([&] { r->to_device().drop_next(); });
  ASSERT_EQ(ferry_dma_sync_for_device(dev.get(), src_dma, kChunk), 0);  // posted
  restore(chunk_index(src_dma), old);
  // The job behind the missing announcement never runs; the driver learns the session failed.
  EXPECT_EQ(edu_dma(dev.get(), src_dma, EduModel::kDmaBufferAddr, kChunk, false), -EPROTO);
  ASSERT_TRUE(with_model<EduModel>(*r, [&](EduModel &m) {
    EXPECT_EQ(m.buffer()[0], pattern[0]);  // unchanged: the old job was not re-run
  }));
  EXPECT_EQ(ferry_dma_sync_for_device(dev.get(), src_dma, kChunk), -EPROTO);
  uint32_t v = 0;
  EXPECT_EQ(ferry_wait_irq(dev.get(), &v, 10), -EPROTO);
}

// The device writes new contents into dst (both chunks); the host withholds `withheld` of
// the two kDmaSync announcements and, once the transfer is done, puts the old chunks (the
// fixture's, still the guest's announced versions) back: served without the check, they
// open fine and the driver reads the previous output.
class WithheldAnnouncement : public HostileDma {
 protected:
  void SetUp() override {
    HostileDma::SetUp();
    old0 = save(first);
    old1 = save(first + 1);
    load_device(std::vector<uint8_t>(2 * kChunk, 0x5a));
  }
  void withhold(size_t withheld) {
    r->paused([&] { r->to_host().drop_next_of_kind(proto::Kind::kSealed, withheld); });
  }
  void serve_old_chunks() {
    restore(first, old0);
    restore(first + 1, old1);
  }
  Saved old0, old1;
};

TEST_F(WithheldAnnouncement, the_interrupt_behind_a_withheld_dma_sync_fails_the_wait_and_sync) {
  withhold(2);
  ferry_iowrite64(dev.get(), 0, EduModel::kRegDmaSrc, EduModel::kDmaBufferAddr);
  ferry_iowrite64(dev.get(), 0, EduModel::kRegDmaDst, dst_dma);
  ferry_iowrite64(dev.get(), 0, EduModel::kRegDmaCount, 2 * kChunk);
  ferry_iowrite64(dev.get(), 0, EduModel::kRegDmaCmd,
                  EduModel::kDmaCmdStart | EduModel::kDmaCmdToRam | EduModel::kDmaCmdIrq);
  uint32_t vectors = 0;
  // The interrupt comes after the announcements on queue 0: it is not taken past the gap.
  EXPECT_EQ(ferry_wait_irq(dev.get(), &vectors, 2000), -EPROTO);
  serve_old_chunks();
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, 2 * kChunk), -EPROTO);
  EXPECT_TRUE(untouched()) << "the previous output was handed to the driver";
  EXPECT_GT(dev->impl->stats().seq_gaps, 0u);
}

TEST_F(WithheldAnnouncement, one_dma_sync_dropped_in_the_middle_of_the_stream_fails_the_session) {
  withhold(1);  // the first chunk's; the second chunk's and the status reads go through
  EXPECT_EQ(edu_dma(dev.get(), EduModel::kDmaBufferAddr, dst_dma, 2 * kChunk, true), -EPROTO);
  serve_old_chunks();
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, 2 * kChunk), -EPROTO);
  EXPECT_TRUE(untouched());
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegLiveness), ~0u);
  EXPECT_EQ(ferry_last_error(dev.get()), -EPROTO);
}

TEST_F(WithheldAnnouncement, a_completion_on_another_queue_binds_the_dma_syncs_sent_before_it) {
  // Queue 0 carries only the announcements, all withheld: no gap shows on it. The driver
  // runs the transfer and sees it finish on queue 1, whose completions say how many
  // announcements the device had sent.
  withhold(2);
  guest::Device &d = *dev->impl;
  ASSERT_EQ(d.write(1, 0, EduModel::kRegDmaSrc, 8, EduModel::kDmaBufferAddr), 0);
  ASSERT_EQ(d.write(1, 0, EduModel::kRegDmaDst, 8, dst_dma), 0);
  ASSERT_EQ(d.write(1, 0, EduModel::kRegDmaCount, 8, 2 * kChunk), 0);
  ASSERT_EQ(d.write(1, 0, EduModel::kRegDmaCmd, 8, EduModel::kDmaCmdStart | EduModel::kDmaCmdToRam),
            0);
  uint64_t cmd = EduModel::kDmaCmdStart;
  for (int i = 0; i < 50000 && (cmd & EduModel::kDmaCmdStart) != 0; ++i)
    ASSERT_EQ(d.read(1, 0, EduModel::kRegDmaCmd, 8, cmd), 0);
  ASSERT_EQ(cmd & EduModel::kDmaCmdStart, 0u);
  serve_old_chunks();
  EXPECT_EQ(d.sync_for_cpu(1, dst_dma, 2 * kChunk), -EPROTO);
  EXPECT_TRUE(untouched()) << "the previous output was handed to the driver";
  EXPECT_EQ(d.stats().announcements_missing, 1u);
  uint64_t v = 0;
  EXPECT_EQ(d.read(1, 0, EduModel::kRegLiveness, 4, v), -EPROTO);  // the session failed
}

TEST_F(HostileDma, a_chunk_spliced_from_another_address_is_refused) {
  // Another device-written buffer; its first chunk is copied over ours.
  uint64_t other_dma = 0;
  void *other = ferry_dma_alloc(dev.get(), kChunk, &other_dma);
  ASSERT_NE(other, nullptr);
  ASSERT_EQ(edu_dma(dev.get(), EduModel::kDmaBufferAddr, other_dma, kChunk, true), 0);
  Saved foreign = save(chunk_index(other_dma));
  restore(first, foreign);
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, kChunk), -EBADMSG);
  EXPECT_TRUE(untouched());
}

TEST_F(HostileDma, a_truncated_chunk_is_refused) {
  r->paused([&] { std::memset(r->region().chunk(first) + kChunk - 100, 0, 100); });
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, kChunk), -EBADMSG);
  EXPECT_TRUE(untouched());
}

TEST_F(HostileDma, metadata_other_than_the_tag_is_never_trusted) {
  r->paused([&] {
    proto::ChunkMeta *m = r->region().meta(first);
    m->version.set(0xdeadbeefdeadbeefull);
    m->len.set(0xffffffffu);  // "longer" than the chunk
    m->writer = 0x77;
    m->valid = 0;
  });
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, kChunk), 0)
      << "the shim used a metadata field it must not trust";
  EXPECT_EQ(std::memcmp(dst, pattern.data(), kChunk), 0);
  r->paused([&] { r->region().meta(first)->len.set(10); });  // "truncated"
  ASSERT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, kChunk), 0);
  std::memset(dst, kSentinel, 2 * kChunk);
  r->paused([&] { r->region().meta(first)->tag[0] ^= 0x80; });
  EXPECT_EQ(ferry_dma_sync_for_cpu(dev.get(), dst_dma, kChunk), -EBADMSG);
  EXPECT_TRUE(untouched());
}

TEST_F(HostileDma, a_chunk_the_host_changed_after_sync_for_device_is_refused_by_the_device) {
  uint64_t dma = 0;
  auto *src = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), kChunk, &dma));
  ASSERT_NE(src, nullptr);
  std::memset(src, 0x5c, kChunk);
  ASSERT_EQ(ferry_dma_sync_for_device(dev.get(), dma, kChunk), 0);
  r->paused([&] { r->region().chunk(chunk_index(dma))[7] ^= 0x01; });
  ASSERT_EQ(edu_dma(dev.get(), dma, EduModel::kDmaBufferAddr, kChunk, false), 0);
  ASSERT_TRUE(with_model<EduModel>(*r, [&](EduModel &m) {
    EXPECT_GE(m.dma_failed(), 1u);
    EXPECT_EQ(std::memcmp(m.buffer().data(), pattern.data(), kChunk), 0)
        << "the device took bytes the guest never sealed";
  }));
}

}  // namespace
}  // namespace ferry
