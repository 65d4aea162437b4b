// Test-side guest and host window; see test_guest.h.
#include "test_guest.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace ferry::testing {

using proto::Descriptor;
using proto::Dir;
using proto::Kind;
using proto::RecordType;

namespace {
std::span<const uint8_t> bytes_of(const void *p, size_t n) {
  return {static_cast<const uint8_t *>(p), n};
}
proto::Aead &guest_aead() {
  // The guest seals with OpenSSL, the node with ipsec-mb (when the CPU runs it): every test
  // also checks the two implementations agree on the wire.
  static std::unique_ptr<proto::Aead> aead = proto::Aead::create(proto::AeadImpl::kOpenSsl);
  return *aead;
}
}  // namespace

TempPsk::TempPsk(uint8_t fill) {
  char tmpl[] = "/tmp/ferry-device-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  path_ = dir_ + "/device.psk";
  for (size_t i = 0; i < psk_.size(); ++i) psk_[i] = static_cast<uint8_t>(fill + i);
  std::ofstream(path_, std::ios::binary)
      .write(reinterpret_cast<const char *>(psk_.data()), psk_.size());
}

TempPsk::~TempPsk() {
  unlink(path_.c_str());
  rmdir(dir_.c_str());
}

config::DeviceNodeConfig node_config(const std::vector<TestDevice> &devices, const TempPsk &psk) {
  config::DeviceNodeConfig cfg;
  cfg.file = "test-device-node.yaml";
  for (const TestDevice &d : devices) {
    config::DeviceConfig dc;
    dc.device_id = d.id;
    dc.guests.push_back({1, psk.path()});
    dc.model = d.model;
    dc.params = d.params;
    cfg.devices.push_back(dc);
  }
  return cfg;
}

void TestBench::pump(int max_rounds) {
  for (int round = 0; round < max_rounds; ++round) {
    size_t moved = to_node.drain([&](const proto::RecordView &r) {
      node_.on_record(from_node, r);
      return true;
    });
    node_.poll(now_ns);
    moved += from_node.drain([&](const proto::RecordView &r) {
      from_node_record(r);
      return true;
    });
    if (moved == 0 && to_node.queued() == 0 && from_node.queued() == 0 && node_.quiescent()) return;
  }
}

void TestBench::from_node_record(const proto::RecordView &r) {
  TestGuest *g = nullptr;
  for (int i = 0; i < n_guests; ++i) {
    if (guests[i]->channel() == r.channel) g = guests[i];
  }
  if (g == nullptr) return;
  switch (r.type) {
    case RecordType::kDescriptor: {
      Descriptor d;
      std::memcpy(&d, r.payload.data(), sizeof(d));
      g->on_descriptor(d);
      break;
    }
    case RecordType::kDmaReadReq: {
      proto::DmaReadReq q;
      std::memcpy(&q, r.payload.data(), sizeof(q));
      if (serve_reads) g->serve_read(q);
      break;
    }
    case RecordType::kDmaWrite: {
      proto::DmaPiece p;
      std::memcpy(&p, r.payload.data(), sizeof(p));
      g->on_dma_write(p, r.payload.subspan(sizeof(p)));
      break;
    }
    default:
      break;
  }
}

TestGuest::TestGuest(TestBench &bench, const proto::Psk &psk, const Options &o)
    : bench_(bench), psk_(psk), o_(o), tx_seq_(o.n_queues, 0) {
  for (uint16_t q = 0; q < o.n_queues; ++q) rx_window_.emplace_back(1024);
  mem_.assign(static_cast<size_t>(o.n_chunks) * o.chunk_size, 0);
  bench.guests[bench.n_guests++] = this;
}

void TestGuest::send_raw(const Descriptor &d) {
  bench_.to_node.emit(RecordType::kDescriptor, o_.channel, bytes_of(&d, sizeof(d)));
}

bool TestGuest::connect() {
  if (!connect_unconfirmed()) return false;
  confirm();
  return true;
}

void TestGuest::confirm() {
  for (const Descriptor &d :
       proto::handshake_fragments(o_.channel, proto::HandshakeMsg::kConfirm, hs_->confirm())) {
    send_raw(d);
  }
  bench_.pump();
}

std::vector<Descriptor> TestGuest::hello_fragments() const {
  return proto::handshake_fragments(o_.channel, proto::HandshakeMsg::kHello, hs_->hello());
}

