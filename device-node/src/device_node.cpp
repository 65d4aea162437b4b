// Routing of records to sessions, the handshake, and the node's counters.
#include "ferry/device/device_node.h"

#include <cstring>
#include <stdexcept>

#include "outbox.h"
#include "session.h"

namespace ferry::device {

using proto::Descriptor;
using proto::RecordType;

NodeCounters &NodeCounters::operator+=(const NodeCounters &o) {
#define FERRY_X(name, what) name += o.name;
  FERRY_DEVICE_NODE_COUNTERS(FERRY_X)
#undef FERRY_X
  return *this;
}

// Everything the node keeps per (peer, channel): the handshake being assembled, the session,
// and what answers a retransmitted Hello.
struct DeviceNode::Channel {
  proto::RecordSink *peer = nullptr;
  uint32_t channel = 0;
  proto::HandshakeAssembler assembler;
  std::vector<uint8_t> last_hello;
  std::vector<Descriptor> last_answer;
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<Session> session;
};

size_t DeviceNode::KeyHash::operator()(const Key &k) const {
  return std::hash<const void *>()(k.peer) ^
         (static_cast<size_t>(k.channel) * 0x9e3779b97f4a7c15ull);
}

namespace {

void check_options(const std::string &where, const NodeOptions &o, uint32_t reply_cache) {
  auto fail = [&](const std::string &what) { throw std::invalid_argument(where + ": " + what); };
  if (o.chunk_size < 64 || o.chunk_size % 64 != 0 || o.chunk_size > proto::kMaxChunkSize)
    fail("chunk_size " + std::to_string(o.chunk_size) + " must be a multiple of 64 in [64, " +
         std::to_string(proto::kMaxChunkSize) + "]");
  if (o.n_chunks == 0 || o.n_chunks > (1u << 22))
    fail("n_chunks " + std::to_string(o.n_chunks) + " must be in [1, 4194304]");
  if (o.dma_base > UINT64_MAX - static_cast<uint64_t>(o.n_chunks) * o.chunk_size)
    fail("dma_base + n_chunks * chunk_size overflows");
  const size_t max_piece =
      proto::record_layout(RecordType::kDmaWrite).max_payload - sizeof(proto::DmaPiece);
  if (o.max_piece < 64 || o.max_piece > max_piece)
    fail("max_piece " + std::to_string(o.max_piece) + " must be in [64, " +
         std::to_string(max_piece) + "]");
  if (o.max_dma_ops == 0 || o.max_dma_ops > 1024 || o.max_chunk_fetches == 0 ||
      o.max_chunk_fetches > 1024)
    fail("max_dma_ops and max_chunk_fetches must be in [1, 1024]");
  if (o.max_dma_len == 0) fail("max_dma_len must be at least 1");
  if (o.reorder_slots == 0 || o.reorder_slots > 65536) fail("reorder_slots must be in [1, 65536]");
  const size_t pieces = (o.chunk_size + o.max_piece - 1) / o.max_piece;
  const size_t chunk_wire = pieces * (Outbox::kEntryHeader + sizeof(proto::DmaPiece)) +
                            o.chunk_size + 2 * (Outbox::kEntryHeader + proto::kDescriptorSize);
  if (o.outbox_bytes < 2 * chunk_wire + 4096)
    fail("outbox_bytes " + std::to_string(o.outbox_bytes) + " must be at least " +
         std::to_string(2 * chunk_wire + 4096) + " for this chunk_size");
  if (reply_cache == 0) fail("reply_cache must be at least 1");
}

// The node's own keys in a device's params: the DMA geometry of the guests it serves.
constexpr std::string_view kNodeParams[] = {"chunk_size", "dma_base", "n_chunks"};

}  // namespace

DeviceNode::DeviceNode(const config::DeviceNodeConfig &cfg, proto::Aead &aead,
                       const NodeOptions &opts)
    : cfg_(cfg), aead_(aead), opts_(opts) {
  const std::string file = cfg.file.empty() ? "device-node config" : cfg.file;
  if (cfg.devices.empty()) throw std::invalid_argument(file + ": devices: none configured");
  if (cfg.max_sessions == 0) throw std::invalid_argument(file + ": max_sessions must be >= 1");
  check_options(file, opts, cfg.reply_cache);
  for (const config::DeviceConfig &dc : cfg.devices) {
    const std::string where = file + ": device " + std::to_string(dc.device_id);
    for (const Device &d : devices_) {
      if (d.cfg.device_id == dc.device_id)
        throw std::invalid_argument(where + ": device_id configured twice");
    }
    Device d{dc, proto::read_psk_file(dc.psk_file), {}, opts};
    for (const auto &[key, value] : dc.params) {
      if (key == kNodeParams[0]) {
        d.opts.chunk_size = static_cast<uint32_t>(value);
        if (value > UINT32_MAX) d.opts.chunk_size = 0;
      } else if (key == kNodeParams[1]) {
        d.opts.dma_base = value;
      } else if (key == kNodeParams[2]) {
        d.opts.n_chunks = value > UINT32_MAX ? 0 : static_cast<uint32_t>(value);
      } else {
        d.model_params[key] = value;
      }
    }
    check_options(where, d.opts, cfg.reply_cache);
    try {
      check_model(dc.model, d.model_params);
    } catch (const std::invalid_argument &e) {
      throw std::invalid_argument(where + ": " + e.what());
    }
    devices_.push_back(std::move(d));
  }
}

DeviceNode::~DeviceNode() = default;

DeviceNode::Channel *DeviceNode::find(const proto::RecordSink &peer, uint32_t channel) {
  auto it = channels_.find(Key{&peer, channel});
  return it == channels_.end() ? nullptr : it->second.get();
}

const DeviceNode::Device *DeviceNode::device(uint32_t id) const {
  for (const Device &d : devices_) {
    if (d.cfg.device_id == id) return &d;
  }
  return nullptr;
}

void DeviceNode::on_record(proto::RecordSink &peer, const proto::RecordView &r) {
  ++node_.records;
  switch (r.type) {
    case RecordType::kDescriptor:
      on_descriptor(peer, r);
      break;
    case RecordType::kDmaData:
      on_dma_data(peer, r);
      break;
    default:
      ++node_.malformed;  // read requests and writes go the other way
      break;
  }
}

void DeviceNode::on_descriptor(proto::RecordSink &peer, const proto::RecordView &r) {
  if (r.payload.size() != sizeof(Descriptor)) [[unlikely]] {
    ++node_.malformed;
    return;
  }
  Descriptor d;
  std::memcpy(&d, r.payload.data(), sizeof(d));
  if (proto::check_header(d) != proto::Status::kOk || d.hdr.channel.get() != r.channel) {
    ++node_.malformed;
    return;
  }
  if (d.hdr.kind == static_cast<uint8_t>(proto::Kind::kHandshake)) {
    on_handshake(peer, r.channel, d);
    return;
  }
  Channel *c = find(peer, r.channel);
  if (c == nullptr || !c->session) {
    ++node_.no_session;
    return;
  }
  c->session->on_descriptor(d);
  c->session->after_input();
}

void DeviceNode::on_dma_data(proto::RecordSink &peer, const proto::RecordView &r) {
  if (r.payload.size() < sizeof(proto::DmaPiece)) [[unlikely]] {
    ++node_.malformed;
    return;
  }
  Channel *c = find(peer, r.channel);
  if (c == nullptr || !c->session) {
    ++node_.no_session;
    return;
  }
  proto::DmaPiece p;
  std::memcpy(&p, r.payload.data(), sizeof(p));
  c->session->on_dma_piece(p, r.payload.subspan(sizeof(p)));
  c->session->after_input();
}

void DeviceNode::on_handshake(proto::RecordSink &peer, uint32_t channel, const Descriptor &d) {
  Channel *c = find(peer, channel);
  if (c == nullptr) {
    // Bounded: half-open handshakes cannot grow the table without limit. When it is full,
    // channels without a session (a handshake that never finished) make room first.
    if (channels_.size() >= 2ull * cfg_.max_sessions) {
      for (auto it = channels_.begin(); it != channels_.end(); ++it) {
        if (!it->second->session) {
          channels_.erase(it);
          break;
        }
      }
    }
    if (channels_.size() >= 2ull * cfg_.max_sessions) {
      ++node_.sessions_refused;
      return;
    }
    auto fresh = std::make_unique<Channel>();
    fresh->peer = &peer;
    fresh->channel = channel;
    c = fresh.get();
    channels_.emplace(Key{&peer, channel}, std::move(fresh));
  }
  const uint64_t malformed_before = c->assembler.malformed();
  const bool whole = c->assembler.add(d);
  node_.malformed += c->assembler.malformed() - malformed_before;
  if (!whole) return;
  if (c->assembler.type() != proto::HandshakeMsg::kHello) {
    ++node_.malformed;
    return;
  }
  const std::span<const uint8_t> hello = c->assembler.message();
  if (c->session && hello.size() == c->last_hello.size() &&
      std::memcmp(hello.data(), c->last_hello.data(), hello.size()) == 0) {
    for (const Descriptor &a : c->last_answer) {
      c->session->send(RecordType::kDescriptor,
                       std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&a), sizeof(a)));
    }
    ++node_.handshake_retransmits;
    return;
  }
  if (!c->session && live_sessions_ >= cfg_.max_sessions) {
    ++node_.sessions_refused;
    return;
  }
  try {
    proto::DeviceHandshakeResult res =
        proto::device_handshake(hello, [this](uint32_t id) -> std::optional<proto::Psk> {
          const Device *dev = device(id);
          if (dev == nullptr) return std::nullopt;
          return dev->psk;
        });
    const Device *dev = device(res.device_id);
    if (!res.secrets) {
      // A Reject: only a hint for the operator (it is not authenticated), sent as is.
      ++node_.handshake_failures;
      if (dev != nullptr) ++node_.auth_failures;  // a known device: wrong PSK or tampered
      for (const Descriptor &a :
           proto::handshake_fragments(channel, proto::HandshakeMsg::kReject, res.answer)) {
        if (!peer.emit(
                RecordType::kDescriptor, channel,
                std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&a), sizeof(a)))) {
          ++node_.tx_dropped;
        }
      }
      return;
    }
    if (dev == nullptr || res.secrets->params.channel != channel) {
      // An authentic Hello routed on another channel than it names: the host misroutes it.
      // No answer: the Accept is for a session that will not exist.
      ++node_.handshake_failures;
      return;
    }
    SessionSetup setup{channel,   dev->cfg.device_id, dev->cfg.model,  dev->model_params,
                       dev->opts, cfg_.replay_window, cfg_.reply_cache};
    if (!c->outbox) {
      const size_t max_payload =
          std::max<size_t>(proto::kDescriptorSize, sizeof(proto::DmaPiece) + dev->opts.max_piece);
      c->outbox = std::make_unique<Outbox>(dev->opts.outbox_bytes, max_payload);
    }
    auto session = std::make_unique<Session>(aead_, *res.secrets, setup, peer, *c->outbox, now_ns_);
    if (c->session) {
      retire(*c);
      ++node_.sessions_replaced;
    }
    c->outbox->clear();  // records of the old session are useless to the new one
    c->session = std::move(session);
    ++live_sessions_;
    c->last_hello.assign(hello.begin(), hello.end());
    c->last_answer = proto::handshake_fragments(channel, proto::HandshakeMsg::kAccept, res.answer);
    for (const Descriptor &a : c->last_answer) {
      c->session->send(RecordType::kDescriptor,
                       std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&a), sizeof(a)));
    }
    ++node_.handshakes;
  } catch (const std::exception &) {
    ++node_.handshake_failures;  // set-up failed (allocation, model): no session
  }
}

