// libFuzzer target over the data plane's DMA chunk-metadata decoders: the host relay reading
// ChunkMeta and window bytes that a hostile guest (or anyone with the region) wrote, while it
// answers kDmaReadReq records with kDmaData pieces and stores kDmaWrite pieces with their
// metadata. The input is a script: raw writes to metadata and window, read requests and write
// pieces with arbitrary fields (records as the engine delivers them: check_record passed), and
// a sink that sometimes refuses (backpressure, resumed reads). Checked: every piece emitted
// passes check_record, lies inside its chunk, carries the window's bytes and the stored tag;
// a stored piece lands only inside its chunk and never past the window.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ferry/proto/frame.h"
#include "ferry/proto/shm_layout.h"
#include "fuzz_support.h"
#include "relay/host_region.h"
#include "relay/host_relay.h"

namespace {

using namespace ferry::proto;
using ferry::fuzz::Input;

constexpr uint32_t kChunk = 256;
constexpr uint32_t kChunks = 8;
constexpr uint32_t kChannel = 5;
constexpr uint64_t kDmaBase = 0x200000;

struct World {
  std::unique_ptr<ferry::dataplane::HostRegion> region =
      std::make_unique<ferry::dataplane::HostRegion>(
          ferry::fuzz::shm_region("fuzz-chunk-meta", kChannel, 8, kChunk, kChunks, kDmaBase));
};

World &world() {
  static World w;
  return w;
}

// Checks each kDmaData piece against the region as it is when emitted.
class CheckingSink final : public RecordSink {
 public:
  explicit CheckingSink(ferry::dataplane::HostRegion &r) : region_(r) {}
  bool emit(RecordType type, uint32_t channel, std::span<const uint8_t> head,
            std::span<const uint8_t> tail) override {
    if (refuse_next_) {
      refuse_next_ = false;
      return false;
    }
    std::vector<uint8_t> payload(head.begin(), head.end());
    payload.insert(payload.end(), tail.begin(), tail.end());
    if (type != RecordType::kDmaData || channel != kChannel) FUZZ_VIOLATION();
    if (check_record(type, payload) != Status::kOk) FUZZ_VIOLATION();
    DmaPiece p;
    std::memcpy(&p, payload.data(), sizeof(p));
    const int64_t idx = region_.chunk_index(p.addr.get());
    if (p.status != static_cast<uint8_t>(Status::kOk)) {
      if (payload.size() != sizeof(p)) FUZZ_VIOLATION();  // a failure carries no bytes
      return true;
    }
    if (idx < 0) FUZZ_VIOLATION();  // bytes served for an address outside the window
    const uint64_t off = p.piece_off.get(), n = p.piece_len.get();
    if (p.chunk_len.get() > kChunk || off + n > p.chunk_len.get()) FUZZ_VIOLATION();
    const uint8_t *chunk = region_.chunk(static_cast<uint32_t>(idx));
    if (std::memcmp(payload.data() + sizeof(p), chunk + off, n) != 0) FUZZ_VIOLATION();
    if (std::memcmp(p.tag, region_.meta(static_cast<uint32_t>(idx))->tag, 16) != 0)
      FUZZ_VIOLATION();
    ++pieces;
    return true;
  }
  bool refuse_next_ = false;
  uint64_t pieces = 0;

 private:
  ferry::dataplane::HostRegion &region_;
};

uint64_t pick_addr(Input &in) {
  const uint8_t mode = in.u8();
  if (mode < 200) return kDmaBase + uint64_t{mode % (kChunks + 2)} * kChunk + (mode >= 180);
  return in.u64();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  World &w = world();
  ferry::dataplane::HostRegion &region = *w.region;
  std::memset(region.sq(0), 0, region.size() - kShmHeaderSize);
  // The region after the window must never be written: a guard copy of the header page.
  std::vector<uint8_t> header(region.base(), region.base() + kShmHeaderSize);
  ferry::dataplane::HostRelay relay(region, 1 + data[0 % (size ? size : 1)] % 200);
  CheckingSink sink(region);
  Input in(data, size);
  while (!in.done()) {
    switch (in.u8() % 6) {
      case 0: {  // raw metadata
        ChunkMeta m;
        const uint8_t k = in.u8();
        in.bytes(&m, sizeof(m));
        std::memcpy(region.meta(k % kChunks), &m, sizeof(m));
        break;
      }
      case 1: {  // raw window bytes
        const uint32_t k = in.u8() % kChunks, off = in.u8(), n = in.u8();
        std::memset(region.chunk(k) + off, in.u8(), std::min<uint32_t>(n, kChunk - off));
        break;
      }
      case 2: {  // a read request from the device node, offered until taken (bounded)
        DmaReadReq req;
        req.addr.set(pick_addr(in));
        req.len.set(static_cast<uint32_t>(in.u8() < 200 ? kChunk : in.u64(4)));
        req.req_id.set(static_cast<uint32_t>(in.u64(2)));
        const RecordView rec{RecordType::kDmaReadReq, 0, kChannel,
                             {reinterpret_cast<const uint8_t *>(&req), sizeof(req)}};
        if (check_record(rec.type, rec.payload) != Status::kOk) break;
        for (int tries = 0; tries < 64 && !relay.on_record(rec, sink); ++tries) {
        }
        break;
      }
      case 3: {  // a write piece from the device node
        std::vector<uint8_t> rec_bytes(sizeof(DmaPiece));
        DmaPiece p{};
        p.addr.set(pick_addr(in));
        p.version.set(in.u64());
        p.chunk_len.set(static_cast<uint32_t>(in.u8() < 200 ? kChunk : in.u64(4)));
        p.piece_off.set(static_cast<uint32_t>(in.u64(2)));
        const uint32_t n = in.u8();
        p.piece_len.set(n);
        p.writer = in.u8();
        in.bytes(p.tag, sizeof(p.tag));
        std::memcpy(rec_bytes.data(), &p, sizeof(p));
        const uint8_t fill = in.u8();
        rec_bytes.resize(sizeof(p) + n, fill);
        const RecordView rec{RecordType::kDmaWrite, 0, kChannel, rec_bytes};
        if (check_record(rec.type, rec.payload) != Status::kOk) break;
        const uint64_t stored = relay.counters().dma_write_pieces;
        relay.on_record(rec, sink);
        if (relay.counters().dma_write_pieces != stored) {
          const int64_t idx = region.chunk_index(p.addr.get());
          if (idx < 0 || p.piece_off.get() + n > kChunk) FUZZ_VIOLATION();
          const uint8_t *c = region.chunk(static_cast<uint32_t>(idx)) + p.piece_off.get();
          for (uint32_t i = 0; i < n; ++i)
            if (c[i] != fill) FUZZ_VIOLATION();
          if (std::memcmp(region.meta(static_cast<uint32_t>(idx))->tag, p.tag, 16) != 0)
            FUZZ_VIOLATION();
        }
        break;
      }
      case 4:
        sink.refuse_next_ = true;
        break;
      case 5:
        relay.housekeeping();
        break;
    }
  }
  if (std::memcmp(header.data(), region.base(), offsetof(ShmHeader, host)) != 0) FUZZ_VIOLATION();
  return 0;
}
