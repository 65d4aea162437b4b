#include "device.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ferry::guest {

using proto::Descriptor;
using proto::Kind;

namespace {

constexpr int kPollBudget = proto::kBurst;  // CQ slots taken per poll
// A heartbeat that did not move is a dead data plane only when the wait was long enough for
// the data plane's housekeeping to have run (it beats every few milliseconds at most).
constexpr uint64_t kHeartbeatMinWaitNs = 100'000'000;
constexpr unsigned kMaxBar = 5;
std::atomic<Device::SecretsObserver> secrets_observer{nullptr};

int status_to_errno(uint8_t status) {
  switch (static_cast<proto::Status>(status)) {
    case proto::Status::kOk:
      return 0;
    case proto::Status::kNoSession:
      return -ENOTCONN;
    case proto::Status::kAuthFailed:
    case proto::Status::kReplayed:
      return -EBADMSG;
    case proto::Status::kSeqGap:
      return -EPROTO;
    default:
      return -EIO;
  }
}

uint64_t size_mask(unsigned size) {
  return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

bool valid_size(unsigned size) {
  return size == 1 || size == 2 || size == 4 || size == 8;
}

void raise_to(std::atomic<uint64_t> &a, uint64_t v) {
  uint64_t cur = a.load(std::memory_order_relaxed);
  while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_acq_rel)) {
  }
}

}  // namespace

Device::Device(const config::GuestConfig &cfg)
    : cfg_(cfg),
      region_(cfg.region_path),
      channel_(region_.geometry().channel),
      dma_(region_, channel_) {
  const proto::ShmGeometry &g = region_.geometry();
  if (cfg.n_queues == 0 || cfg.n_queues > g.n_queues || cfg.n_queues > proto::kMaxQueues)
    throw std::runtime_error("config " + cfg.file + ": queues = " + std::to_string(cfg.n_queues) +
                             ", but the region " + cfg.region_path + " has " +
                             std::to_string(g.n_queues));
  if (cfg.guest_id == 0)
    throw std::runtime_error("config " + cfg.file + ": guest_id is not set (the device node " +
                             "knows this guest's PSK by it)");
  if (cfg.queue >= cfg.n_queues)
    throw std::runtime_error("config " + cfg.file + ": queue " + std::to_string(cfg.queue) +
                             " is not below queues (" + std::to_string(cfg.n_queues) + ")");
  for (uint16_t q = 0; q < cfg.n_queues; ++q) {
    queues_.push_back(
        std::make_unique<Queue>(q, channel_, region_.sq(q), region_.cq(q), g.ring_slots));
    aeads_.push_back(proto::Aead::create_best());
  }
}

Device::~Device() {
  region_.set_attached(false);
}

std::unique_ptr<Device> Device::open(const config::GuestConfig &cfg) {
  proto::Psk psk = proto::read_psk_file(cfg.psk_file);
  std::unique_ptr<Device> dev(new Device(cfg));
  try {
    dev->handshake(psk);
  } catch (...) {
    proto::secure_wipe(psk.data(), psk.size());
    throw;
  }
  proto::secure_wipe(psk.data(), psk.size());
  return dev;
}

void Device::set_secrets_observer(SecretsObserver f) {
  secrets_observer.store(f);
}

std::unique_ptr<Device> Device::attach(const config::GuestConfig &cfg,
                                       const proto::SessionSecrets &secrets) {
  std::unique_ptr<Device> dev(new Device(cfg));
  if (secrets.params.n_queues != dev->n_queues() || secrets.params.channel != dev->channel_)
    throw std::runtime_error("attach: session parameters do not match the region");
  dev->start(secrets);
  return dev;
}

void Device::start(const proto::SessionSecrets &secrets) {
  proto::RekeyPolicy rekey;
  rekey.after_messages = cfg_.rekey_after_messages;
  rekey.after_ns = uint64_t{cfg_.rekey_after_ms} * 1'000'000;
  rekey.overlap_messages = cfg_.replay_window;
  for (size_t q = 0; q < queues_.size(); ++q) queues_[q]->start_session(*aeads_[q], secrets, rekey);
  session_id_ = secrets.session_id;
  region_.set_attached(true);
}

