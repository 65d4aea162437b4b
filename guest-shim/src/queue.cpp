#include "queue.h"

#include <cerrno>

namespace ferry::guest {

using proto::Descriptor;

Queue::Queue(uint16_t index, uint32_t channel, proto::RingHeader *sq, proto::RingHeader *cq,
             uint32_t ring_slots)
    : index_(index),
      channel_(channel),
      ring_slots_(ring_slots),
      sq_(sq, ring_slots),
      cq_(cq, ring_slots) {}

Queue::~Queue() = default;

void Queue::start_session(proto::Aead &aead, const proto::SessionSecrets &secrets,
                          const proto::RekeyPolicy &rekey) {
  crypto_ = std::make_unique<proto::SessionCrypto>(aead, secrets);
  crypto_->set_rekey(rekey);
  next_seq_ = 1;
  next_rx_ = 1;
}

int Queue::seal(Descriptor &d, uint64_t &seq) {
  d.hdr.version = proto::kProtoVersion;
  d.hdr.queue.set(index_);
  d.hdr.channel.set(channel_);
  d.hdr.seq.set(next_seq_);  // the counter; seal() adds the key epoch
  if (crypto_->seal(proto::Dir::kGuestToDevice, d) != proto::Status::kOk) [[unlikely]] {
    proto::secure_wipe(&d, sizeof(d));  // half-made: nothing of it may leave
    return -EIO;
  }
  seq = next_seq_++;
  return 0;
}

int Queue::wait_room(const Deadline &deadline, IdlePoller &idler) {
  bool waited = false;
  for (;;) {
    int free = sq_.free_slots();
    if (free > 0) return 0;
    if (free < 0) {
      stats_.bad_index.fetch_add(1, std::memory_order_relaxed);
      return -EBADMSG;
    }
    if (!waited) {
      stats_.ring_full.fetch_add(1, std::memory_order_relaxed);
      waited = true;
    }
    if (deadline.passed()) return -ETIMEDOUT;
    idler.idle();
  }
}

int Queue::post(const Descriptor &d, const Deadline &deadline, IdlePoller &idler) {
  if (int r = wait_room(deadline, idler); r != 0) return r;
  // Only this thread produces, so the room found above is still there (the consumer can
  // only add to it); a host that moves its index meanwhile is caught by push().
  if (sq_.push(d) != 1) {
    stats_.bad_index.fetch_add(1, std::memory_order_relaxed);
    return -EBADMSG;
  }
  stats_.posted.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

int Queue::wait_taken(const Deadline &deadline, IdlePoller &idler) {
  for (;;) {
    const int free = sq_.free_slots();
    if (free < 0) {
      stats_.bad_index.fetch_add(1, std::memory_order_relaxed);
      return -EBADMSG;
    }
    if (static_cast<uint32_t>(free) == ring_slots_) return 0;
    if (deadline.passed()) return -ETIMEDOUT;
    idler.idle();
  }
}

int Queue::seal_and_post(Descriptor &d, const Deadline &deadline, IdlePoller &idler,
                         uint64_t &seq) {
  if (int r = wait_room(deadline, idler); r != 0) return r;
  if (int r = seal(d, seq); r != 0) return r;
  if (sq_.push(d) != 1) {
    stats_.bad_index.fetch_add(1, std::memory_order_relaxed);
    return -EBADMSG;
  }
  stats_.posted.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

int Queue::poll(int budget, CompletionHandler &h) {
  crypto_->expire_old_keys();  // the overlap's timer, whether or not anything arrives
  int taken = 0;
  Descriptor d;
  while (taken < budget) {
    // pop() copies the slot into private `d` before anything looks at it.
    int r = cq_.pop(d);
    if (r < 0) [[unlikely]] {
      stats_.bad_index.fetch_add(1, std::memory_order_relaxed);
      return taken > 0 ? taken : -EBADMSG;
    }
    if (r == 0) break;
    ++taken;
    if (proto::check_header(d) != proto::Status::kOk || d.hdr.queue.get() != index_ ||
        d.hdr.channel.get() != channel_ ||
        d.hdr.kind == static_cast<uint8_t>(proto::Kind::kHandshake)) [[unlikely]] {
      stats_.malformed.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const uint64_t seq = proto::seq_counter(d.hdr.seq.get());
    // Counters are taken strictly in order, so every one below next_rx_ has been seen: that is
    // the whole replay check (no window needed), done before the tag costs anything.
    if (seq < next_rx_) [[unlikely]] {
      stats_.replayed.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    // The kind is sealed: the header says only kSealed; open() puts the authentic kind back.
    const proto::Status opened = crypto_->open(proto::Dir::kDeviceToGuest, d);
    if (opened == proto::Status::kBadKind) [[unlikely]] {
      // Authentic, but of no kind: malformed. Its seq is not taken, so what follows is a gap.
      stats_.malformed.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (opened != proto::Status::kOk) [[unlikely]] {
      stats_.auth_failed.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (seq != next_rx_) [[unlikely]] {
      // Authentic and new, but not the next: the one before it was withheld. Never skipped.
      stats_.seq_gaps.fetch_add(1, std::memory_order_relaxed);
      h.on_sequence_gap(*this);
      continue;
    }
    ++next_rx_;
    stats_.received.fetch_add(1, std::memory_order_relaxed);
    h.on_descriptor(*this, d);
  }
  return taken;
}

}  // namespace ferry::guest
