// Test-side stand-ins for what surrounds a device node: a guest that speaks the protocol
// with the real proto code (GuestHandshake, SessionCrypto, ReplayWindow), and a host window
// that serves kDmaReadReq and stores kDmaWrite like the data plane would. Records travel
// through FakeLinks, so they take the same bytes and checks as on the engine.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fake_link.h"
#include "ferry/config/config.h"
#include "ferry/device/device_node.h"
#include "ferry/proto/handshake.h"
#include "ferry/proto/replay_window.h"
#include "ferry/proto/session.h"

namespace ferry::testing {

// A PSK file in a temporary directory, removed on destruction.
class TempPsk {
 public:
  explicit TempPsk(uint8_t fill);
  ~TempPsk();
  const std::string &path() const { return path_; }
  const proto::Psk &psk() const { return psk_; }

 private:
  std::string dir_, path_;
  proto::Psk psk_{};
};

// A device-node config with one device per entry of `devices` (id, model, params).
struct TestDevice {
  uint32_t id;
  std::string model;
  device::ModelParams params;
};
config::DeviceNodeConfig node_config(const std::vector<TestDevice> &devices, const TempPsk &psk);

// The host's DMA window: sealed chunks as the data plane stores them.
struct StoredChunk {
  uint64_t version = 0;
  uint8_t writer = 0;
  uint8_t tag[16]{};
  std::vector<uint8_t> bytes;
};

// Wires a DeviceNode to guests: `to_node` carries records from the host to the node,
// `from_node` is the node's peer sink. pump() runs both sides until nothing moves.
class TestBench {
 public:
  // from_node_capacity: records the node's sink takes before it refuses (backpressure).
  TestBench(device::DeviceNode &node, size_t from_node_capacity = 1 << 16)
      : to_node(1 << 20), from_node(from_node_capacity), node_(node) {}
  device::DeviceNode &node() { return node_; }
  // Delivers records both ways and polls the node until everything settled (bounded).
  void pump(int max_rounds = 10000);
  void advance(uint64_t ns) { now_ns += ns; }

  FakeLink to_node, from_node;
  uint64_t now_ns = 1'000'000'000;
  class TestGuest *guests[8]{};
  int n_guests = 0;
  bool serve_reads = true;      // false: kDmaReadReq are swallowed (timeouts)
  uint32_t serve_piece = 1000;  // bytes per kDmaData piece
  uint64_t reads_served = 0;
  uint64_t chunk_writes_stored = 0;

 private:
  void from_node_record(const proto::RecordView &r);
  device::DeviceNode &node_;
};

class TestGuest {
 public:
  struct Options {
    uint32_t channel = 1;
    uint32_t device_id = 1;
    uint32_t guest_id = 1;
    uint16_t n_queues = 1;
    proto::Security security = proto::Security::kConfidential;
    uint32_t chunk_size = 4096;
    uint64_t dma_base = 0x1000000;
    uint32_t n_chunks = 1024;
  };
  TestGuest(TestBench &bench, const proto::Psk &psk, const Options &o);

  // Runs the handshake (Hello, Accept, Confirm); true when the device accepted. error() says
  // why not.
  bool connect();
  // Hello and Accept only: the session stays pending on the node until confirm().
  bool connect_unconfirmed();
  void confirm();
  // The Hello fragments of the last handshake, as the host saw them (replay attacks).
  std::vector<proto::Descriptor> hello_fragments() const;
  const std::string &error() const { return error_; }
  bool connected() const { return crypto_ != nullptr; }
  // Sends the last Hello again, as a guest whose Accept got lost would.
  void resend_hello();
  // Every handshake answer (Accept or Reject) received, in order.
  std::vector<std::vector<uint8_t>> answers;

  // Seals and posts a request on queue q; returns its sequence number.
  uint64_t post_read(unsigned bar, uint64_t off, unsigned size, uint16_t q = 0);
  uint64_t post_write(unsigned bar, uint64_t off, unsigned size, uint64_t v, uint16_t q = 0);
  // Read and wait (pumps the bench). nullopt when no completion arrived or it failed.
  std::optional<uint64_t> read(unsigned bar, uint64_t off, unsigned size, uint16_t q = 0);
  void write(unsigned bar, uint64_t off, unsigned size, uint64_t v, uint16_t q = 0);
  // A completion opened for request `seq` on queue q (status and value), if any.
  const proto::Descriptor *completion(uint64_t seq, uint16_t q = 0) const;

  // DMA: guest-private memory of the whole window, addressed by device address.
  uint8_t *mem(uint64_t addr) { return &mem_[addr - o_.dma_base]; }
  // Seals the chunks covering [addr, addr + len) into the window and announces them.
  void sync_for_device(uint64_t addr, uint64_t len, uint16_t q = 0);
  // Opens the device-written chunks of the range; false (nothing copied) if one fails.
  bool sync_for_cpu(uint64_t addr, uint64_t len);

  // Interrupt vectors received, in order.
  const std::vector<uint64_t> &irqs() const { return irqs_; }
  uint64_t chunk_addr(uint64_t addr) const {
    return o_.dma_base + (addr - o_.dma_base) / o_.chunk_size * o_.chunk_size;
  }

  // The host window (tests tamper with it).
  std::map<uint64_t, StoredChunk> window;
  // Raw sealed records the guest received, for byte comparisons.
  std::vector<proto::Descriptor> received;
  // The records that authenticated, opened, in the order they arrived.
  std::vector<proto::Descriptor> opened;
  uint64_t auth_failures = 0, replays = 0;
  uint32_t channel() const { return o_.channel; }
  const Options &options() const { return o_; }
  proto::SessionCrypto &crypto() { return *crypto_; }
  // Emits a descriptor record to the node as the host relay would.
  void send_raw(const proto::Descriptor &d);
  uint64_t next_seq(uint16_t q) { return ++tx_seq_[q]; }

 private:
  friend class TestBench;
  uint64_t post_mmio(proto::Kind kind, unsigned bar, uint64_t off, unsigned size, uint64_t v,
                     uint16_t q);
  void on_descriptor(const proto::Descriptor &d);
  void on_dma_write(const proto::DmaPiece &p, std::span<const uint8_t> bytes);
  void serve_read(const proto::DmaReadReq &r);

  TestBench &bench_;
  proto::Psk psk_;
  Options o_;
  std::string error_;
  std::unique_ptr<proto::GuestHandshake> hs_;
  proto::HandshakeAssembler assembler_;
  std::optional<std::vector<uint8_t>> answer_;
  std::unique_ptr<proto::SessionCrypto> crypto_;
  std::vector<uint64_t> tx_seq_;
  std::vector<proto::ReplayWindow> rx_window_;
  std::map<std::pair<uint16_t, uint64_t>, proto::Descriptor> completions_;
  struct Announce {
    uint64_t version;
    uint64_t off, len;
  };
  std::map<uint64_t, Announce> announced_;  // device-written chunks
  std::vector<uint64_t> irqs_;
  std::vector<uint8_t> mem_;
  uint64_t dma_seq_ = 0;
};

// Bitwise CRC32C, independent of the device's implementation.
uint32_t reference_crc32c(const uint8_t *p, size_t n);

}  // namespace ferry::testing
