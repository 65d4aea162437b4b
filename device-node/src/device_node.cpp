// Routing of records to sessions, the handshake, and the node's counters.
#include "ferry/device/device_node.h"

#include <cstring>
#include <stdexcept>

#include "node_session.h"
#include "outbox.h"

namespace ferry::device {

using proto::Descriptor;
using proto::RecordType;

NodeCounters &NodeCounters::operator+=(const NodeCounters &o) {
#define FERRY_X(name, what) name += o.name;
  FERRY_DEVICE_NODE_COUNTERS(FERRY_X)
#undef FERRY_X
  return *this;
}

// An accepted handshake waiting for the guest's Confirm: no model, no session yet.
struct DeviceNode::Pending {
  SessionSetup setup;
  proto::SessionSecrets secrets;
  std::vector<uint8_t> hello;
  std::vector<Descriptor> answer;  // the Accept, as sent
  std::vector<uint8_t> confirm;    // the Confirm that makes it live
  uint64_t since_ns = 0;           // stamped by the first poll that sees it (records carry no time)
};

// Everything the node keeps per (peer, channel): the handshake being assembled, the pending
// and the live session, and what answers a retransmitted Hello or Confirm.
struct DeviceNode::Channel {
  proto::RecordSink *peer = nullptr;
  uint32_t channel = 0;
  proto::HandshakeAssembler assembler;
  std::vector<uint8_t> last_hello;  // the live session's
  std::vector<Descriptor> last_answer;
  std::vector<uint8_t> last_confirm;
  uint64_t rx_records = 0;  // records for the live session (on_record does not know the time)
  uint64_t rx_seen = 0;     // rx_records at the last poll...
  uint64_t last_rx_ns = 0;  // ...and the poll that first saw the latest of them
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<Pending> pending;
  std::unique_ptr<Session> session;
};

size_t DeviceNode::KeyHash::operator()(const Key &k) const {
  return std::hash<const void *>()(k.peer) ^
         (static_cast<size_t>(k.channel) * 0x9e3779b97f4a7c15ull);
}

namespace {

// The largest chunk size whose writes fit the outbox twice over (0: none does).
uint32_t max_chunk_for(const NodeOptions &o) {
  for (uint32_t cs = proto::kMaxChunkSize; cs >= 64; cs -= 64) {
    const size_t pieces = (cs + o.max_piece - 1) / o.max_piece;
    const size_t chunk_wire = pieces * (Outbox::kEntryHeader + sizeof(proto::DmaPiece)) + cs +
                              2 * (Outbox::kEntryHeader + proto::kDescriptorSize);
    if (o.outbox_bytes >= 2 * chunk_wire + 4096) return cs;
  }
  return 0;
}

void check_options(const std::string &where, const NodeOptions &o, uint32_t reply_cache) {
  auto fail = [&](const std::string &what) { throw std::invalid_argument(where + ": " + what); };
  if (o.max_chunks == 0 || o.max_chunks > (1u << 22))
    fail("max_chunks " + std::to_string(o.max_chunks) + " must be in [1, 4194304]");
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
  if (max_chunk_for(o) < 4096)
    fail("outbox_bytes " + std::to_string(o.outbox_bytes) +
         " cannot hold the writes of a 4096-byte chunk");
  if (o.handshakes_per_s == 0 || o.handshakes_per_s > 1'000'000 || o.handshake_burst == 0)
    fail("handshakes_per_s must be in [1, 1000000] and handshake_burst at least 1");
  if (reply_cache == 0) fail("reply_cache must be at least 1");
}

}  // namespace

DeviceNode::DeviceNode(const config::DeviceNodeConfig &cfg, proto::Aead &aead,
                       const NodeOptions &opts)
    : cfg_(cfg), aead_(aead), opts_(opts), dma_limits_{max_chunk_for(opts), opts.max_chunks} {
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
    if (dc.guests.empty()) throw std::invalid_argument(where + ": guests: none configured");
    Device d{dc, {}};
    if (d.cfg.model.empty()) d.cfg.model = std::string(model_names().front());
    for (const config::GuestKeyConfig &g : dc.guests) {
      for (const GuestKey &k : d.guests) {
        if (k.guest_id == g.guest_id)
          throw std::invalid_argument(where + ": guest " + std::to_string(g.guest_id) +
                                      " configured twice");
      }
      d.guests.push_back(GuestKey{g.guest_id, proto::read_psk_file(g.psk_file)});
    }
    try {
      check_model(dc.model, dc.params);
    } catch (const std::invalid_argument &e) {
      throw std::invalid_argument(where + ": " + e.what());
    }
    devices_.push_back(std::move(d));
  }
}

DeviceNode::~DeviceNode() {
  for (Device &d : devices_) {
    for (GuestKey &k : d.guests) proto::secure_wipe(k.psk.data(), k.psk.size());
  }
}

