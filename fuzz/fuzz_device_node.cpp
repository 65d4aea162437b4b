// libFuzzer target: a DeviceNode with a configured device under arbitrary traffic. After a
// genuine handshake on channel 1, the input is a program of operations: raw records and
// whole frames from the (untrusted) data plane, requests sealed with the session's real
// keys (so the models and the DMA engine are reached, not only the authentication checks),
// guest DMA announcements with correctly sealed chunks, tampering with the host window,
// replays, and polls that advance time and serve the device's DMA. It must never crash, and
// every descriptor the node sends on the session must open under the guest's keys.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ferry/config/config.h"
#include "ferry/device/device_node.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/handshake.h"
#include "ferry/proto/session.h"
#include "fuzz_support.h"

using namespace ferry;
using proto::Descriptor;
using proto::RecordType;

namespace {

constexpr uint32_t kChannel = 1;
constexpr uint64_t kBase = 0x1000000;
constexpr uint32_t kChunk = 4096;
constexpr uint32_t kChunks = 64;
constexpr size_t kMaxOps = 512;
constexpr size_t kMaxQueued = 4096;

proto::Psk fixed_psk() {
  return fuzz::fixed_psk(0x30);
}

const std::string &psk_path() {
  static const std::string path = [] {
    std::string p = "/tmp/ferry-fuzz-device-node-" + std::to_string(getpid()) + ".psk";
    proto::Psk psk = fixed_psk();
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char *>(psk.data()), 32);
    return p;
  }();
  return path;
}

proto::Aead &aead() {
  static std::unique_ptr<proto::Aead> a = proto::Aead::create_best();
  return *a;
}

struct Chunk {
  uint64_t version = 0;
  uint8_t writer = 0;
  uint8_t tag[16]{};
  std::vector<uint8_t> bytes;
};

struct Record {
  RecordType type;
  uint32_t channel;
  std::vector<uint8_t> payload;
};

// The data plane as the node sees it: takes records (with a bound, to reach backpressure).
class HostSink final : public proto::RecordSink {
 public:
  bool emit(RecordType type, uint32_t channel, std::span<const uint8_t> head,
            std::span<const uint8_t> tail) override {
    if (queued.size() >= kMaxQueued) return false;
    Record r{type, channel, std::vector<uint8_t>(head.begin(), head.end())};
    r.payload.insert(r.payload.end(), tail.begin(), tail.end());
    queued.push_back(std::move(r));
    return true;
  }
  std::vector<Record> queued;
};

struct Harness {
  explicit Harness(bool accel) {
    config::DeviceNodeConfig cfg;
    cfg.file = "fuzz";
    config::DeviceConfig dc;
    dc.device_id = 1;
    dc.guests.push_back({1, psk_path()});
    dc.model = accel ? "accel" : "edu";
    if (!accel) dc.params = {{"factorial_delay_ns", 1000}};
    cfg.devices.push_back(dc);
    cfg.reply_cache = 16;
    // A small window and pools keep each run cheap; the limits are reached more often too.
    device::NodeOptions o;
    o.max_dma_ops = 4;
    o.max_chunk_fetches = 4;
    o.outbox_bytes = 32u << 10;
    o.reorder_slots = 32;
    node = std::make_unique<device::DeviceNode>(cfg, aead(), o);
    mem.assign(kChunks * kChunk, 0);
  }

  bool handshake() {
    proto::SessionParams params;
    params.channel = kChannel;
    params.n_queues = 2;
    proto::GuestHandshake hs(fixed_psk(), params, 1, 1, proto::DmaGeometry{kChunk, kChunks, kBase});
    for (const Descriptor &d :
         proto::handshake_fragments(kChannel, proto::HandshakeMsg::kHello, hs.hello())) {
      deliver(RecordType::kDescriptor, kChannel,
              {reinterpret_cast<const uint8_t *>(&d), sizeof(d)});
    }
    proto::HandshakeAssembler assembler;
    for (const Record &r : sink.queued) {
      if (r.type != RecordType::kDescriptor || r.payload.size() != sizeof(Descriptor)) continue;
      Descriptor d;
      std::memcpy(&d, r.payload.data(), sizeof(d));
      if (assembler.add(d)) {
        std::string error;
        std::optional<proto::SessionSecrets> s = hs.finish(assembler.message(), error);
        if (!s) return false;
        crypto = std::make_unique<proto::SessionCrypto>(aead(), *s);
      }
    }
    sink.queued.clear();
    if (crypto == nullptr) return false;
    for (const Descriptor &d :
         proto::handshake_fragments(kChannel, proto::HandshakeMsg::kConfirm, hs.confirm())) {
      deliver(RecordType::kDescriptor, kChannel,
              {reinterpret_cast<const uint8_t *>(&d), sizeof(d)});
    }
    return crypto != nullptr;
  }

