// The 64-byte descriptor: the unit of every shared-memory ring and of sealing for control
// traffic. Header (16 B) is cleartext and authenticated as AAD; body (32 B) is sealed at
// `confidential`, authenticated only at `integrity`; the 16-byte tag ends it.
//
// The kind: code that builds a descriptor sets hdr.kind to its real kind; SessionCrypto::seal()
// moves it into body.kind and puts Kind::kSealed in the header, and open() puts the body's kind
// back into hdr.kind once the body is authentic. So on the wire (and in the rings) the header
// says only kHandshake or kSealed: the relay routes by queue and channel and never learns
// whether a descriptor is a read, a write, a sync, a completion or an interrupt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ferry/proto/endian.h"
#include "ferry/proto/kinds.h"
#include "ferry/proto/status.h"

namespace ferry::proto {

inline constexpr size_t kDescriptorSize = 64;
inline constexpr size_t kTagSize = 16;

struct [[gnu::packed]] DescHeader {
  uint8_t version;  // kProtoVersion
  uint8_t kind;     // Kind: kHandshake or kSealed on the wire; the real kind once opened
  le16 queue;       // guest queue index inside the session
  le32 channel;     // guest channel id: routes the descriptor, bound by the AAD
  le64 seq;         // per (session, direction, queue), starts at 1, never repeats
};

// Meaning of each body field per kind (body.kind = the kind, in every sealed descriptor):
//   kMmioRead    bar, size, offset
//   kMmioWrite   bar, size, offset, value
//   kCompletion  status, size, value = read data, addr = request seq (only reads are answered),
//                offset = device kDmaSync announcements sent before it in the session
//   kDmaSync     guest->device: addr = first chunk's device address, len = bytes (whole
//                chunks), value = version of the first chunk (+1 per following chunk).
//                device->guest: addr = chunk device address, value = version,
//                offset = first dirty byte in the chunk, len = dirty bytes.
//   kInterrupt   value = vector bitmask, offset = as kCompletion's
//   kHandshake   not sealed: header.seq = fragment info, body+tag = 48 payload bytes
struct [[gnu::packed]] DescBody {
  uint8_t kind;  // the descriptor's Kind (kMmioRead .. kInterrupt), sealed with the rest
  uint8_t bar;
  uint8_t size;
  uint8_t status;  // Status
  le32 len;
  le64 offset;
  le64 value;
  le64 addr;
};

struct [[gnu::packed]] Descriptor {
  DescHeader hdr;
  DescBody body;
  uint8_t tag[kTagSize];
};

static_assert(sizeof(DescHeader) == 16);
static_assert(sizeof(DescBody) == 32);
static_assert(sizeof(Descriptor) == kDescriptorSize);
static_assert(offsetof(Descriptor, body) == 16);
static_assert(offsetof(Descriptor, tag) == 48);
static_assert(offsetof(DescHeader, seq) == 8);
static_assert(offsetof(DescBody, offset) == 8);

// Checks the cleartext header of a descriptor read from untrusted memory: version, and a kind
// that may appear on the wire (kHandshake or kSealed). Says nothing about authenticity:
// SessionCrypto::open() does that, and checks the sealed kind.
Status check_header(const Descriptor &d);

// Copies 64 bytes out of untrusted memory into private storage (volatile reads, so the
// compiler cannot re-read the shared copy after checking the private one).
void copy_from_untrusted(Descriptor &dst, const volatile void *src);

}  // namespace ferry::proto
