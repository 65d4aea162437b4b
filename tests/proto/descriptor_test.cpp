// Descriptor header checks, the copy out of untrusted memory, and the kinds table.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "ferry/proto/descriptor.h"
#include "ferry/proto/frame.h"
#include "ferry/proto/status.h"

namespace ferry::proto {
namespace {

TEST(Descriptor, header_with_known_version_and_a_wire_kind_passes) {
  for (Kind k : {Kind::kSealed, Kind::kHandshake}) {
    Descriptor d{};
    d.hdr.version = kProtoVersion;
    d.hdr.kind = static_cast<uint8_t>(k);
    EXPECT_EQ(check_header(d), Status::kOk) << kind_name(k);
  }
}

// A sealed descriptor's real kind is in its body: a header that names one is not from a
// sender of this version, and is refused before any authentication.
TEST(Descriptor, header_with_unknown_version_or_a_cleartext_kind_is_refused) {
  Descriptor d{};
  d.hdr.version = kProtoVersion;
  for (uint8_t k = 0; k < static_cast<uint8_t>(Kind::kHandshake); ++k) {
    d.hdr.kind = k;
    EXPECT_EQ(check_header(d), Status::kBadKind) << int(k);
  }
  d.hdr.kind = static_cast<uint8_t>(Kind::kKindCount);
  EXPECT_EQ(check_header(d), Status::kBadKind);
  d.hdr.kind = 255;
  EXPECT_EQ(check_header(d), Status::kBadKind);
  d.hdr.kind = static_cast<uint8_t>(Kind::kSealed);
  d.hdr.version = 0;
  EXPECT_EQ(check_header(d), Status::kBadVersion);
}

TEST(Descriptor, copy_from_untrusted_copies_all_64_bytes_aligned_or_not) {
  alignas(64) uint8_t src[kDescriptorSize + 8];
  for (size_t i = 0; i < sizeof(src); ++i) src[i] = static_cast<uint8_t>(i * 3 + 1);
  for (size_t off : {0u, 1u, 3u, 8u}) {
    Descriptor d;
    copy_from_untrusted(d, src + off);
    EXPECT_EQ(0, std::memcmp(&d, src + off, kDescriptorSize)) << off;
  }
}

TEST(Descriptor, fields_are_little_endian_on_the_wire) {
  Descriptor d{};
  d.hdr.seq.set(0x0102030405060708ull);
  d.body.value.set(0x1122334455667788ull);
  const auto *b = reinterpret_cast<const uint8_t *>(&d);
  EXPECT_EQ(b[8], 0x08);
  EXPECT_EQ(b[15], 0x01);
  EXPECT_EQ(b[16 + 16], 0x88);
}

TEST(Kinds, every_record_type_has_a_named_layout) {
  std::set<std::string_view> names;
  for (uint8_t t = 1; t < static_cast<uint8_t>(RecordType::kTypeCount); ++t) {
    const RecordLayout &l = record_layout(static_cast<RecordType>(t));
    EXPECT_FALSE(l.name.empty());
    EXPECT_NE(l.name, "invalid");
    EXPECT_LE(l.min_payload, l.max_payload);
    EXPECT_LE(l.max_payload, kMaxFrameSize - sizeof(FrameHeader) - sizeof(RecordHeader));
    names.insert(l.name);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(RecordType::kTypeCount) - 1);
  EXPECT_EQ(record_layout(RecordType::kDescriptor).min_payload, kDescriptorSize);
  EXPECT_EQ(record_layout(RecordType::kDmaReadReq).max_payload, sizeof(DmaReadReq));
  EXPECT_EQ(record_layout(RecordType::kDmaData).min_payload, sizeof(DmaPiece));
  EXPECT_EQ(record_layout(static_cast<RecordType>(99)).name, "invalid");
}

TEST(Kinds, kinds_and_statuses_have_distinct_names) {
  std::set<std::string_view> kinds;
  for (uint8_t k = 0; k < static_cast<uint8_t>(Kind::kKindCount); ++k)
    kinds.insert(kind_name(static_cast<Kind>(k)));
  EXPECT_EQ(kinds.size(), static_cast<size_t>(Kind::kKindCount));
  EXPECT_EQ(kind_name(Kind::kMmioRead), "mmio-read");
  std::set<std::string_view> statuses;
  for (uint8_t s = 0; s <= static_cast<uint8_t>(Status::kInternal); ++s)
    statuses.insert(status_name(static_cast<Status>(s)));
  EXPECT_EQ(statuses.size(), static_cast<size_t>(Status::kInternal) + 1);
  EXPECT_EQ(status_name(static_cast<Status>(200)), "unknown status");
}

}  // namespace
}  // namespace ferry::proto
