// The guest shim's device: one session with one device node, over one shared region. The C
// API (api.cpp) is a thin layer over this class; tests, the fuzz target and the benchmark
// use it directly through the same code paths.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <vector>

#include "dma.h"
#include "ferry/config/config.h"
#include "ferry/proto/handshake.h"
#include "ferry/proto/session.h"
#include "queue.h"
#include "region.h"

namespace ferry::guest {

struct DeviceStats {
  uint64_t posted = 0, received = 0, auth_failed = 0, replayed = 0, malformed = 0, bad_index = 0,
           stale = 0, ring_full = 0;
  uint64_t seq_gaps = 0;                   // authentic descriptors past a withheld one
  uint64_t announcements_missing = 0;      // sync_for_cpu calls failed on a missing kDmaSync
  uint64_t handshake_answers_ignored = 0;  // forged Rejects or Accepts that did not verify
  proto::RekeyStats rekey;                 // summed over the queues
  DmaStats dma;
};

class Device final : CompletionHandler {
 public:
  // Maps and validates cfg.region_path, reads the PSK and runs the handshake. Throws
  // std::runtime_error saying what went wrong.
  static std::unique_ptr<Device> open(const config::GuestConfig &cfg);
  // Test seam: called with each session's secrets when a handshake finished (the restart
  // tests record them to tell which key sealed each captured descriptor). Internal only:
  // libferry-guest.so exports the C API, not this.
  using SecretsObserver = void (*)(const proto::SessionSecrets &);
  static void set_secrets_observer(SecretsObserver f);
  // Test seam (fuzzing, benchmarks of one side): maps the region and starts a session from
  // given secrets, without a handshake.
  static std::unique_ptr<Device> attach(const config::GuestConfig &cfg,
                                        const proto::SessionSecrets &secrets);
  ~Device();

  uint16_t n_queues() const { return static_cast<uint16_t>(queues_.size()); }
  uint16_t default_queue() const { return cfg_.queue; }
  const config::GuestConfig &config() const { return cfg_; }
  Region &region() { return region_; }
  // The session's id (from the device's Accept; fresh per handshake).
  uint32_t session_id() const { return session_id_; }

  // Data path: each returns 0 or -errno and never throws. `q` < n_queues().
  int read(uint16_t q, unsigned bar, uint64_t off, unsigned size, uint64_t &value);
  int write(uint16_t q, unsigned bar, uint64_t off, unsigned size, uint64_t value);
  void *dma_alloc(size_t len, uint64_t &dma_addr, int &err);
  int dma_free(void *cpu, size_t len);
  int sync_for_device(uint16_t q, uint64_t dma_addr, size_t len);
  int sync_for_cpu(uint16_t q, uint64_t dma_addr, size_t len);
  int wait_irq(uint16_t q, uint32_t &vectors, int timeout_ms);
  // Takes what every CQ holds now (from queue q, then the others that are free). Returns the
  // slots taken.
  int poll(uint16_t q);

  // Takes each queue's lock in turn (the rekey counters belong to the queues' sessions).
  DeviceStats stats();

  // Phases of a read, exposed for the benchmark: seal a request, post it, wait for and open
  // its completion. seal_read returns the sequence number, or 0 when sealing failed.
  uint64_t seal_read(uint16_t q, unsigned bar, uint64_t off, unsigned size, proto::Descriptor &d);
  int post(uint16_t q, const proto::Descriptor &d);
  int wait_completion(uint16_t q, uint64_t seq, uint64_t &value);

 private:
  explicit Device(const config::GuestConfig &cfg);
  void handshake(const proto::Psk &psk);
  void start(const proto::SessionSecrets &secrets);
  void on_descriptor(Queue &q, const proto::Descriptor &d) override;
  void on_sequence_gap(Queue &q) override;
  // Waits (polling every queue, up to mmio_timeout_ms) until every device kDmaSync that an
  // authentic completion or interrupt said was sent before it has arrived. 0, or -EPROTO
  // (the session fails: the host withheld an announcement). Runs with q's mutex held.
  int wait_announcements(Queue &q);
  // The *_locked steps run with the queue's mutex held.
  static void fill_read(proto::Descriptor &d, unsigned bar, uint64_t off, unsigned size);
  int post_locked(Queue &qu, const proto::Descriptor &d, const Deadline &deadline);
  int wait_locked(Queue &qu, uint64_t seq, const Deadline &deadline, uint64_t &value);
  // Why a wait that ran out of time failed.
  int timeout_reason(const Queue &q, uint64_t heartbeat_at_start, uint64_t started_ns,
                     uint64_t suspicious_at_start);
  uint64_t suspicious(Queue &q);
  void poll_others(uint16_t q);

  config::GuestConfig cfg_;
  Region region_;
  uint32_t channel_;
  std::vector<std::unique_ptr<proto::Aead>> aeads_;  // one per queue: Aead is per thread
  std::vector<std::unique_ptr<Queue>> queues_;
  DmaWindow dma_;
  std::atomic<uint32_t> irq_pending_{0};
  // The device node reported a guest->device sequence gap it never saw filled (a sealed
  // kSeqGap completion): the session failed closed and every later call fails with -EPROTO.
  std::atomic<bool> failed_{false};
  int failed_errno() const { return failed_.load(std::memory_order_acquire) ? -EPROTO : 0; }
  // Device kDmaSync announcements received (authentic, in order), and the most any authentic
  // completion or interrupt says the device sent before it (its high-water mark, body.offset).
  std::atomic<uint64_t> announcements_received_{0};
  std::atomic<uint64_t> announcements_due_{0};
  std::atomic<uint64_t> announcements_missing_{0};
  uint32_t session_id_ = 0;
  uint64_t handshake_answers_ignored_ = 0;
};

}  // namespace ferry::guest