void Device::handshake(const proto::Psk &psk) {
  const Deadline deadline = Deadline::in_ms(cfg_.handshake_timeout_ms);
  IdlePoller idler(cfg_.idle);
  while (!region_.host_ready()) {
    if (deadline.passed())
      throw std::runtime_error("region " + cfg_.region_path +
                               ": the data plane did not mark it ready within " +
                               std::to_string(cfg_.handshake_timeout_ms) + " ms");
    idler.idle();
  }
  Queue &q0 = *queues_[0];
  // Whatever the CQ holds belongs to an earlier session; an old Accept must not be taken
  // for the answer to this Hello.
  Descriptor d;
  for (uint32_t i = 0; i < 2 * region_.geometry().ring_slots && q0.pop_raw(d) == 1; ++i) {
  }

  proto::SessionParams params;
  params.security = cfg_.security;
  params.key_bytes = cfg_.key_bytes;
  params.n_queues = n_queues();
  params.channel = channel_;
  // The DMA geometry comes from the region header the data plane wrote, which Region checked
  // against the mapping; the device node serves the session with it.
  const proto::ShmGeometry &g = region_.geometry();
  const proto::DmaGeometry dma{g.chunk_size, g.n_chunks, g.dma_base};
  proto::GuestHandshake hs(psk, params, cfg_.device_id, cfg_.guest_id, dma);
  auto post_all = [&](proto::HandshakeMsg type, std::span<const uint8_t> msg) {
    for (const Descriptor &frag : proto::handshake_fragments(channel_, type, msg)) {
      if (q0.post(frag, deadline, idler) != 0)
        throw std::runtime_error("handshake: the submission ring of queue 0 stayed full for " +
                                 std::to_string(cfg_.handshake_timeout_ms) + " ms");
    }
  };
  post_all(proto::HandshakeMsg::kHello, hs.hello());
  proto::HandshakeAssembler assembler;
  std::string ignored;  // why the last answer that did not finish the handshake was ignored
  for (;;) {
    int r = q0.pop_raw(d);
    if (r == 1 && d.hdr.kind == static_cast<uint8_t>(Kind::kHandshake) && assembler.add(d)) {
      std::string error;
      std::optional<proto::SessionSecrets> secrets = hs.finish(assembler.message(), error);
      if (secrets) {
        // Key confirmation: the device node makes the session live only on this message.
        post_all(proto::HandshakeMsg::kConfirm, hs.confirm());
        // The node takes no descriptor of the session before its Confirm. The relay forwards
        // each queue in order, but queues among themselves in any order: requests posted on
        // another queue right after open() could overtake the Confirm (and be dropped as
        // sessionless) unless the host has taken it first.
        if (q0.wait_taken(deadline, idler) != 0)
          throw std::runtime_error("handshake: the host did not take the Confirm within " +
                                   std::to_string(cfg_.handshake_timeout_ms) + " ms");
        if (SecretsObserver f = secrets_observer.load()) f(*secrets);
        start(*secrets);
        return;
      }
      // A Reject is unauthenticated and an Accept that does not verify may be forged by the
      // host: neither ends the attempt; the genuine answer may still come.
      ++handshake_answers_ignored_;
      ignored = error;
    }
    // Checked on every pass: a host flooding the ring must not hold open() past its timeout.
    if (deadline.passed()) {
      if (!ignored.empty())
        throw std::runtime_error("handshake with device " + std::to_string(cfg_.device_id) +
                                 " failed: " + ignored + "; no valid answer within " +
                                 std::to_string(cfg_.handshake_timeout_ms) + " ms");
      throw std::runtime_error("handshake: no answer from device " +
                               std::to_string(cfg_.device_id) + " within " +
                               std::to_string(cfg_.handshake_timeout_ms) +
                               " ms (is the device node running and reachable?)");
    }
    if (r == 1)
      idler.busy();
    else
      idler.idle();
  }
}

void Device::on_sequence_gap(Queue &) {
  failed_.store(true, std::memory_order_release);
}