std::optional<proto::Psk> DeviceNode::guest_psk(uint32_t device_id, uint32_t guest_id) const {
  const Device *d = device(device_id);
  if (d == nullptr) return std::nullopt;
  for (const GuestKey &k : d->guests) {
    if (k.guest_id == guest_id) return k.psk;
  }
  return std::nullopt;
}

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
  ++c->rx_records;
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
  ++c->rx_records;
  proto::DmaPiece p;
  std::memcpy(&p, r.payload.data(), sizeof(p));
  c->session->on_dma_piece(p, r.payload.subspan(sizeof(p)));
  c->session->after_input();
}

DeviceNode::Channel *DeviceNode::channel_for_handshake(proto::RecordSink &peer, uint32_t channel) {
  if (Channel *c = find(peer, channel)) return c;
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
    report(NodeEvent::kSessionsRefused, channel);
    return nullptr;
  }
  auto fresh = std::make_unique<Channel>();
  fresh->peer = &peer;
  fresh->channel = channel;
  Channel *c = fresh.get();
  channels_.emplace(Key{&peer, channel}, std::move(fresh));
  return c;
}

void DeviceNode::on_handshake(proto::RecordSink &peer, uint32_t channel, const Descriptor &d) {
  Channel *c = channel_for_handshake(peer, channel);
  if (c == nullptr) return;
  const uint64_t malformed_before = c->assembler.malformed();
  const bool whole = c->assembler.add(d);
  node_.malformed += c->assembler.malformed() - malformed_before;
  if (!whole) return;
  if (c->assembler.type() == proto::HandshakeMsg::kHello) {
    on_hello(*c, c->assembler.message());
  } else if (c->assembler.type() == proto::HandshakeMsg::kConfirm) {
    on_confirm(*c, c->assembler.message());
  } else {
    ++node_.malformed;  // an Accept or Reject goes the other way
  }
}

namespace {
bool same_bytes(std::span<const uint8_t> a, const std::vector<uint8_t> &b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}
std::span<const uint8_t> descriptor_bytes(const Descriptor &d) {
  return {reinterpret_cast<const uint8_t *>(&d), sizeof(d)};
}
}  // namespace

bool DeviceNode::take_handshake_token() {
  // A token bucket kept in nanoseconds of refill: each key exchange costs 1 s / rate.
  const uint64_t cost = 1'000'000'000ull / opts_.handshakes_per_s;
  const uint64_t cap = cost * opts_.handshake_burst;
  if (handshake_credit_at_ == 0) {
    handshake_credit_ns_ = cap;
  } else if (now_ns_ > handshake_credit_at_) {
    handshake_credit_ns_ = std::min(cap, handshake_credit_ns_ + (now_ns_ - handshake_credit_at_));
  }
  handshake_credit_at_ = std::max<uint64_t>(now_ns_, 1);
  if (handshake_credit_ns_ < cost) return false;
  handshake_credit_ns_ -= cost;
  return true;
}

void DeviceNode::on_hello(Channel &c, std::span<const uint8_t> hello) {
  const uint32_t channel = c.channel;
  // A retransmission of the live or the pending Hello: the same Accept, no new work.
  if (c.session && same_bytes(hello, c.last_hello)) {
    for (const Descriptor &a : c.last_answer)
      c.session->send(RecordType::kDescriptor, descriptor_bytes(a));
    ++node_.handshake_retransmits;
    return;
  }
  if (c.pending && same_bytes(hello, c.pending->hello)) {
    for (const Descriptor &a : c.pending->answer) send_handshake(c, a);
    ++node_.handshake_retransmits;
    return;
  }
  if (!c.session && live_sessions_ >= cfg_.max_sessions) {
    ++node_.sessions_refused;
    report(NodeEvent::kSessionsRefused, channel);
    return;
  }
  if (!take_handshake_token()) {
    ++node_.handshakes_throttled;
    return;
  }
  ++node_.handshake_work;
  try {
    proto::DeviceHandshakeResult res = proto::device_handshake(
        hello, [this](uint32_t dev, uint32_t guest) { return guest_psk(dev, guest); }, dma_limits_);
    const Device *dev = device(res.device_id);
    if (!res.secrets) {
      // A Reject: only a hint for the operator (it is not authenticated), sent as is.
      ++node_.handshake_failures;
      if (dev != nullptr) ++node_.auth_failures;  // a known device: wrong PSK or tampered
      report(NodeEvent::kHandshakeRejected, channel, res.device_id, res.guest_id,
             res.error.c_str());
      for (const Descriptor &a :
           proto::handshake_fragments(channel, proto::HandshakeMsg::kReject, res.answer)) {
        if (!c.peer->emit(RecordType::kDescriptor, channel, descriptor_bytes(a)))
          ++node_.tx_dropped;
      }
      return;
    }
    if (dev == nullptr || res.secrets->params.channel != channel) {
      // An authentic Hello routed on another channel than it names: the host misroutes it.
      // No answer: the Accept is for a session that will not exist.
      ++node_.handshake_failures;
      report(NodeEvent::kHandshakeMisrouted, channel, res.device_id, res.guest_id,
             dev == nullptr ? "no such device" : "it names another channel");
      return;
    }
    auto p = std::make_unique<Pending>();
    p->setup = SessionSetup{channel, dev->cfg.device_id, dev->cfg.model,   dev->cfg.params, opts_,
                            res.dma, cfg_.replay_window, cfg_.reply_cache, res.guest_id};
    p->secrets = std::move(*res.secrets);
    p->hello.assign(hello.begin(), hello.end());
    p->answer = proto::handshake_fragments(channel, proto::HandshakeMsg::kAccept, res.answer);
    p->confirm = std::move(res.confirm);
    c.pending = std::move(p);  // a newer Hello replaces an unconfirmed one
    for (const Descriptor &a : c.pending->answer) send_handshake(c, a);
  } catch (const std::exception &) {
    ++node_.handshake_failures;  // set-up failed (allocation): no session
  }
}

