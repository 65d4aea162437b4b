// Session handshake, relayed by the (untrusted) data plane inside kHandshake descriptors.
//
//   guest  -> device  Hello:   params, device id, guest id, DMA geometry, guest random,
//                              guest X25519 public key, HMAC-SHA256(guest's PSK, hello fields)
//   device -> guest   Accept:  session id, device random, device X25519 public key,
//                              HMAC-SHA256(guest's PSK, hello || accept fields)
//                     Reject:  reason (unauthenticated: a hint for the operator, nothing more)
//   guest  -> device  Confirm: session id, HMAC-SHA256(confirm key, hello || accept)
//
// The PSK is the guest's own (device id, guest id), never shared between guests, so one tenant
// cannot answer for the device to another (docs/protocol.md, Handshake).
// Key confirmation: the device node keeps an accepted session pending until the Confirm
// arrives; only the holder of the guest's ephemeral key can make it, so a replayed Hello
// (any authentic Hello recorded earlier) never displaces a live session.
//
// Keys: HKDF-SHA256(salt = guest random || device random, ikm = X25519 shared secret || PSK,
// info = "ferry v1 session" || SHA-256(hello || accept)) expands to a key and salt per stream;
// the same with info = "ferry v1 rekey  " || SHA-256(hello || accept) to each stream's rekey
// chain secret (session.h), and with info = "ferry v1 confirm" || SHA-256(hello || accept)
// to the confirm key.
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
#include "ferry/proto/frame.h"
#include "ferry/proto/session.h"

namespace ferry::proto {

inline constexpr size_t kPskSize = 32;
inline constexpr size_t kHandshakeFragment = 48;  // payload bytes per kHandshake descriptor

enum class HandshakeMsg : uint8_t { kHello = 1, kAccept = 2, kReject = 3, kConfirm = 4 };

using Psk = std::array<uint8_t, kPskSize>;

// The guest's DMA window (its region header, shm_layout.h), carried in the Hello so the device
// node serves each session with the geometry of that guest's window.
struct DmaGeometry {
  uint32_t chunk_size = 0;  // multiple of 64
  uint32_t n_chunks = 0;
  uint64_t dma_base = 0;  // device address of chunk 0
  bool operator==(const DmaGeometry &) const = default;
};
// What a device node accepts (device_handshake rejects a Hello beyond it as unsupported).
struct DmaLimits {
  uint32_t max_chunk_size = kMaxChunkSize;
  uint32_t max_chunks = 1u << 16;
};
// "" when g is a usable window within `limits`, else why not.
std::string check_dma_geometry(const DmaGeometry &g, const DmaLimits &limits);

// Guest side. One object per attempt.
class GuestHandshake {
 public:
  // Throws std::invalid_argument for parameters or a geometry no device node accepts.
  GuestHandshake(const Psk &psk, const SessionParams &params, uint32_t device_id, uint32_t guest_id,
                 const DmaGeometry &dma);
  ~GuestHandshake();  // wipes the ephemeral private key
  // The Hello message (fresh randomness and ephemeral key were drawn by the constructor).
  const std::vector<uint8_t> &hello() const { return hello_; }
  // Checks the device's answer (Accept or Reject). Returns the session's secrets, or
  // nullopt with `error` saying why (wrong PSK, tampered message, rejected, malformed); a
  // failed answer leaves the attempt usable, so the caller can wait for the genuine one.
  std::optional<SessionSecrets> finish(std::span<const uint8_t> answer, std::string &error);
  // After finish() succeeded: the Confirm to send the device (empty before).
  const std::vector<uint8_t> &confirm() const { return confirm_; }

 private:
  Psk psk_;
  SessionParams params_;
  std::vector<uint8_t> hello_;
  std::vector<uint8_t> confirm_;
  std::array<uint8_t, 32> priv_{};
};

// Device side. `lookup` maps (device id, guest id) to that guest's PSK (nullopt: unknown).
struct DeviceHandshakeResult {
  std::vector<uint8_t> answer;            // Accept or Reject, to send back either way
  std::optional<SessionSecrets> secrets;  // set on success
  std::vector<uint8_t> confirm;           // on success: the Confirm the guest must send
  uint32_t device_id = 0;
  uint32_t guest_id = 0;
  DmaGeometry dma;    // on success: the guest's window
  std::string error;  // why it was rejected
};
using PskLookup = std::function<std::optional<Psk>(uint32_t device_id, uint32_t guest_id)>;
DeviceHandshakeResult device_handshake(std::span<const uint8_t> hello, const PskLookup &lookup,
                                       const DmaLimits &limits = {});
// True when `confirm` is the Confirm `expected` (DeviceHandshakeResult::confirm); constant time.
bool confirm_matches(std::span<const uint8_t> expected, std::span<const uint8_t> confirm);

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