  void deliver(RecordType type, uint32_t channel, std::span<const uint8_t> payload) {
    node->on_record(sink, proto::RecordView{type, 0, channel, payload});
  }

  void send_sealed(Descriptor &d, uint16_t q) {
    d.hdr.queue.set(q);
    d.hdr.channel.set(kChannel);
    d.hdr.seq.set(++seq[q]);
    crypto->seal(proto::Dir::kGuestToDevice, d);
    sent.push_back(d);
    if (sent.size() > 64) sent.erase(sent.begin());
    deliver(RecordType::kDescriptor, kChannel, {reinterpret_cast<const uint8_t *>(&d), sizeof(d)});
  }

  void guest_dma(uint8_t first, uint8_t count, uint8_t fill) {
    first %= kChunks;
    count = static_cast<uint8_t>(std::min<unsigned>(count % 8 + 1, kChunks - first));
    const uint64_t v0 = dma_seq + 1;
    for (unsigned i = 0; i < count; ++i) {
      const uint64_t addr = kBase + static_cast<uint64_t>(first + i) * kChunk;
      std::memset(&mem[(first + i) * kChunk], fill + i, kChunk);
      Chunk &c = window[addr];
      c.version = ++dma_seq;
      c.writer = 0;
      c.bytes.resize(kChunk);
      auto aad = proto::make_chunk_aad(kChannel, addr, kChunk, proto::Writer::kGuest, c.version);
      crypto->seal_chunk(proto::Dir::kGuestToDevice, aad, &mem[(first + i) * kChunk],
                         c.bytes.data(), kChunk, c.tag);
    }
    Descriptor d{};
    d.hdr.kind = static_cast<uint8_t>(proto::Kind::kDmaSync);
    d.body.addr.set(kBase + static_cast<uint64_t>(first) * kChunk);
    d.body.len.set(count * kChunk);
    d.body.value.set(v0);
    send_sealed(d, 0);
  }

  // Plays the data plane: answers read requests from the window, stores writes, and checks
  // that every sealed descriptor for the session opens under the guest's keys.
  void serve() {
    std::vector<Record> batch;
    batch.swap(sink.queued);
    for (const Record &r : batch) {
      if (r.channel != kChannel) continue;
      if (r.type == RecordType::kDescriptor) {
        if (r.payload.size() != sizeof(Descriptor)) std::abort();
        Descriptor d;
        std::memcpy(&d, r.payload.data(), sizeof(d));
        if (d.hdr.kind == static_cast<uint8_t>(proto::Kind::kHandshake)) continue;
        if (crypto->open(proto::Dir::kDeviceToGuest, d) != proto::Status::kOk) std::abort();
      } else if (r.type == RecordType::kDmaReadReq) {
        proto::DmaReadReq q;
        if (r.payload.size() != sizeof(q)) std::abort();
        std::memcpy(&q, r.payload.data(), sizeof(q));
        serve_read(q);
      } else if (r.type == RecordType::kDmaWrite) {
        if (proto::check_record(r.type, r.payload) != proto::Status::kOk) std::abort();
        proto::DmaPiece p;
        std::memcpy(&p, r.payload.data(), sizeof(p));
        Chunk &c = window[p.addr.get()];
        c.bytes.resize(p.chunk_len.get());
        c.version = p.version.get();
        c.writer = p.writer;
        std::memcpy(c.tag, p.tag, 16);
        std::memcpy(c.bytes.data() + p.piece_off.get(), r.payload.data() + sizeof(p),
                    p.piece_len.get());
      }
    }
  }

  void serve_read(const proto::DmaReadReq &q) {
    proto::DmaPiece p{};
    p.addr = q.addr;
    p.req_id = q.req_id;
    auto it = window.find(q.addr.get());
    if (it == window.end() || it->second.bytes.empty()) {
      p.status = static_cast<uint8_t>(proto::Status::kDmaFailed);
      deliver(RecordType::kDmaData, kChannel, {reinterpret_cast<const uint8_t *>(&p), sizeof(p)});
      return;
    }
    const Chunk &c = it->second;
    p.version.set(c.version);
    p.writer = c.writer;
    p.chunk_len.set(static_cast<uint32_t>(c.bytes.size()));
    std::memcpy(p.tag, c.tag, 16);
    std::vector<uint8_t> rec;
    for (size_t off = 0; off < c.bytes.size(); off += 1000) {
      const size_t n = std::min<size_t>(1000, c.bytes.size() - off);
      p.piece_off.set(static_cast<uint32_t>(off));
      p.piece_len.set(static_cast<uint32_t>(n));
      rec.assign(reinterpret_cast<const uint8_t *>(&p), reinterpret_cast<const uint8_t *>(&p + 1));
      rec.insert(rec.end(), c.bytes.begin() + off, c.bytes.begin() + off + n);
      deliver(RecordType::kDmaData, kChannel, rec);
    }
  }

