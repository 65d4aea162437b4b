// Every message kind of the protocol, tied to its layout in one table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ferry::proto {

inline constexpr uint8_t kProtoVersion = 2;  // 2: the kind of a sealed descriptor is sealed

// Descriptor kinds. On the wire the header's `kind` is only kHandshake or kSealed; the kind of
// a sealed descriptor travels in its body (DescBody::kind), so at `confidential` the host
// cannot tell a read from a write, a sync or a completion (see descriptor.h).
enum class Kind : uint8_t {
  kInvalid = 0,
  kMmioRead = 1,    // guest -> device, sealed; answered by kCompletion
  kMmioWrite = 2,   // guest -> device, sealed, posted (no completion)
  kCompletion = 3,  // device -> guest, sealed; answers a request by its sequence number
  kDmaSync = 4,     // sealed chunk-version announcement, both directions (see dma_chunk.h)
  kInterrupt = 5,   // device -> guest, sealed; value = vector bitmask
  kHandshake = 6,   // both ways, a fragment of a handshake message (authenticated by HMAC)
  kSealed = 7,      // header kind of every sealed descriptor: the real kind is in the body
  kKindCount = 8,
};

// Record types: the unit inside a transport frame (see frame.h). Descriptors travel as
// kDescriptor records; DMA data never enters the rings and travels as its own records.
enum class RecordType : uint8_t {
  kInvalid = 0,
  kDescriptor = 1,  // payload: one 64-byte Descriptor
  kDmaReadReq = 2,  // device node -> data plane, cleartext: which window chunk to send
  kDmaData = 3,     // data plane -> device node: a piece of a sealed chunk from the window
  kDmaWrite = 4,    // device node -> data plane: a piece of a sealed chunk to store
  kTypeCount = 5,
};

struct RecordLayout {
  std::string_view name;
  size_t min_payload;  // fixed part
  size_t max_payload;  // fixed part + largest variable part
};

// Filled in record.h where the payload structs are known.
const RecordLayout &record_layout(RecordType t);
std::string_view kind_name(Kind k);
// A kind that a sealed body may carry: kMmioRead .. kInterrupt.
constexpr bool is_sealed_kind(uint8_t k) {
  return k >= static_cast<uint8_t>(Kind::kMmioRead) && k <= static_cast<uint8_t>(Kind::kInterrupt);
}

}  // namespace ferry::proto
