// The data plane's shared-memory side on its own: region creation and formatting, SQ -> record
// draining, CQ filling with backpressure, and the DMA window (serving reads, storing writes).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fake_link.h"
#include "ferry/proto/descriptor.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/shm_ring.h"
#include "region.h"
#include "relay/host_region.h"
#include "relay/host_relay.h"
#include "require.h"
#include "responder.h"

namespace ferry {
namespace {

using dataplane::HostRegion;
using dataplane::HostRelay;
using proto::Descriptor;
using proto::DmaPiece;
using proto::DmaReadReq;
using proto::RecordType;

config::GuestRegion small_region(uint16_t queues = 2, uint32_t slots = 8) {
  config::GuestRegion r;
  r.path = testing::scratch_path("region");
  r.channel = 7;
  r.n_queues = queues;
  r.ring_slots = slots;
  r.chunk_size = 256;
  r.n_chunks = 16;
  r.dma_base = 0x100000;
  return r;
}

Descriptor desc(uint16_t queue, uint64_t seq) {
  Descriptor d{};
  d.hdr.version = proto::kProtoVersion;
  d.hdr.kind = static_cast<uint8_t>(proto::Kind::kMmioRead);
  d.hdr.queue.set(queue);
  d.hdr.channel.set(7);
  d.hdr.seq.set(seq);
  return d;
}

proto::RecordView view(RecordType t, uint32_t channel, const std::vector<uint8_t> &payload) {
  return {t, 0, channel, payload};
}

template <typename T>
std::vector<uint8_t> bytes_of(const T &v, std::span<const uint8_t> tail = {}) {
  std::vector<uint8_t> out(sizeof(T) + tail.size());
  std::memcpy(out.data(), &v, sizeof(T));
  if (!tail.empty()) std::memcpy(out.data() + sizeof(T), tail.data(), tail.size());
  return out;
}

TEST(HostRegion, creates_formats_and_removes_the_region_file) {
  config::GuestRegion r = small_region();
  {
    HostRegion region(r);
    struct stat st {};
    ASSERT_EQ(stat(r.path.c_str(), &st), 0);
    EXPECT_GE(static_cast<uint64_t>(st.st_size), proto::shm_region_size(region.geometry()));
    proto::ShmGeometry g;
    uint64_t qo, qs, mo, wo;
    EXPECT_EQ(proto::shm_validate(region.base(), region.size(), g, qo, qs, mo, wo), "");
    EXPECT_EQ(g.channel, 7u);
    EXPECT_EQ(g.n_queues, 2u);
    EXPECT_EQ(g.chunk_size, 256u);
    EXPECT_EQ(region.header()->host.state, static_cast<uint32_t>(proto::ShmState::kFormatted));
  }
  EXPECT_NE(access(r.path.c_str(), F_OK), 0) << "region file left behind";
}

// A data plane restart keeps a VM's BAR: the same file (same inode) is reformatted in place
// with the next generation, and a guest that had it mapped sees its session's host gone.
TEST(HostRegion, a_kept_file_of_the_same_size_is_reused_in_place_with_the_next_generation) {
  config::GuestRegion r = small_region();
  struct stat first {
  }, second{};
  std::unique_ptr<guest::Region> mapped;
  {
    HostRegion region(r, HostRegion::AtExit::kKeep);
    EXPECT_FALSE(region.reused());
    EXPECT_EQ(region.generation(), 1u);
    region.set_state(proto::ShmState::kHostReady);
    mapped = std::make_unique<guest::Region>(r.path);  // as the VM's shim maps its BAR
    EXPECT_TRUE(mapped->host_ready());
    ASSERT_EQ(stat(r.path.c_str(), &first), 0);
  }
  ASSERT_EQ(stat(r.path.c_str(), &second), 0) << "a kept region file was removed";
  EXPECT_FALSE(mapped->host_ready()) << "a stopped data plane still looks ready";
  {
    HostRegion region(r, HostRegion::AtExit::kRemove);
    EXPECT_TRUE(region.reused());
    EXPECT_EQ(region.generation(), 2u);
    ASSERT_EQ(stat(r.path.c_str(), &second), 0);
    EXPECT_EQ(second.st_ino, first.st_ino) << "the file was replaced, not reused";
    region.set_state(proto::ShmState::kHostReady);
    EXPECT_FALSE(mapped->host_ready()) << "the old session took the new generation for its own";
    guest::Region reopened(r.path);
    EXPECT_EQ(reopened.generation(), 2u);
    EXPECT_TRUE(reopened.host_ready());
  }
  EXPECT_NE(access(r.path.c_str(), F_OK), 0) << "region file left behind";
}

TEST(HostRegion, a_file_of_another_size_is_replaced_and_starts_at_generation_one) {
  config::GuestRegion r = small_region();
  { HostRegion region(r, HostRegion::AtExit::kKeep); }
  struct stat first {};
  ASSERT_EQ(stat(r.path.c_str(), &first), 0);
  r.n_chunks = 4096;  // another geometry: another size
  HostRegion region(r);
  struct stat second {};
  ASSERT_EQ(stat(r.path.c_str(), &second), 0);
  EXPECT_FALSE(region.reused());
  EXPECT_EQ(region.generation(), 1u);
  EXPECT_EQ(static_cast<uint64_t>(second.st_size), region.size());
}

// The hypervisor's user (QEMU, libvirt-qemu) maps the file: owner, group and mode as
// configured, on a new file and on one reused in place.
TEST(HostRegion, the_file_gets_the_configured_owner_group_and_mode) {
  FERRY_REQUIRE(geteuid() == 0, "changing a file's owner needs root");
  config::GuestRegion r = small_region();
  r.uid = 65534;
  r.gid = 65534;
  r.mode = 0640;
  for (int start = 0; start < 2; ++start) {
    HostRegion region(r, start == 0 ? HostRegion::AtExit::kKeep : HostRegion::AtExit::kRemove);
    EXPECT_EQ(region.reused(), start == 1);
    struct stat st {};
    ASSERT_EQ(stat(r.path.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 65534u);
    EXPECT_EQ(st.st_gid, 65534u);
    EXPECT_EQ(st.st_mode & 07777, start == 0 ? 0640u : 0660u);
    r.mode = 0660;  // the second start changes the mode of the reused file
  }
}

TEST(HostRegion, a_second_data_plane_on_the_same_region_is_refused) {
  config::GuestRegion r = small_region();
  HostRegion first(r);
  try {
    HostRegion second(r);
    ADD_FAILURE() << "two data planes formatted one region";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("in use by another data plane"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(first.header()->host.generation, 1u) << "the refused one touched the region";
}

// The region becomes the guest's ivshmem BAR, and a PCI BAR's size is a power of two.
TEST(HostRegion, the_region_file_is_a_power_of_two_in_size) {
  for (uint32_t chunks : {1u, 3u, 17u, 100u}) {
    config::GuestRegion r = small_region();
    r.n_chunks = chunks;
    HostRegion region(r);
    struct stat st {};
    ASSERT_EQ(stat(r.path.c_str(), &st), 0);
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    EXPECT_EQ(size, region.size());
    EXPECT_TRUE(std::has_single_bit(size)) << size << " bytes for " << chunks << " chunks";
    EXPECT_GE(size, proto::shm_region_size(region.geometry()));
    EXPECT_LT(size / 2, proto::shm_region_size(region.geometry())) << "more than needed";
  }
}

TEST(HostRegion, replaces_a_stale_file_with_a_zeroed_region) {
  config::GuestRegion r = small_region();
  {
    FILE *f = std::fopen(r.path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("garbage from a crashed data plane", f);
    std::fclose(f);
  }
  HostRegion region(r);
  EXPECT_EQ(region.meta(3)->valid, 0);
  EXPECT_EQ(region.chunk(15)[255], 0);
}

TEST(HostRegion, names_the_path_when_it_cannot_create_the_file) {
  config::GuestRegion r = small_region();
  r.path = "/nonexistent-dir/ferry-region";
  try {
    HostRegion region(r);
    FAIL() << "expected an error";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/ferry-region"), std::string::npos);
  }
}

TEST(HostRegion, maps_device_addresses_to_chunks_only_at_chunk_starts) {
  HostRegion region(small_region());
  EXPECT_EQ(region.chunk_index(0x100000), 0);
  EXPECT_EQ(region.chunk_index(0x100000 + 15 * 256), 15);
  EXPECT_EQ(region.chunk_index(0x100000 + 16 * 256), -1);
  EXPECT_EQ(region.chunk_index(0x100000 + 10), -1);
  EXPECT_EQ(region.chunk_index(0xfff00), -1);
}

TEST(HostRelay, marks_the_region_ready_and_not_ready_when_gone) {
  HostRegion region(small_region());
  {
    HostRelay relay(region);
    EXPECT_EQ(region.header()->host.state, static_cast<uint32_t>(proto::ShmState::kHostReady));
    uint64_t hb = region.header()->host.heartbeat;
    relay.housekeeping();
    EXPECT_EQ(region.header()->host.heartbeat, hb + 1);
  }
  EXPECT_EQ(region.header()->host.state, static_cast<uint32_t>(proto::ShmState::kFormatted));
}

TEST(HostRelay, drains_submissions_of_every_queue_into_descriptor_records) {
  HostRegion region(small_region());
  HostRelay relay(region);
  proto::RingProducer sq0(region.sq(0), 8), sq1(region.sq(1), 8);
  ASSERT_EQ(sq0.push(desc(0, 1)), 1);
  ASSERT_EQ(sq1.push(desc(1, 1)), 1);
  ASSERT_EQ(sq0.push(desc(0, 2)), 1);
  testing::FakeLink out;
  EXPECT_EQ(relay.poll_submissions(out, 32), 3);
  std::vector<std::pair<uint16_t, uint64_t>> got;
  out.drain([&](const proto::RecordView &r) {
    EXPECT_EQ(r.type, RecordType::kDescriptor);
    EXPECT_EQ(r.channel, 7u);
    Descriptor d;
    std::memcpy(&d, r.payload.data(), sizeof(d));
    got.emplace_back(d.hdr.queue.get(), d.hdr.seq.get());
    return true;
  });
  ASSERT_EQ(got.size(), 3u);
  // Per queue, submission order is kept.
  std::vector<uint64_t> q0;
  for (auto &[q, s] : got)
    if (q == 0) q0.push_back(s);
  EXPECT_EQ(q0, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(relay.counters().sq_descriptors, 3u);
}

TEST(HostRelay, keeps_a_refused_submission_and_sends_it_first_later) {
  HostRegion region(small_region());
  HostRelay relay(region);
  proto::RingProducer sq0(region.sq(0), 8);
  for (uint64_t s = 1; s <= 4; ++s) ASSERT_EQ(sq0.push(desc(0, s)), 1);
  testing::FakeLink narrow(2);
  EXPECT_EQ(relay.poll_submissions(narrow, 32), 2);
  EXPECT_EQ(relay.counters().emit_refused, 1u);
  std::vector<uint64_t> seqs;
  auto take = [&](const proto::RecordView &r) {
    Descriptor d;
    std::memcpy(&d, r.payload.data(), sizeof(d));
    seqs.push_back(d.hdr.seq.get());
    return true;
  };
  narrow.drain(take);
  EXPECT_EQ(relay.poll_submissions(narrow, 32), 2);
  narrow.drain(take);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST(HostRelay, drops_and_counts_submissions_naming_a_queue_outside_the_region) {
  HostRegion region(small_region());
  HostRelay relay(region);
  proto::RingProducer sq0(region.sq(0), 8);
  ASSERT_EQ(sq0.push(desc(9, 1)), 1);
  testing::FakeLink out;
  EXPECT_EQ(relay.poll_submissions(out, 32), 0);
  EXPECT_EQ(relay.counters().sq_bad_queue, 1u);
  EXPECT_EQ(out.queued(), 0u);
}

TEST(HostRelay, survives_an_impossible_submission_producer_index) {
  HostRegion region(small_region());
  HostRelay relay(region);
  region.sq(0)->prod.value = 1000;  // a guest claiming 1000 entries in an 8-slot ring
  testing::FakeLink out;
  EXPECT_EQ(relay.poll_submissions(out, 32), 0);
  EXPECT_GE(relay.counters().sq_bad_index, 1u);
}

TEST(HostRelay, puts_device_descriptors_into_the_completion_ring_of_their_queue) {
  HostRegion region(small_region());
  HostRelay relay(region);
  testing::FakeLink out;
  Descriptor d = desc(1, 42);
  EXPECT_TRUE(relay.on_record(view(RecordType::kDescriptor, 7, bytes_of(d)), out));
  proto::RingConsumer cq1(region.cq(1), 8);
  Descriptor got;
  ASSERT_EQ(cq1.pop(got), 1);
  EXPECT_EQ(got.hdr.seq.get(), 42u);
  proto::RingConsumer cq0(region.cq(0), 8);
  EXPECT_EQ(cq0.pop(got), 0);
}

TEST(HostRelay, refuses_a_descriptor_while_the_completion_ring_is_full) {
  HostRegion region(small_region(1, 4));
  HostRelay relay(region);
  testing::FakeLink out;
  for (uint64_t s = 1; s <= 4; ++s)
    ASSERT_TRUE(relay.on_record(view(RecordType::kDescriptor, 7, bytes_of(desc(0, s))), out));
  auto fifth = bytes_of(desc(0, 5));
  EXPECT_FALSE(relay.on_record(view(RecordType::kDescriptor, 7, fifth), out));
  EXPECT_EQ(relay.counters().cq_full, 1u);
  proto::RingConsumer cq(region.cq(0), 4);
  Descriptor got;
  ASSERT_EQ(cq.pop(got), 1);
  EXPECT_TRUE(relay.on_record(view(RecordType::kDescriptor, 7, fifth), out));
  uint64_t last = 0;
  while (cq.pop(got) == 1) last = got.hdr.seq.get();
  EXPECT_EQ(last, 5u);
}

TEST(HostRelay, drops_records_of_another_channel) {
  HostRegion region(small_region());
  HostRelay relay(region);
  testing::FakeLink out;
  EXPECT_TRUE(relay.on_record(view(RecordType::kDescriptor, 8, bytes_of(desc(0, 1))), out));
  EXPECT_EQ(relay.counters().bad_records, 1u);
  proto::RingConsumer cq(region.cq(0), 8);
  Descriptor got;
  EXPECT_EQ(cq.pop(got), 0);
}

// Stores a sealed-looking chunk (the relay neither knows nor cares) as the guest would.
void store_chunk(HostRegion &region, uint32_t idx, uint8_t fill, uint64_t version) {
  std::memset(region.chunk(idx), fill, 256);
  proto::ChunkMeta *m = region.meta(idx);
  m->version.set(version);
  m->len.set(256);
  m->writer = 0;
  m->valid = 1;
  std::memset(m->tag, 0xab, sizeof(m->tag));
}

TEST(HostRelay, serves_a_dma_read_as_bounded_pieces_with_the_stored_metadata) {
  HostRegion region(small_region());
  HostRelay relay(region, 100);
  store_chunk(region, 2, 0x5a, 9);
  testing::FakeLink out;
  DmaReadReq req{};
  req.addr.set(0x100000 + 2 * 256);
  req.len.set(256);
  req.req_id.set(77);
  EXPECT_TRUE(relay.on_record(view(RecordType::kDmaReadReq, 7, bytes_of(req)), out));
  std::vector<uint8_t> chunk(256, 0);
  size_t pieces = 0, covered = 0;
  out.drain([&](const proto::RecordView &r) {
    EXPECT_EQ(r.type, RecordType::kDmaData);
    DmaPiece p;
    std::memcpy(&p, r.payload.data(), sizeof(p));
    EXPECT_EQ(p.status, 0);
    EXPECT_EQ(p.req_id.get(), 77u);
    EXPECT_EQ(p.version.get(), 9u);
    EXPECT_EQ(p.chunk_len.get(), 256u);
    EXPECT_LE(p.piece_len.get(), 100u);
    EXPECT_EQ(p.tag[0], 0xab);
    std::memcpy(chunk.data() + p.piece_off.get(), r.payload.data() + sizeof(p), p.piece_len.get());
    covered += p.piece_len.get();
    ++pieces;
    return true;
  });
  EXPECT_EQ(pieces, 3u);
  EXPECT_EQ(covered, 256u);
  EXPECT_EQ(chunk, std::vector<uint8_t>(256, 0x5a));
}

TEST(HostRelay, resumes_a_dma_read_the_sink_took_only_in_part) {
  HostRegion region(small_region());
  HostRelay relay(region, 64);
  store_chunk(region, 0, 0x11, 1);
  testing::FakeLink narrow(2);
  DmaReadReq req{};
  req.addr.set(0x100000);
  req.len.set(256);
  req.req_id.set(5);
  auto rec = bytes_of(req);
  size_t covered = 0;
  auto take = [&](const proto::RecordView &r) {
    DmaPiece p;
    std::memcpy(&p, r.payload.data(), sizeof(p));
    covered += p.piece_len.get();
    return true;
  };
  int tries = 0;
  while (!relay.on_record(view(RecordType::kDmaReadReq, 7, rec), narrow) && tries++ < 10)
    narrow.drain(take);
  narrow.drain(take);
  EXPECT_EQ(covered, 256u) << "every byte once: no piece lost or repeated";
}

TEST(HostRelay, answers_dma_failed_for_an_address_outside_the_window_or_an_empty_chunk) {
  HostRegion region(small_region());
  HostRelay relay(region);
  testing::FakeLink out;
  for (uint64_t addr :
       {uint64_t{0x100000 + 3}, uint64_t{0x100000 + 16 * 256}, uint64_t{0x100000}}) {
    DmaReadReq req{};
    req.addr.set(addr);
    req.len.set(256);
    EXPECT_TRUE(relay.on_record(view(RecordType::kDmaReadReq, 7, bytes_of(req)), out));
  }
  size_t failed = 0;
  out.drain([&](const proto::RecordView &r) {
    DmaPiece p;
    std::memcpy(&p, r.payload.data(), sizeof(p));
    EXPECT_EQ(p.piece_len.get(), 0u);
    failed += p.status == static_cast<uint8_t>(proto::Status::kDmaFailed);
    return true;
  });
  EXPECT_EQ(failed, 3u);
  EXPECT_EQ(relay.counters().dma_read_failed, 3u);
}

TEST(HostRelay, stores_dma_write_pieces_and_their_metadata_in_the_window) {
  HostRegion region(small_region());
  HostRelay relay(region);
  testing::FakeLink out;
  std::vector<uint8_t> data(128, 0xc3);
  DmaPiece p{};
  p.addr.set(0x100000 + 5 * 256);
  p.version.set(12);
  p.chunk_len.set(256);
  p.piece_off.set(128);
  p.piece_len.set(128);
  p.writer = 1;
  std::memset(p.tag, 0x77, sizeof(p.tag));
  EXPECT_TRUE(relay.on_record(view(RecordType::kDmaWrite, 7, bytes_of(p, data)), out));
  EXPECT_EQ(region.chunk(5)[128], 0xc3);
  EXPECT_EQ(region.chunk(5)[255], 0xc3);
  EXPECT_EQ(region.chunk(5)[127], 0);
  EXPECT_EQ(region.meta(5)->version.get(), 12u);
  EXPECT_EQ(region.meta(5)->writer, 1);
  EXPECT_EQ(region.meta(5)->valid, 1);
  EXPECT_EQ(region.meta(5)->tag[15], 0x77);
  EXPECT_EQ(relay.counters().dma_write_pieces, 1u);
}

TEST(HostRelay, refuses_dma_writes_outside_the_window_or_longer_than_a_chunk) {
  HostRegion region(small_region());
  HostRelay relay(region);
  testing::FakeLink out;
  std::vector<uint8_t> data(64, 0xee);
  DmaPiece p{};
  p.chunk_len.set(256);
  p.piece_len.set(64);
  p.addr.set(0x100000 + 16 * 256);  // one past the last chunk
  EXPECT_TRUE(relay.on_record(view(RecordType::kDmaWrite, 7, bytes_of(p, data)), out));
  p.addr.set(0x100000);
  p.chunk_len.set(512);  // longer than this region's chunks
  p.piece_off.set(256);
  EXPECT_TRUE(relay.on_record(view(RecordType::kDmaWrite, 7, bytes_of(p, data)), out));
  EXPECT_EQ(relay.counters().dma_write_bad, 2u);
  EXPECT_EQ(region.meta(0)->valid, 0);
}

}  // namespace
}  // namespace ferry