void DeviceNode::retire(Channel &c) {
  if (!c.session) return;
  retired_ += c.session->counters();
  c.session.reset();
  --live_sessions_;
}

size_t DeviceNode::poll(uint64_t now_ns) {
  now_ns_ = now_ns;
  size_t work = 0;
  for (auto &[key, c] : channels_) {
    if (c->session) work += c->session->poll(now_ns);
  }
  return work;
}

void DeviceNode::drop_peer(const proto::RecordSink &peer) {
  for (auto it = channels_.begin(); it != channels_.end();) {
    if (it->first.peer == &peer) {
      retire(*it->second);
      it = channels_.erase(it);
    } else {
      ++it;
    }
  }
}

NodeCounters DeviceNode::counters() const {
  NodeCounters total = node_;
  total += retired_;
  for (const auto &[key, c] : channels_) {
    if (c->session) total += c->session->counters();
  }
  return total;
}

std::vector<SessionInfo> DeviceNode::sessions() const {
  std::vector<SessionInfo> out;
  for (const auto &[key, c] : channels_) {
    if (!c->session) continue;
    const Session &s = *c->session;
    out.push_back(SessionInfo{s.peer(), c->channel, s.device_id(), s.session_id(), s.n_queues(),
                              s.model_name(), s.counters()});
  }
  return out;
}

void DeviceNode::visit_stats(StatsVisitor &v) const {
  for (const auto &[key, c] : channels_) {
    if (!c->session) continue;
    const Session &s = *c->session;
    const SessionStats st{c->channel, s.device_id(), s.session_id(), s.n_queues(), &s.counters()};
    v.session(st);
    for (uint16_t q = 0; q < st.n_queues; ++q) v.queue(st, q, s.queue_counters(q));
  }
}

size_t DeviceNode::session_count() const {
  return live_sessions_;
}

DeviceModel *DeviceNode::model(const proto::RecordSink &peer, uint32_t channel) {
  Channel *c = find(peer, channel);
  return c != nullptr && c->session ? &c->session->model() : nullptr;
}

bool DeviceNode::quiescent() const {
  for (const auto &[key, c] : channels_) {
    if (c->session && !c->session->quiescent()) return false;
  }
  return true;
}

}  // namespace ferry::device