  void poll(uint64_t advance_ns) {
    now += advance_ns;
    for (int i = 0; i < 4; ++i) {
      node->poll(now);
      serve();
    }
  }

  HostSink sink;
  std::unique_ptr<device::DeviceNode> node;
  std::unique_ptr<proto::SessionCrypto> crypto;
  uint64_t seq[2] = {0, 0};
  uint64_t dma_seq = 0;
  uint64_t now = 1'000'000'000;
  std::vector<uint8_t> mem;
  std::map<uint64_t, Chunk> window;
  std::vector<Descriptor> sent;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  fuzz::Input in(data + 1, size - 1);
  Harness h((data[0] & 1) != 0);
  if (!h.handshake()) std::abort();  // a genuine guest must always get a session
  for (size_t ops = 0; ops < kMaxOps && !in.done(); ++ops) {
    const unsigned op = in.u8() % 8;
    switch (op) {
      case 0: {  // a raw record, not validated by any frame reader
        auto type = static_cast<RecordType>(in.u8());
        const uint32_t channel = in.u8() % 3;
        h.deliver(type, channel, in.span(in.u64(2) % 2048));
        break;
      }
      case 1: {  // a whole frame, as the engine would parse it
        proto::FrameReader reader;
        if (reader.parse(in.span(in.u64(2) % 4096)) != proto::Status::kOk) break;
        proto::RecordView r;
        while (reader.next(r)) h.node->on_record(h.sink, r);
        break;
      }
      case 2:
      case 3: {  // a sealed MMIO request
        const bool write = op == 3;
        const uint16_t q = in.u8() % 3;  // queue 2 does not exist: malformed
        const uint8_t bar = static_cast<uint8_t>(in.u8());
        const uint8_t size_sel = static_cast<uint8_t>(in.u8());
        uint64_t offset = in.u64(4);
        uint64_t value = in.u64(8);
        if (bar & 0x80) offset &= 0xf8;                          // the register area
        if (size_sel & 0x80) value = kBase + (value & 0xfffff);  // a DMA address
        Descriptor d{};
        d.hdr.kind = static_cast<uint8_t>(write ? proto::Kind::kMmioWrite : proto::Kind::kMmioRead);
        d.body.bar = (bar & 0x40) ? 1 : 0;
        d.body.size = static_cast<uint8_t>(size_sel & 0x0f);
        d.body.offset.set(offset);
        d.body.value.set(value);
        if (q < 2) {
          h.send_sealed(d, q);
        } else {
          d.hdr.queue.set(q);
          d.hdr.channel.set(kChannel);
          d.hdr.version = proto::kProtoVersion;
          h.deliver(RecordType::kDescriptor, kChannel,
                    {reinterpret_cast<const uint8_t *>(&d), sizeof(d)});
        }
        break;
      }
      case 4: {  // guest writes and announces DMA chunks
        const uint8_t first = static_cast<uint8_t>(in.u8());
        const uint8_t count = static_cast<uint8_t>(in.u8());
        h.guest_dma(first, count, static_cast<uint8_t>(in.u8()));
        break;
      }
      case 5: {  // the host tampers with a stored chunk
        auto it = h.window.lower_bound(kBase + in.u8() * kChunk);
        const uint64_t off = in.u64(2) % kChunk;
        const uint8_t x = static_cast<uint8_t>(in.u8() | 1);
        if (it != h.window.end() && off < it->second.bytes.size()) it->second.bytes[off] ^= x;
        break;
      }
      case 6:  // time passes; the host serves the device
        h.poll(in.u64(2) * 10'000);
        break;
      case 7: {  // the host replays an earlier sealed descriptor
        if (h.sent.empty()) break;
        const Descriptor &d = h.sent[in.u8() % h.sent.size()];
        h.deliver(RecordType::kDescriptor, kChannel,
                  {reinterpret_cast<const uint8_t *>(&d), sizeof(d)});
        break;
      }
    }
  }
  h.poll(1'000'000'000);  // past every timeout
  const device::NodeCounters c = h.node->counters();
  if (c.handshakes != 1) std::abort();
  return 0;
}