bool TestGuest::connect_unconfirmed() {
  proto::SessionParams params;
  params.security = o_.security;
  params.n_queues = o_.n_queues;
  params.channel = o_.channel;
  hs_ = std::make_unique<proto::GuestHandshake>(
      psk_, params, o_.device_id, o_.guest_id,
      proto::DmaGeometry{o_.chunk_size, o_.n_chunks, o_.dma_base});
  answer_.reset();
  crypto_.reset();
  for (const Descriptor &d : hello_fragments()) send_raw(d);
  bench_.pump();
  if (!answer_) {
    error_ = "no answer";
    return false;
  }
  std::optional<proto::SessionSecrets> secrets = hs_->finish(*answer_, error_);
  if (!secrets) return false;
  crypto_ = std::make_unique<proto::SessionCrypto>(guest_aead(), *secrets);
  std::fill(tx_seq_.begin(), tx_seq_.end(), 0);
  for (auto &w : rx_window_) w.reset();
  completions_.clear();
  announced_.clear();
  return true;
}

void TestGuest::resend_hello() {
  for (const Descriptor &d :
       proto::handshake_fragments(o_.channel, proto::HandshakeMsg::kHello, hs_->hello())) {
    send_raw(d);
  }
  bench_.pump();
}

void TestGuest::on_descriptor(const Descriptor &raw) {
  if (raw.hdr.kind == static_cast<uint8_t>(Kind::kHandshake)) {
    if (assembler_.add(raw)) {
      answer_.emplace(assembler_.message().begin(), assembler_.message().end());
      answers.push_back(*answer_);
    }
    return;
  }
  if (!crypto_) return;
  received.push_back(raw);
  Descriptor d = raw;
  const uint16_t q = d.hdr.queue.get();
  if (q >= o_.n_queues || !rx_window_[q].check(proto::seq_counter(d.hdr.seq.get()))) {
    ++replays;
    return;
  }
  if (crypto_->open(Dir::kDeviceToGuest, d) != proto::Status::kOk) {
    ++auth_failures;
    return;
  }
  rx_window_[q].update(proto::seq_counter(d.hdr.seq.get()));
  opened.push_back(d);
  switch (static_cast<Kind>(d.hdr.kind)) {
    case Kind::kCompletion:
      completions_[{q, d.body.addr.get()}] = d;
      break;
    case Kind::kInterrupt:
      irqs_.push_back(d.body.value.get());
      break;
    case Kind::kDmaSync:
      announced_[d.body.addr.get()] = {d.body.value.get(), d.body.offset.get(), d.body.len.get()};
      break;
    default:
      break;
  }
}

uint64_t TestGuest::post_read(unsigned bar, uint64_t off, unsigned size, uint16_t q) {
  return post_mmio(Kind::kMmioRead, bar, off, size, 0, q);
}

uint64_t TestGuest::post_write(unsigned bar, uint64_t off, unsigned size, uint64_t v, uint16_t q) {
  return post_mmio(Kind::kMmioWrite, bar, off, size, v, q);
}

uint64_t TestGuest::post_mmio(Kind kind, unsigned bar, uint64_t off, unsigned size, uint64_t v,
                              uint16_t q) {
  Descriptor d{};
  d.hdr.kind = static_cast<uint8_t>(kind);
  d.hdr.queue.set(q);
  d.hdr.channel.set(o_.channel);
  const uint64_t seq = next_seq(q);
  d.hdr.seq.set(seq);
  d.body.kind = d.hdr.kind;
  d.body.bar = static_cast<uint8_t>(bar);
  d.body.size = static_cast<uint8_t>(size);
  d.body.offset.set(off);
  d.body.value.set(v);
  crypto_->seal(Dir::kGuestToDevice, d);
  send_raw(d);
  return seq;
}

const Descriptor *TestGuest::completion(uint64_t seq, uint16_t q) const {
  auto it = completions_.find({q, seq});
  return it == completions_.end() ? nullptr : &it->second;
}

std::optional<uint64_t> TestGuest::read(unsigned bar, uint64_t off, unsigned size, uint16_t q) {
  const uint64_t seq = post_read(bar, off, size, q);
  bench_.pump();
  const Descriptor *c = completion(seq, q);
  if (c == nullptr || c->body.status != static_cast<uint8_t>(proto::Status::kOk))
    return std::nullopt;
  return c->body.value.get();
}

void TestGuest::write(unsigned bar, uint64_t off, unsigned size, uint64_t v, uint16_t q) {
  post_write(bar, off, size, v, q);
  bench_.pump();
}

