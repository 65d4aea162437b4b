#include "frame_packer.h"

#include <cstring>

namespace ferry::engine {

bool FramePacker::open_slot() {
  uint8_t *buf = tx_.open();
  if (__builtin_expect(buf == nullptr, 0)) return false;
  writer_ = proto::FrameWriter(std::span<uint8_t>(buf, tx_.frame_cap()));
  writer_.reset();
  open_ = true;
  return true;
}

void FramePacker::close() {
  if (!open_) return;
  open_ = false;
  if (writer_.n_records() == 0) return;  // nothing was packed: the slot stays free
  size_t len = writer_.finish(0, stream_id_, tx_.next_seq(), 0);
  tx_.close(len);
}

bool FramePacker::emit(proto::RecordType type, uint32_t channel, std::span<const uint8_t> head,
                       std::span<const uint8_t> tail) {
  const size_t len = head.size() + tail.size();
  if (!open_ && !open_slot()) {
    c_.window_full.add();
    return false;
  }
  uint8_t *p = writer_.append(type, channel, len);
  if (p == nullptr) {
    if (writer_.n_records() == 0) {  // larger than an empty frame: can never be sent
      c_.oversize_records.add();
      return true;
    }
    close();
    if (!open_slot()) {
      c_.window_full.add();
      return false;
    }
    p = writer_.append(type, channel, len);
    if (p == nullptr) {
      c_.oversize_records.add();
      return true;
    }
  }
  if (!head.empty()) std::memcpy(p, head.data(), head.size());
  if (!tail.empty()) std::memcpy(p + head.size(), tail.data(), tail.size());
  c_.records_tx.add();
  if (type == proto::RecordType::kDescriptor) c_.descriptors_tx.add();
  auto &e = ch_.lookup(channel);
  e.records_tx.add();
  e.bytes_tx.add(len);
  return true;
}

}  // namespace ferry::engine
