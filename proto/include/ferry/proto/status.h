// Status codes carried in sealed completions and returned by decoders.
#pragma once

#include <cstdint>
#include <string_view>

namespace ferry::proto {

enum class Status : uint8_t {
  kOk = 0,
  kBadVersion = 1,
  kBadKind = 2,
  kTruncated = 3,   // buffer shorter than the layout says
  kBadLength = 4,   // a length field disagrees with the buffer or the layout
  kAuthFailed = 5,  // tag did not verify
  kReplayed = 6,    // sequence already seen or too old
  kBadAccess = 7,   // device refused the access (size, range)
  kDmaFailed = 8,   // a DMA chunk was missing, stale or did not verify
  kNoSession = 9,
  kBusy = 10,
  kBadMagic = 11,
  kOutOfRange = 12,
  kInternal = 13,
  kSeqGap = 14,  // a guest->device sequence number never arrived: the session failed
};

std::string_view status_name(Status s);

}  // namespace ferry::proto
