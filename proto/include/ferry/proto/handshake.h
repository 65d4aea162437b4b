// Session handshake, relayed by the (untrusted) data plane inside kHandshake descriptors.
//
//   guest  -> device  Hello:  params, device id, guest random, guest X25519 public key,
//                             HMAC-SHA256(PSK, hello fields)
//   device -> guest   Accept: session id, device random, device X25519 public key,
//                             HMAC-SHA256(PSK, hello || accept fields)
//                     Reject: reason (unauthenticated: a hint for the operator, nothing more)
//
// Keys: HKDF-SHA256(salt = guest random || device random, ikm = X25519 shared secret || PSK,
// info = "ferry v1 session" || SHA-256(hello || accept)) expands to a key and salt per stream;
// the same with info = "ferry v1 rekey  " || SHA-256(hello || accept) to each stream's rekey
// chain secret (session.h).
// Every handshake uses fresh randomness and fresh ephemeral keys, so no two sessions share
// keys and a restarted side can never reuse a nonce.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ferry/proto/descriptor.h"
#include "ferry/proto/session.h"

namespace ferry::proto {

inline constexpr size_t kPskSize = 32;
inline constexpr size_t kHandshakeFragment = 48;  // payload bytes per kHandshake descriptor

enum class HandshakeMsg : uint8_t { kHello = 1, kAccept = 2, kReject = 3 };

using Psk = std::array<uint8_t, kPskSize>;

// Guest side. One object per attempt.
class GuestHandshake {
 public:
  GuestHandshake(const Psk &psk, const SessionParams &params, uint32_t device_id);
  ~GuestHandshake();  // wipes the ephemeral private key
  // The Hello message (fresh randomness and ephemeral key were drawn by the constructor).
  const std::vector<uint8_t> &hello() const { return hello_; }
  // Checks the device's answer (Accept or Reject). Returns the session's secrets, or
  // nullopt with `error` saying why (wrong PSK, tampered message, rejected, malformed).
  std::optional<SessionSecrets> finish(std::span<const uint8_t> answer, std::string &error);

 private:
  Psk psk_;
  SessionParams params_;
  std::vector<uint8_t> hello_;
  std::array<uint8_t, 32> priv_{};
};

// Device side. `lookup` maps a device id to its PSK (nullopt: unknown device).
struct DeviceHandshakeResult {
  std::vector<uint8_t> answer;            // Accept or Reject, to send back either way
  std::optional<SessionSecrets> secrets;  // set on success
  uint32_t device_id = 0;
  std::string error;                      // why it was rejected
};
DeviceHandshakeResult device_handshake(
    std::span<const uint8_t> hello,
    const std::function<std::optional<Psk>(uint32_t device_id)> &lookup);

// Splits a handshake message into kHandshake descriptors for `channel` (queue 0).
std::vector<Descriptor> handshake_fragments(uint32_t channel, HandshakeMsg type,
                                            std::span<const uint8_t> msg);

// Collects kHandshake descriptors (in any order, duplicates tolerated) until a message is
// whole. Bounded: a message has at most 8 fragments.
class HandshakeAssembler {
 public:
  // Returns true when `d` completed a message; then type() and message() hold it.
  // Malformed fragments are ignored and counted.
  bool add(const Descriptor &d);
  HandshakeMsg type() const { return type_; }
  std::span<const uint8_t> message() const { return {buf_.data(), len_}; }
  uint64_t malformed() const { return malformed_; }
  void reset();

 private:
  HandshakeMsg type_{};
  std::array<uint8_t, 8 * kHandshakeFragment> buf_{};
  size_t len_ = 0;
  uint8_t count_ = 0;
  uint8_t have_mask_ = 0;
  uint64_t malformed_ = 0;
};

// Reads a PSK file (32 raw bytes or 64 hex characters). Throws std::runtime_error naming the
// file and what is wrong.
Psk read_psk_file(const std::string &path);

}  // namespace ferry::proto
