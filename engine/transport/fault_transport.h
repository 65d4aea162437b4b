// Fault injection as a Transport decorator (this kernel has no netem): wrapped around the real
// transport when a service's YAML has a `faults` section (FaultOptions). On the way out
// (tx) and in (rx), each frame is independently, with its own probability:
//   drop       never delivered
//   corrupt    delivered with `corrupt_bytes` random bytes changed (a copy: the engine's
//              retransmission buffer is never touched)
//   reorder    held back until 1 .. reorder_distance later frames went past it (or, when no
//              frame follows, for at most kReorderMaxUs)
//   delay      held back 1 .. delay_us microseconds
//   duplicate  delivered twice
// Decisions come from a seeded generator per direction, so a run can be replayed. Held
// frames live in preallocated slots (kSlots per direction); a frame that finds them full
// passes unharmed and is counted in `*_no_slot`. Nothing here locks or allocates after the
// constructor. Datagram transports only (the configuration refuses kernel-tcp).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ferry/engine/counters.h"
#include "ferry/engine/options.h"
#include "ferry/engine/transport.h"

namespace ferry::engine {

// What was injected, per direction. X(name, meaning).
#define FERRY_FAULT_COUNTERS(X)                                              \
  X(frames, "frames that went through the decorator")                        \
  X(drop, "frames dropped")                                                  \
  X(duplicate, "frames delivered twice")                                     \
  X(reorder, "frames held back behind later ones")                           \
  X(corrupt, "frames delivered with bytes changed")                          \
  X(delay, "frames held back for a while")                                   \
  X(no_slot, "frames that should have been held but found every slot taken") \
  X(lost, "held frames the inner transport did not take")

struct FaultCounters {
#define FERRY_X(name, what) Counter name;
  FERRY_FAULT_COUNTERS(FERRY_X)
#undef FERRY_X
  template <typename F>
  void for_each(F &&f) const {
#define FERRY_X(name, what) f(#name, name.get());
    FERRY_FAULT_COUNTERS(FERRY_X)
#undef FERRY_X
  }
};

class FaultTransport final : public Transport {
 public:
  static constexpr int kSlots = 64;  // held frames per direction
  static constexpr uint32_t kReorderMaxUs = 250;

  FaultTransport(std::unique_ptr<Transport> inner, const FaultOptions &cfg, uint64_t seed);
  ~FaultTransport() override;

  std::string_view name() const override { return inner_->name(); }
  bool reliable() const override { return inner_->reliable(); }
  size_t max_frame() const override { return inner_->max_frame(); }
  int send(std::span<const FrameView> frames) override;
  int recv(std::span<FrameView> out) override;
  void maintain(uint64_t now_ns) override;
  uint64_t link_generation() const override { return inner_->link_generation(); }
  void idle_wait(uint32_t us) override;
  bool link_up() const override { return inner_->link_up(); }

  const FaultCounters &tx_faults() const { return tx_.c; }
  const FaultCounters &rx_faults() const { return rx_.c; }
  uint64_t seed() const { return seed_; }
  Transport &inner() { return *inner_; }

 private:
  struct Held {
    uint32_t len = 0;           // 0: free
    uint32_t after_frames = 0;  // reorder: released once this many frames went past
    uint64_t release_ns = 0;    // released at this time at the latest
    bool handed_out = false;    // rx: given to the engine, freed at the next recv()
  };
  struct Direction {
    FaultDirection cfg;
    uint64_t rng = 0;
    FaultCounters c;
    std::vector<uint8_t> storage;  // kSlots held frames + kBurst scratch (corrupted copies)
    Held held[kSlots];
    int n_held = 0;
    int scratch_used = 0;
    uint64_t next_release_ns = UINT64_MAX;
  };

  static uint64_t next(Direction &d);
  static bool roll(Direction &d, uint32_t ppm);
  uint8_t *slot_buf(Direction &d, int i) { return d.storage.data() + size_t(i) * cap_; }
  uint8_t *scratch_buf(Direction &d, int i) { return slot_buf(d, kSlots + i); }
  // Applies the faults to one frame: appends what goes on now to out (up to cap), or holds it.
  void apply(Direction &d, FrameView f, uint64_t now, FrameView *out, int &n, int cap);
  // Moves held frames that are due (by count after `passed` frames, or by time) to out.
  void release(Direction &d, uint64_t now, int passed, FrameView *out, int &n, int cap);
  int hold(Direction &d, FrameView f);
  // Frees the slots whose frames were handed out (tx: sent; rx: the engine is done with them).
  static void free_handed_out(Direction &d);
  // Sends the held tx frames whose time has come.
  void release_tx_due(uint64_t now);
  void send_all(FrameView *views, int n);
  void sync_counters();

  std::unique_ptr<Transport> inner_;
  uint64_t seed_;
  size_t cap_;
  Direction tx_, rx_;
  FrameView rx_in_[kBurst];
};

// Wraps `t` in a FaultTransport when `faults` asks for any; returns `t` unchanged otherwise.
// `lane` varies the seed so that lanes do not make the same decisions. The faults and their
// counters are published under /ferry/faults (fault_telemetry.cpp).
std::unique_ptr<Transport> with_faults(std::unique_ptr<Transport> t, const FaultOptions &faults,
                                       unsigned lane = 0);

// Telemetry registry (fault_telemetry.cpp): every live FaultTransport, summed by /ferry/faults.
void fault_telemetry_add(const FaultTransport *t);
void fault_telemetry_remove(const FaultTransport *t);

}  // namespace ferry::engine
