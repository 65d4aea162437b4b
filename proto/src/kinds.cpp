// The one table that ties every record type to its payload sizes, and the names of kinds
// and statuses (for logs and errors, never the data path).
#include "ferry/proto/kinds.h"

#include <array>

#include "ferry/proto/descriptor.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/status.h"

namespace ferry::proto {
namespace {

// The largest record payload a frame of kMaxFrameSize can hold.
constexpr size_t kMaxRecordPayload = kMaxFrameSize - sizeof(FrameHeader) - sizeof(RecordHeader);

constexpr std::array<RecordLayout, static_cast<size_t>(RecordType::kTypeCount)> kLayouts{{
    {"invalid", 0, 0},
    {"descriptor", kDescriptorSize, kDescriptorSize},
    {"dma-read-req", sizeof(DmaReadReq), sizeof(DmaReadReq)},
    {"dma-data", sizeof(DmaPiece), kMaxRecordPayload},
    {"dma-write", sizeof(DmaPiece), kMaxRecordPayload},
}};
static_assert(kMaxRecordPayload <= UINT16_MAX, "record len is 16 bits");

}  // namespace

const RecordLayout &record_layout(RecordType t) {
  auto i = static_cast<size_t>(t);
  return i < kLayouts.size() ? kLayouts[i] : kLayouts[0];
}

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::kInvalid:
      return "invalid";
    case Kind::kMmioRead:
      return "mmio-read";
    case Kind::kMmioWrite:
      return "mmio-write";
    case Kind::kCompletion:
      return "completion";
    case Kind::kDmaSync:
      return "dma-sync";
    case Kind::kInterrupt:
      return "interrupt";
    case Kind::kHandshake:
      return "handshake";
    case Kind::kSealed:
      return "sealed";
    case Kind::kKindCount:
      break;
  }
  return "unknown";
}

std::string_view status_name(Status s) {
  switch (s) {
    case Status::kOk:
      return "ok";
    case Status::kBadVersion:
      return "bad version";
    case Status::kBadKind:
      return "bad kind";
    case Status::kTruncated:
      return "truncated";
    case Status::kBadLength:
      return "bad length";
    case Status::kAuthFailed:
      return "authentication failed";
    case Status::kReplayed:
      return "replayed";
    case Status::kBadAccess:
      return "bad access";
    case Status::kDmaFailed:
      return "DMA failed";
    case Status::kNoSession:
      return "no session";
    case Status::kBusy:
      return "busy";
    case Status::kBadMagic:
      return "bad magic";
    case Status::kOutOfRange:
      return "out of range";
    case Status::kInternal:
      return "internal error";
    case Status::kSeqGap:
      return "sequence gap: session failed";
  }
  return "unknown status";
}

}  // namespace ferry::proto
