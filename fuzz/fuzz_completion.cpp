// libFuzzer target over the guest shim's completion-consumer path. The input is a script of
// what a hostile host does to a real mapped region (raw writes to the completion ring's
// indices and slots, to chunk metadata and to window chunks) interleaved with what a genuine
// device does (descriptors and chunks sealed with the session's device keys, with arbitrary
// field values), while the shim consumes: polling, waiting for a completion, syncing DMA for
// the CPU, taking interrupts. It must never crash, and it must never hand out anything that
// was not genuinely sealed (checked below; a violation traps).
#include <unistd.h>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "device.h"
#include "ferry/proto/session.h"
#include "ferry/proto/shm_ring.h"
#include "fuzz_support.h"
#include "relay/host_region.h"

namespace {

using ferry::fuzz::Input;
using ferry::proto::Descriptor;

constexpr uint32_t kSlots = 16;
constexpr uint32_t kChunk = 256;
constexpr uint32_t kChunks = 8;
constexpr uint32_t kChannel = 3;
constexpr uint64_t kDmaBase = 0x100000;
constexpr uint8_t kSentinel = 0xee;

// Bytes an authentic device chunk holds at version v.
uint8_t chunk_byte(uint64_t v, size_t i) {
  return static_cast<uint8_t>((v * 31 + i * 7) ^ 0x5a);
}

ferry::proto::SessionSecrets secrets() {
  ferry::proto::SessionParams p;
  p.n_queues = 1;
  p.channel = kChannel;
  return ferry::fuzz::fixed_secrets(p, 42, 0, 37, 0x1000);
}

struct World {
  World() {
    const ferry::config::GuestRegion r =
        ferry::fuzz::shm_region("fuzz-completion", kChannel, kSlots, kChunk, kChunks, kDmaBase);
    region = std::make_unique<ferry::dataplane::HostRegion>(r);
    aead = ferry::proto::Aead::create_best();
    device_crypto = std::make_unique<ferry::proto::SessionCrypto>(*aead, secrets());
    cfg.region_path = r.path;
    cfg.guest_id = 1;  // any: the device side here is a SessionCrypto, not a node with PSKs
    cfg.mmio_timeout_ms = 1;
    cfg.idle.mode = ferry::config::IdlePolicy::Mode::kSpin;
  }
  std::unique_ptr<ferry::dataplane::HostRegion> region;
  std::unique_ptr<ferry::proto::Aead> aead;
  std::unique_ptr<ferry::proto::SessionCrypto> device_crypto;
  ferry::config::GuestConfig cfg;
};

World &world() {
  static World w;
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  World &w = world();
  ferry::dataplane::HostRegion &region = *w.region;
  // A fresh region body and a fresh guest for every input: runs are reproducible.
  std::memset(region.sq(0), 0, region.size() - ferry::proto::kShmHeaderSize);
  std::unique_ptr<ferry::guest::Device> dev = ferry::guest::Device::attach(w.cfg, secrets());
  uint64_t dma = 0;
  int err = 0;
  auto *buf = static_cast<uint8_t *>(dev->dma_alloc(4 * kChunk, dma, err));
  if (buf == nullptr) FUZZ_VIOLATION();
  std::memset(buf, kSentinel, 4 * kChunk);

  ferry::proto::RingHeader *cq = region.cq(0);
  auto *slots = reinterpret_cast<Descriptor *>(cq + 1);
  std::map<uint64_t, uint64_t> completions;         // authentic: request seq -> value
  std::map<uint32_t, std::set<uint64_t>> versions;  // authentic device chunks sealed
  uint32_t irqs = 0;                                // authentic vectors sent
  uint32_t prod = 0;                                // where a genuine host would write
  uint64_t device_seq = 1;
  int waits = 0;

  Input in(data, size);
  while (!in.done()) {
    switch (in.u8() % 10) {
      case 0: {  // host writes the CQ producer index
        prod = static_cast<uint32_t>(in.u64(4));
        std::atomic_ref<uint32_t>(cq->prod.value).store(prod);
        break;
      }
      case 1: {  // host writes raw bytes over a CQ slot
        Descriptor raw;
        uint8_t k = in.u8();
        in.bytes(&raw, sizeof(raw));
        std::memcpy(&slots[k % kSlots], &raw, sizeof(raw));
        break;
      }
      case 2: {  // the device sends a genuinely sealed descriptor, arbitrary fields
        Descriptor d{};
        d.hdr.kind = in.u8() % 8;
        d.hdr.queue.set(in.u8() % 2);  // sometimes a queue the session lacks
        d.hdr.channel.set(kChannel);
        uint8_t seq_mode = in.u8();
        d.hdr.seq.set(seq_mode < 200 ? device_seq++ : in.u64(2));  // fresh, or a reused one
        d.body.kind = in.u8();
        d.body.status = in.u8() % 16;
        d.body.len.set(static_cast<uint32_t>(in.u64(4)));
        d.body.offset.set(in.u64(2));
        d.body.value.set(in.u64());
        if (in.u8() < 128) {  // near the window: chunk starts, one past the end, misaligned
          const uint64_t chunk = in.u8() % 10;
          d.body.addr.set(kDmaBase + chunk * kChunk + in.u8() % 2);
        } else {
          d.body.addr.set(in.u64());
        }
        if (w.device_crypto->seal(ferry::proto::Dir::kDeviceToGuest, d) !=
            ferry::proto::Status::kOk)
          break;  // queue out of range: nothing to send
        // Record what the guest may legitimately see once opened: re-open a copy.
        Descriptor copy = d;
        if (w.device_crypto->open(ferry::proto::Dir::kDeviceToGuest, copy) ==
            ferry::proto::Status::kOk) {
          if (copy.hdr.kind == static_cast<uint8_t>(ferry::proto::Kind::kCompletion))
            completions[copy.body.addr.get()] = copy.body.value.get();
          if (copy.hdr.kind == static_cast<uint8_t>(ferry::proto::Kind::kInterrupt))
            irqs |= static_cast<uint32_t>(copy.body.value.get());
        }
        std::memcpy(&slots[prod % kSlots], &d, sizeof(d));
        std::atomic_ref<uint32_t>(cq->prod.value).store(++prod);
        break;
      }
      case 3: {  // host writes chunk metadata
        uint8_t k = in.u8();
        ferry::proto::ChunkMeta m;
        in.bytes(&m, sizeof(m));
        std::memcpy(region.meta(k % kChunks), &m, sizeof(m));
        break;
      }
      case 4: {  // host writes window bytes
        uint8_t k = in.u8() % kChunks;
        uint8_t off = in.u8();
        uint8_t n = in.u8();
        uint8_t v = in.u8();
        size_t len = std::min<size_t>(n, kChunk - off);
        std::memset(region.chunk(k) + off, v, len);
        break;
      }
      case 5: {  // the device seals a whole chunk into the window at some version
        uint32_t k = in.u8() % kChunks;
        uint64_t v = 1 + in.u64(1);
        uint8_t plain[kChunk], sealed[kChunk];
        for (size_t i = 0; i < kChunk; ++i) plain[i] = chunk_byte(v, i);
        uint64_t addr = kDmaBase + uint64_t{k} * kChunk;
        ferry::proto::ChunkMeta m{};
        w.device_crypto->seal_chunk(
            ferry::proto::Dir::kDeviceToGuest,
            ferry::proto::make_chunk_aad(kChannel, addr, kChunk, ferry::proto::Writer::kDevice, v),
            plain, sealed, kChunk, m.tag);
        m.version.set(v);
        m.len.set(kChunk);
        m.writer = 1;
        m.valid = 1;
        std::memcpy(region.chunk(k), sealed, kChunk);
        std::memcpy(region.meta(k), &m, sizeof(m));
        versions[k].insert(v);
        break;
      }
      case 6:
        dev->poll(0);
        break;
      case 7: {  // the driver takes (part of) its buffer back
        uint32_t off = static_cast<uint32_t>(in.u64(2)) % (4 * kChunk);
        uint32_t len = static_cast<uint32_t>(in.u64(2)) % (4 * kChunk + 1 - off);
        std::memset(buf, kSentinel, 4 * kChunk);
        if (dev->sync_for_cpu(0, dma + off, len) != 0) {
          for (size_t i = 0; i < 4 * kChunk; ++i)
            if (buf[i] != kSentinel) FUZZ_VIOLATION();  // a failed sync copied something
          break;
        }
        for (size_t i = 0; i < 4 * kChunk; ++i) {
          if (buf[i] == kSentinel) continue;
          const uint32_t c = static_cast<uint32_t>((dma - kDmaBase) / kChunk + i / kChunk);
          bool authentic = false;
          for (uint64_t v : versions[c]) authentic |= buf[i] == chunk_byte(v, i % kChunk);
          if (!authentic) FUZZ_VIOLATION();  // bytes no device chunk ever held
        }
        break;
      }
      case 8: {                   // the driver waits for the completion of some request
        if (waits++ >= 1) break;  // each wait that fails costs its 1 ms timeout
        uint64_t seq = in.u64(2);
        uint64_t value = 0;
        if (dev->wait_completion(0, seq, value) == 0) {
          auto it = completions.find(seq);
          if (it == completions.end() || it->second != value) FUZZ_VIOLATION();
        }
        break;
      }
      case 9: {
        uint32_t v = 0;
        if (dev->wait_irq(0, v, 0) == 0 && (v & ~irqs) != 0) FUZZ_VIOLATION();
        break;
      }
    }
  }
  dev->dma_free(buf, 4 * kChunk);
  return 0;
}