void Device::on_descriptor(Queue &q, const Descriptor &d) {
  const auto kind = static_cast<Kind>(d.hdr.kind);
  if (kind == Kind::kCompletion || kind == Kind::kInterrupt)
    raise_to(announcements_due_, d.body.offset.get());  // sealed: the host cannot lower it
  switch (kind) {
    case Kind::kCompletion:
      if (d.body.status == static_cast<uint8_t>(proto::Status::kSeqGap)) [[unlikely]] {
        failed_.store(true, std::memory_order_release);  // authentic: only the node seals it
        if (q.awaited.seq != 0 && !q.awaited.done && d.body.addr.get() == 0) {
          q.awaited.completion = d;  // the notice: the awaited read will never be answered
          q.awaited.done = true;
          break;
        }
      }
      if (q.awaited.seq != 0 && !q.awaited.done && d.body.addr.get() == q.awaited.seq) {
        q.awaited.completion = d;
        q.awaited.done = true;
      } else {
        q.stats().stale.fetch_add(1, std::memory_order_relaxed);
      }
      break;
    case Kind::kInterrupt:
      irq_pending_.fetch_or(static_cast<uint32_t>(d.body.value.get()), std::memory_order_acq_rel);
      break;
    case Kind::kDmaSync: {
      announcements_received_.fetch_add(1, std::memory_order_acq_rel);
      std::lock_guard<std::mutex> lk(dma_.mutex());
      dma_.on_device_sync(d.body.addr.get(), d.body.value.get(), d.body.offset.get(),
                          d.body.len.get());
      break;
    }
    default:
      q.stats().malformed.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

uint64_t Device::suspicious(Queue &q) {
  QueueStats &s = q.stats();
  return s.auth_failed.load(std::memory_order_relaxed) +
         s.replayed.load(std::memory_order_relaxed) + s.malformed.load(std::memory_order_relaxed) +
         s.bad_index.load(std::memory_order_relaxed);
}

int Device::timeout_reason(const Queue &q, uint64_t heartbeat_at_start, uint64_t started_ns,
                           uint64_t suspicious_at_start) {
  if (suspicious(const_cast<Queue &>(q)) != suspicious_at_start) return -EBADMSG;
  if (!region_.host_ready()) return -ENOTCONN;
  if (region_.heartbeat() == heartbeat_at_start &&
      proto::now_ns() - started_ns >= kHeartbeatMinWaitNs)
    return -ENOTCONN;
  return -ETIMEDOUT;
}

void Device::fill_read(Descriptor &d, unsigned bar, uint64_t off, unsigned size) {
  d = Descriptor{};
  d.hdr.kind = static_cast<uint8_t>(Kind::kMmioRead);
  d.body.bar = static_cast<uint8_t>(bar);
  d.body.size = static_cast<uint8_t>(size);
  d.body.offset.set(off);
}

int Device::post_locked(Queue &qu, const Descriptor &d, const Deadline &deadline) {
  IdlePoller idler(cfg_.idle);
  return qu.post(d, deadline, idler);
}

int Device::wait_locked(Queue &qu, uint64_t seq, const Deadline &deadline, uint64_t &value) {
  const uint64_t hb0 = region_.heartbeat(), t0 = proto::now_ns(), s0 = suspicious(qu);
  qu.awaited.seq = seq;
  qu.awaited.done = false;
  IdlePoller idler(cfg_.idle);
  for (;;) {
    int n = qu.poll(kPollBudget, *this);
    if (qu.awaited.done) break;
    if (failed_.load(std::memory_order_acquire)) [[unlikely]] {
      qu.awaited.seq = 0;  // e.g. its completion came past a withheld one: never taken
      return -EPROTO;
    }
    // Checked on every pass, not only when idle: a host flooding the CQ with forgeries must
    // not keep a read waiting past its timeout.
    if (deadline.passed()) {
      qu.awaited.seq = 0;
      return timeout_reason(qu, hb0, t0, s0);
    }
    if (n > 0)
      idler.busy();
    else
      idler.idle();
  }
  qu.awaited.seq = 0;
  const Descriptor &c = qu.awaited.completion;
  // A kCompletion (on_descriptor checked its sealed kind) whose addr is the awaited read's seq:
  // it answers that read; only reads are answered.
  if (int e = status_to_errno(c.body.status); e != 0) return e;
  value = c.body.value.get();
  return 0;
}

uint64_t Device::seal_read(uint16_t q, unsigned bar, uint64_t off, unsigned size, Descriptor &d) {
  std::lock_guard<std::mutex> lk(queues_[q]->mutex());
  fill_read(d, bar, off, size);
  uint64_t seq = 0;
  return queues_[q]->seal(d, seq) == 0 ? seq : 0;
}

int Device::post(uint16_t q, const Descriptor &d) {
  std::lock_guard<std::mutex> lk(queues_[q]->mutex());
  return post_locked(*queues_[q], d, Deadline::in_ms(cfg_.mmio_timeout_ms));
}

int Device::wait_completion(uint16_t q, uint64_t seq, uint64_t &value) {
  std::lock_guard<std::mutex> lk(queues_[q]->mutex());
  return wait_locked(*queues_[q], seq, Deadline::in_ms(cfg_.mmio_timeout_ms), value);
}

int Device::read(uint16_t q, unsigned bar, uint64_t off, unsigned size, uint64_t &value) {
  if (bar > kMaxBar || !valid_size(size) || q >= n_queues()) return -EINVAL;
  if (int e = failed_errno(); e != 0) return e;
  Queue &qu = *queues_[q];
  std::lock_guard<std::mutex> lk(qu.mutex());
  const Deadline deadline = Deadline::in_ms(cfg_.mmio_timeout_ms);
  Descriptor d;
  fill_read(d, bar, off, size);
  uint64_t seq = 0;
  IdlePoller idler(cfg_.idle);
  if (int r = qu.seal_and_post(d, deadline, idler, seq); r != 0) return r;
  uint64_t v = 0;
  if (int r = wait_locked(qu, seq, deadline, v); r != 0) return r;
  value = v & size_mask(size);
  return 0;
}

int Device::write(uint16_t q, unsigned bar, uint64_t off, unsigned size, uint64_t value) {
  if (bar > kMaxBar || !valid_size(size) || q >= n_queues()) return -EINVAL;
  if (int e = failed_errno(); e != 0) return e;
  Queue &qu = *queues_[q];
  std::lock_guard<std::mutex> lk(qu.mutex());
  Descriptor d{};
  d.hdr.kind = static_cast<uint8_t>(Kind::kMmioWrite);
  d.body.bar = static_cast<uint8_t>(bar);
  d.body.size = static_cast<uint8_t>(size);
  d.body.offset.set(off);
  d.body.value.set(value & size_mask(size));
  uint64_t seq = 0;
  IdlePoller idler(cfg_.idle);
  return qu.seal_and_post(d, Deadline::in_ms(cfg_.mmio_timeout_ms), idler, seq);
}

void *Device::dma_alloc(size_t len, uint64_t &dma_addr, int &err) {
  std::lock_guard<std::mutex> lk(dma_.mutex());
  return dma_.alloc(len, dma_addr, err);
}

int Device::dma_free(void *cpu, size_t len) {
  std::lock_guard<std::mutex> lk(dma_.mutex());
  return dma_.free(cpu, len);
}

int Device::sync_for_device(uint16_t q, uint64_t dma_addr, size_t len) {
  if (q >= n_queues()) return -EINVAL;
  if (int e = failed_errno(); e != 0) return e;
  Queue &qu = *queues_[q];
  std::lock_guard<std::mutex> lk(qu.mutex());
  DmaAnnouncement ann{};
  {
    std::lock_guard<std::mutex> dl(dma_.mutex());
    if (int r = dma_.seal_for_device(qu.crypto(), dma_addr, len, ann); r != 0) return r;
  }
  Descriptor d{};
  d.hdr.kind = static_cast<uint8_t>(Kind::kDmaSync);
  d.body.addr.set(ann.addr);
  d.body.len.set(ann.len);
  d.body.value.set(ann.first_version);
  uint64_t seq = 0;
  IdlePoller idler(cfg_.idle);
  return qu.seal_and_post(d, Deadline::in_ms(cfg_.mmio_timeout_ms), idler, seq);
}

int Device::sync_for_cpu(uint16_t q, uint64_t dma_addr, size_t len) {
  if (q >= n_queues()) return -EINVAL;
  Queue &qu = *queues_[q];
  std::lock_guard<std::mutex> lk(qu.mutex());
  // The device's announcements precede the completion or interrupt that told the driver the
  // DMA is done; take whatever is still queued before deciding what the device wrote.
  // Bounded: a host that keeps refilling the ring cannot keep this call here.
  const uint32_t max_passes = region_.geometry().ring_slots / kPollBudget + 1;
  for (uint32_t i = 0; i < max_passes && qu.poll(kPollBudget, *this) == kPollBudget; ++i) {
  }
  poll_others(q);
  if (int e = wait_announcements(qu); e != 0) return e;
  std::lock_guard<std::mutex> dl(dma_.mutex());
  return dma_.open_for_cpu(qu.crypto(), dma_addr, len, qu.staging);
}

int Device::wait_announcements(Queue &qu) {
  const Deadline deadline = Deadline::in_ms(cfg_.mmio_timeout_ms);
  IdlePoller idler(cfg_.idle);
  for (;;) {
    if (int e = failed_errno(); e != 0) return e;
    if (announcements_received_.load(std::memory_order_acquire) >=
        announcements_due_.load(std::memory_order_acquire))
      return 0;
    // Honest hosts only lag: the announcements sit in queue 0's CQ (maybe more than one
    // poll's budget of them, or another thread is taking them). Withheld ones never come.
    if (deadline.passed()) {
      announcements_missing_.fetch_add(1, std::memory_order_relaxed);
      failed_.store(true, std::memory_order_release);
      return -EPROTO;
    }
    int n = qu.poll(kPollBudget, *this);
    poll_others(qu.index());
    if (n > 0)
      idler.busy();
    else
      idler.idle();
  }
}

void Device::poll_others(uint16_t q) {
  for (uint16_t i = 0; i < n_queues(); ++i) {
    if (i == q) continue;
    Queue &o = *queues_[i];
    std::unique_lock<std::mutex> lk(o.mutex(), std::try_to_lock);
    if (!lk.owns_lock()) continue;  // its owner is polling it and will dispatch what it finds
    o.poll(kPollBudget, *this);
  }
}

int Device::poll(uint16_t q) {
  int n;
  {
    std::lock_guard<std::mutex> lk(queues_[q]->mutex());
    n = queues_[q]->poll(kPollBudget, *this);
  }
  poll_others(q);
  return n > 0 ? n : 0;
}

int Device::wait_irq(uint16_t q, uint32_t &vectors, int timeout_ms) {
  if (timeout_ms < 0 || q >= n_queues()) return -EINVAL;
  const Deadline deadline = Deadline::in_ms(static_cast<uint64_t>(timeout_ms));
  IdlePoller idler(cfg_.idle);
  for (;;) {
    const int n = poll(q);
    if (int e = failed_errno(); e != 0) return e;
    if (uint32_t v = irq_pending_.exchange(0, std::memory_order_acq_rel); v != 0) {
      vectors = v;
      return 0;
    }
    if (deadline.passed()) return region_.host_ready() ? -ETIMEDOUT : -ENOTCONN;
    if (n > 0)
      idler.busy();
    else
      idler.idle();
  }
}

DeviceStats Device::stats() {
  DeviceStats s;
  for (auto &q : queues_) {
    QueueStats &qs = q->stats();
    s.posted += qs.posted.load();
    s.received += qs.received.load();
    s.auth_failed += qs.auth_failed.load();
    s.replayed += qs.replayed.load();
    s.malformed += qs.malformed.load();
    s.bad_index += qs.bad_index.load();
    s.stale += qs.stale.load();
    s.ring_full += qs.ring_full.load();
    s.seq_gaps += qs.seq_gaps.load();
    s.handshake_answers_ignored = handshake_answers_ignored_;
    std::lock_guard<std::mutex> lk(q->mutex());
    const proto::RekeyStats &r = q->crypto().rekey_stats();
    s.rekey.tx_rekeys += r.tx_rekeys;
    s.rekey.rx_rekeys += r.rx_rekeys;
    s.rekey.old_keys_wiped += r.old_keys_wiped;
    s.rekey.epoch_rejects += r.epoch_rejects;
    s.rekey.epoch_trials_refused += r.epoch_trials_refused;
  }
  s.announcements_missing = announcements_missing_.load();
  std::lock_guard<std::mutex> lk(dma_.mutex());
  s.dma = dma_.stats();
  return s;
}

}  // namespace ferry::guest