void TestGuest::sync_for_device(uint64_t addr, uint64_t len, uint16_t q) {
  const uint64_t first = chunk_addr(addr);
  const uint64_t last = chunk_addr(addr + len - 1);
  const uint64_t first_version = dma_seq_ + 1;
  for (uint64_t c = first; c <= last; c += o_.chunk_size) {
    StoredChunk &s = window[c];
    s.version = ++dma_seq_;
    s.writer = static_cast<uint8_t>(proto::Writer::kGuest);
    s.bytes.resize(o_.chunk_size);
    auto aad =
        proto::make_chunk_aad(o_.channel, c, o_.chunk_size, proto::Writer::kGuest, s.version);
    crypto_->seal_chunk(Dir::kGuestToDevice, aad, mem(c), s.bytes.data(), o_.chunk_size, s.tag);
  }
  Descriptor d{};
  d.hdr.kind = static_cast<uint8_t>(Kind::kDmaSync);
  d.hdr.queue.set(q);
  d.hdr.channel.set(o_.channel);
  d.hdr.seq.set(next_seq(q));
  d.body.kind = d.hdr.kind;
  d.body.addr.set(first);
  d.body.len.set(static_cast<uint32_t>(last - first + o_.chunk_size));
  d.body.value.set(first_version);
  crypto_->seal(Dir::kGuestToDevice, d);
  send_raw(d);
}

bool TestGuest::sync_for_cpu(uint64_t addr, uint64_t len) {
  const uint64_t first = chunk_addr(addr);
  const uint64_t last = chunk_addr(addr + len - 1);
  std::vector<std::vector<uint8_t>> plain;
  for (uint64_t c = first; c <= last; c += o_.chunk_size) {
    plain.emplace_back(o_.chunk_size);
    auto a = announced_.find(c);
    if (a == announced_.end()) continue;  // the device did not write it
    auto w = window.find(c);
    if (w == window.end() || w->second.bytes.size() != o_.chunk_size) return false;
    auto aad = proto::make_chunk_aad(o_.channel, c, o_.chunk_size, proto::Writer::kDevice,
                                     a->second.version);
    if (crypto_->open_chunk(Dir::kDeviceToGuest, aad, w->second.bytes.data(), plain.back().data(),
                            o_.chunk_size, w->second.tag) != proto::Status::kOk) {
      return false;
    }
  }
  size_t i = 0;
  for (uint64_t c = first; c <= last; c += o_.chunk_size, ++i) {
    auto a = announced_.find(c);
    if (a == announced_.end()) continue;
    uint64_t lo = std::max(c + a->second.off, addr);
    uint64_t hi = std::min(c + a->second.off + a->second.len, addr + len);
    if (lo < hi) std::memcpy(mem(lo), plain[i].data() + (lo - c), hi - lo);
  }
  return true;
}

void TestGuest::serve_read(const proto::DmaReadReq &r) {
  ++bench_.reads_served;
  proto::DmaPiece p{};
  p.addr = r.addr;
  p.req_id = r.req_id;
  auto w = window.find(r.addr.get());
  if (w == window.end()) {
    p.status = static_cast<uint8_t>(proto::Status::kDmaFailed);
    bench_.to_node.emit(RecordType::kDmaData, o_.channel, bytes_of(&p, sizeof(p)));
    return;
  }
  const StoredChunk &s = w->second;
  p.version.set(s.version);
  p.writer = s.writer;
  p.chunk_len.set(static_cast<uint32_t>(s.bytes.size()));
  std::memcpy(p.tag, s.tag, sizeof(p.tag));
  for (size_t off = 0; off < s.bytes.size(); off += bench_.serve_piece) {
    const size_t n = std::min<size_t>(bench_.serve_piece, s.bytes.size() - off);
    p.piece_off.set(static_cast<uint32_t>(off));
    p.piece_len.set(static_cast<uint32_t>(n));
    bench_.to_node.emit(RecordType::kDmaData, o_.channel, bytes_of(&p, sizeof(p)),
                        bytes_of(s.bytes.data() + off, n));
  }
}

void TestGuest::on_dma_write(const proto::DmaPiece &p, std::span<const uint8_t> bytes) {
  StoredChunk &s = window[p.addr.get()];
  s.bytes.resize(p.chunk_len.get());
  s.version = p.version.get();
  s.writer = p.writer;
  std::memcpy(s.tag, p.tag, sizeof(s.tag));
  std::memcpy(s.bytes.data() + p.piece_off.get(), bytes.data(), bytes.size());
  if (p.piece_off.get() + bytes.size() == p.chunk_len.get()) ++bench_.chunk_writes_stored;
}

uint32_t reference_crc32c(const uint8_t *p, size_t n) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

}  // namespace ferry::testing
