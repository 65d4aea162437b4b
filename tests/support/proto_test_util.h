// Small helpers the proto and guest tests share: hex and random bytes, fixed session secrets,
// the AEAD implementations this machine has.
#pragma once

#include <cstdint>
#include <random>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "ferry/proto/aead.h"
#include "ferry/proto/session.h"

namespace ferry::proto::test {

inline std::vector<uint8_t> hex(std::string_view s) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("bad hex");
  };
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<uint8_t>(nib(s[i]) << 4 | nib(s[i + 1])));
  return out;
}

inline std::vector<uint8_t> random_bytes(std::mt19937_64 &rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto &b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Secrets with distinct, recognisable keys and salts for every stream.
inline SessionSecrets test_secrets(const SessionParams &p, uint8_t seed = 1) {
  SessionSecrets s;
  s.params = p;
  s.session_id = 0x5e55 + seed;
  s.streams.resize(s.n_streams());
  for (size_t i = 0; i < s.streams.size(); ++i) {
    for (size_t j = 0; j < s.streams[i].key.size(); ++j)
      s.streams[i].key[j] = static_cast<uint8_t>(seed * 31 + i * 7 + j);
    s.streams[i].salt = 0xa0000000u + static_cast<uint32_t>(i) * 0x1010u + seed;
  }
  return s;
}

// Implementations available on this machine (ipsec-mb needs AES-NI).
inline std::vector<AeadImpl> available_impls() {
  std::vector<AeadImpl> v{AeadImpl::kOpenSsl};
  if (ipsecmb_usable()) v.insert(v.begin(), AeadImpl::kIpsecMb);
  return v;
}

}  // namespace ferry::proto::test