void DeviceNode::send_handshake(Channel &c, const Descriptor &d) {
  if (!c.outbox) {
    const size_t max_payload =
        std::max<size_t>(proto::kDescriptorSize, sizeof(proto::DmaPiece) + opts_.max_piece);
    c.outbox = std::make_unique<Outbox>(opts_.outbox_bytes, max_payload);
  }
  // Behind the live session's records, through the same outbox: the Accept keeps its order.
  if (!c.outbox->send(*c.peer, RecordType::kDescriptor, c.channel, descriptor_bytes(d), {},
                      node_.tx_deferred))
    ++node_.tx_dropped;
}

void DeviceNode::on_confirm(Channel &c, std::span<const uint8_t> confirm) {
  if (!c.pending || !proto::confirm_matches(c.pending->confirm, confirm)) {
    // A retransmitted Confirm of the live session changes nothing; anything else is counted.
    if (!(c.session && proto::confirm_matches(c.last_confirm, confirm))) ++node_.confirms_bad;
    return;
  }
  std::unique_ptr<Pending> p = std::move(c.pending);
  if (!c.session && live_sessions_ >= cfg_.max_sessions) {
    ++node_.sessions_refused;
    report(NodeEvent::kSessionsRefused, c.channel, p->setup.device_id, p->setup.guest_id);
    return;
  }
  try {
    auto session =
        std::make_unique<Session>(aead_, p->secrets, p->setup, *c.peer, *c.outbox, now_ns_);
    const bool replaced = c.session != nullptr;
    if (replaced) {
      retire(c);
      ++node_.sessions_replaced;
    }
    c.outbox->clear();  // records of the old session are useless to the new one
    c.session = std::move(session);
    ++live_sessions_;
    c.last_hello = std::move(p->hello);
    c.last_answer = std::move(p->answer);
    c.last_confirm = std::move(p->confirm);
    ++c.rx_records;  // the next poll stamps the session's start as its last traffic
    ++node_.handshakes;
    c.session->report(replaced ? NodeEvent::kSessionReplaced : NodeEvent::kSessionStarted);
  } catch (const std::exception &) {
    ++node_.handshake_failures;  // set-up failed (allocation, model): no session
  }
}

void DeviceNode::report(NodeEvent what, uint32_t channel, uint32_t device_id, uint32_t guest_id,
                        const char *why) const {
  if (opts_.events == nullptr) return;
  opts_.events->on_event(NodeEventInfo{what, channel, device_id, guest_id, 0, 0, why});
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
    reap(*c);
    if (c->session) work += c->session->poll(now_ns);
  }
  return work;
}

void DeviceNode::reap(Channel &c) {
  if (c.pending && c.pending->since_ns == 0) c.pending->since_ns = std::max<uint64_t>(now_ns_, 1);
  if (c.pending && now_ns_ >= c.pending->since_ns &&
      now_ns_ - c.pending->since_ns >= opts_.confirm_timeout_ns) {
    c.pending.reset();
    ++node_.pending_expired;
  }
  if (c.rx_records != c.rx_seen) {
    c.rx_seen = c.rx_records;
    c.last_rx_ns = now_ns_;
  }
  if (c.session && opts_.idle_timeout_ns != 0 && now_ns_ >= c.last_rx_ns &&
      now_ns_ - c.last_rx_ns >= opts_.idle_timeout_ns && c.session->quiescent()) {
    c.session->report(NodeEvent::kSessionIdle);
    retire(c);
    c.outbox->clear();
    ++node_.sessions_idle_reaped;
  }
}

void DeviceNode::drop_peer(const proto::RecordSink &peer) {
  for (auto it = channels_.begin(); it != channels_.end();) {
    if (it->first.peer == &peer) {
      if (it->second->session) it->second->session->report(NodeEvent::kSessionPeerGone);
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
