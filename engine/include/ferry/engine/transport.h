// One interface for every way the engine moves frames to its peer (eRPC transport_impl style):
// a burst of frames out, a burst of frames in, the largest frame the path carries. Each
// transport lives in its own file (transport_kernel_udp.cpp, transport_kernel_tcp.cpp,
// transport_dpdk.cpp); nothing above this interface knows which one runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "ferry/engine/counters.h"
#include "ferry/engine/options.h"
#include "ferry/proto/idle.h"

namespace ferry::engine {

// Which end of the link this process is: the data plane connects, the device node listens
// (kernel-tcp); datagram transports behave the same either way.
enum class Role { kConnect, kListen };

// The most frames one pass moves: ferry's one burst (proto/idle.h).
using proto::kBurst;

// A frame handed to send(): bytes owned by the caller, untouched by the transport.
using FrameView = std::span<const uint8_t>;

class Transport : public proto::IdleWaiter {
 public:
  ~Transport() override = default;
  virtual std::string_view name() const = 0;
  // True when the path itself delivers in order and exactly once (kernel-tcp): the engine then
  // adds no sequence numbers, acks or retransmissions.
  virtual bool reliable() const = 0;
  // Largest frame (FrameHeader + records) that send() accepts.
  virtual size_t max_frame() const = 0;
  // Offers frames in order; returns how many were consumed (sent, or dropped and counted),
  // a prefix of `frames`. A stream transport consumes fewer when its buffer is full; the rest
  // stay with the caller. Never blocks, never throws.
  virtual int send(std::span<const FrameView> frames) = 0;
  // Receives up to out.size() frames; the views stay valid until the next recv() call.
  // Returns the count (0 when nothing is there). Never blocks, never throws.
  virtual int recv(std::span<FrameView> out) = 0;
  // Slow-path upkeep, called every housekeeping pass: ARP, (re)connecting.
  virtual void maintain(uint64_t now_ns) { (void)now_ns; }
  // Bumped whenever the path lost data it had accepted (a TCP connection replaced or lost):
  // the engine then drops its own per-link state.
  virtual uint64_t link_generation() const { return 0; }
  // Idle: waits up to `us` microseconds or until a frame may have arrived, whichever is
  // first. The default just sleeps; kernel transports wait on their socket.
  void idle_wait(uint32_t us) override;
  // True while frames can flow (a TCP connection exists; a peer MAC is known).
  virtual bool link_up() const { return true; }

  const TransportCounters &counters() const { return counters_; }

  // Test-only fault injection on the TX side: drop the next `next_n` frames, and/or every
  // `every_nth` frame, and/or each frame with probability `permille`/1000 (seeded, so a test
  // failure can be replayed). Dropped frames count as consumed and in test_drops.
  void set_test_drops(uint32_t next_n, uint32_t every_nth, uint32_t permille, uint64_t seed = 1);

 protected:
  // Implementations call this once per frame they are about to transmit.
  bool test_drop_this() {
    if (__builtin_expect(!drops_armed_, 1)) return false;
    return test_drop_slow();
  }
  TransportCounters counters_;

 private:
  bool test_drop_slow();
  bool drops_armed_ = false;
  uint32_t drop_next_ = 0, drop_every_ = 0, drop_permille_ = 0;
  uint64_t drop_count_ = 0, rng_ = 1;
};

// Builds the transport `opt` names (transport/transport_factory.cpp). kDpdk needs the EAL
// initialised first (see eal.h). Throws std::runtime_error with the reason on set-up failure.
std::unique_ptr<Transport> make_transport(const TransportOptions &opt, Role role);

}  // namespace ferry::engine
