#include "fake_link.h"

#include <cstddef>
#include <cstring>

namespace ferry::testing {

bool FakeLink::emit(proto::RecordType type, uint32_t channel, std::span<const uint8_t> head,
                    std::span<const uint8_t> tail) {
  if (q_.size() >= capacity_) {
    ++refused_;
    return false;
  }
  ++emitted_;
  if (drop_ > 0) {
    --drop_;
    return true;  // taken, then lost on the "wire"
  }
  if (drop_of_kind_ > 0 && type == proto::RecordType::kDescriptor &&
      head.size() >= sizeof(proto::DescHeader) &&
      head[offsetof(proto::DescHeader, kind)] == static_cast<uint8_t>(drop_kind_)) {
    --drop_of_kind_;
    return true;
  }
  std::vector<uint8_t> rec(sizeof(proto::RecordHeader) + head.size() + tail.size());
  proto::RecordHeader h{};
  h.type = static_cast<uint8_t>(type);
  h.len.set(static_cast<uint16_t>(head.size() + tail.size()));
  h.channel.set(channel);
  std::memcpy(rec.data(), &h, sizeof(h));
  if (!head.empty()) std::memcpy(rec.data() + sizeof(h), head.data(), head.size());
  if (!tail.empty()) std::memcpy(rec.data() + sizeof(h) + head.size(), tail.data(), tail.size());
  if (dup_ > 0) {
    --dup_;
    q_.push_back(rec);
  }
  q_.push_back(std::move(rec));
  return true;
}

size_t FakeLink::drain(const std::function<bool(const proto::RecordView &)> &deliver,
                       size_t budget) {
  size_t n = 0;
  while (n < budget && !q_.empty()) {
    const std::vector<uint8_t> &rec = q_.front();
    proto::RecordHeader h;
    std::memcpy(&h, rec.data(), sizeof(h));
    proto::RecordView v{static_cast<proto::RecordType>(h.type), h.flags, h.channel.get(),
                        std::span<const uint8_t>(rec).subspan(sizeof(h))};
    if (v.payload.size() != h.len.get() ||
        proto::check_record(v.type, v.payload) != proto::Status::kOk) {
      ++malformed_;
      q_.pop_front();
      continue;
    }
    if (!deliver(v)) break;
    q_.pop_front();
    ++n;
  }
  return n;
}

}  // namespace ferry::testing
