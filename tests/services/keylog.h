// The key log a test guest writes (ferry-guest-workload, with the shim's secrets observer) and
// FrameCapture reads back (nonce_capture.cpp) to open what it captured: a line per session,
// "session ID CHANNEL QUEUES KEY_BYTES SECURITY", then a line per stream, "stream I SALT KEY
// CHAIN", keys in hex.
#pragma once

#include <cstdio>

#include "ferry/proto/session.h"

namespace ferry::testing {

inline void write_keylog(std::FILE *f, const proto::SessionSecrets &s) {
  std::fprintf(f, "session %u %u %u %u %u\n", s.session_id, s.params.channel, s.params.n_queues,
               s.params.key_bytes, static_cast<unsigned>(s.params.security));
  for (size_t i = 0; i < s.streams.size(); ++i) {
    std::fprintf(f, "stream %zu %u ", i, s.streams[i].salt);
    for (uint8_t b : s.streams[i].key) std::fprintf(f, "%02x", b);
    std::fputc(' ', f);
    for (uint8_t b : s.streams[i].chain) std::fprintf(f, "%02x", b);
    std::fputc('\n', f);
  }
  std::fflush(f);
}

}  // namespace ferry::testing
