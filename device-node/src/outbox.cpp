// The per-session backpressure queue; see outbox.h.
#include "outbox.h"

#include <algorithm>
#include <cstring>

namespace ferry::device {

namespace {
struct EntryHeader {
  uint8_t type;
  uint8_t pad;
  uint16_t len;
  uint32_t channel;
};
static_assert(sizeof(EntryHeader) == Outbox::kEntryHeader);
}  // namespace

Outbox::Outbox(size_t capacity, size_t max_payload) : ring_(capacity), scratch_(max_payload) {}

void Outbox::put(const uint8_t *p, size_t n) {
  size_t at = (head_ + used_) % ring_.size();
  size_t first = std::min(n, ring_.size() - at);
  std::memcpy(ring_.data() + at, p, first);
  std::memcpy(ring_.data(), p + first, n - first);
  used_ += n;
}

void Outbox::get(size_t at, uint8_t *p, size_t n) const {
  at %= ring_.size();
  size_t first = std::min(n, ring_.size() - at);
  std::memcpy(p, ring_.data() + at, first);
  std::memcpy(p + first, ring_.data(), n - first);
}

bool Outbox::send(proto::RecordSink &peer, proto::RecordType type, uint32_t channel,
                  std::span<const uint8_t> head, std::span<const uint8_t> tail,
                  uint64_t &deferred) {
  const size_t len = head.size() + tail.size();
  if (len > scratch_.size()) return false;
  if (used_ == 0 && peer.emit(type, channel, head, tail)) return true;
  if (!has_room(len)) return false;
  EntryHeader h{static_cast<uint8_t>(type), 0, static_cast<uint16_t>(len), channel};
  put(reinterpret_cast<const uint8_t *>(&h), sizeof(h));
  if (!head.empty()) put(head.data(), head.size());
  if (!tail.empty()) put(tail.data(), tail.size());
  ++deferred;
  return true;
}

size_t Outbox::flush(proto::RecordSink &peer) {
  size_t n = 0;
  while (used_ > 0) {
    EntryHeader h;
    get(head_, reinterpret_cast<uint8_t *>(&h), sizeof(h));
    get(head_ + sizeof(h), scratch_.data(), h.len);
    if (!peer.emit(static_cast<proto::RecordType>(h.type), h.channel,
                   std::span<const uint8_t>(scratch_.data(), h.len))) {
      break;
    }
    const size_t total = sizeof(h) + h.len;
    head_ = (head_ + total) % ring_.size();
    used_ -= total;
    ++n;
  }
  if (used_ == 0) head_ = 0;
  return n;
}

}  // namespace ferry::device
