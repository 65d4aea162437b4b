// libFuzzer target: a received transport frame. FrameReader must refuse anything malformed
// without reading past the input, and every record it yields must pass check_record.
// Input: the frame bytes. The first byte also picks a record type for a direct check_record
// of the rest, so record payloads are fuzzed without a valid frame around them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "ferry/proto/frame.h"

using namespace ferry::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Exact-size heap copy: ASan reports any read past the end.
  std::vector<uint8_t> frame(data, data + size);
  FrameReader r;
  Status st = r.parse(frame);
  RecordView v;
  size_t n = 0;
  while (r.next(v)) {
    if (st != Status::kOk) std::abort();  // a refused frame yields no records
    if (check_record(v.type, v.payload) != Status::kOk) std::abort();
    if (v.payload.data() < frame.data() ||
        v.payload.data() + v.payload.size() > frame.data() + frame.size())
      std::abort();
    ++n;
  }
  if (st == Status::kOk && n != r.header().n_records.get()) std::abort();

  if (size >= 1) {
    std::vector<uint8_t> payload(data + 1, data + size);
    auto type =
        static_cast<RecordType>(data[0] % (static_cast<uint8_t>(RecordType::kTypeCount) + 1));
    Status rs = check_record(type, payload);
    const RecordLayout &l = record_layout(type);
    if (rs == Status::kOk && (payload.size() < l.min_payload || payload.size() > l.max_payload))
      std::abort();
  }
  return 0;
}
