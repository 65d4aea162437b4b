// One queue of a session: its submission ring (sealed requests out), its completion ring
// (answers in), its sequence counters (the next to send, the next due in) and its own crypto
// context. A queue is used by one thread at a time (its mutex); the rings' other side is the
// untrusted host.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "ferry/proto/aead.h"
#include "ferry/proto/descriptor.h"
#include "ferry/proto/idle.h"
#include "ferry/proto/session.h"
#include "ferry/proto/shm_ring.h"

namespace ferry::guest {

using proto::Deadline;
using proto::IdlePoller;

struct QueueStats {
  std::atomic<uint64_t> posted{0};       // sealed descriptors put into the SQ
  std::atomic<uint64_t> ring_full{0};    // posts that found the ring full and waited
  std::atomic<uint64_t> received{0};     // authentic descriptors taken from the CQ
  std::atomic<uint64_t> auth_failed{0};  // CQ slots that did not authenticate (dropped)
  std::atomic<uint64_t> replayed{0};     // a counter already taken (dropped before the tag)
  std::atomic<uint64_t> malformed{0};    // bad header, wrong queue or channel (dropped)
  std::atomic<uint64_t> bad_index{0};    // polls that found an impossible ring index
  std::atomic<uint64_t> stale{0};        // authentic completions nobody waits for any more
  std::atomic<uint64_t> seq_gaps{0};     // authentic descriptors past a missing one (dropped)
};

// Receives each descriptor of a CQ that authenticated and was the next in its stream.
class CompletionHandler {
 public:
  virtual void on_descriptor(class Queue &q, const proto::Descriptor &d) = 0;
  // An authentic descriptor came with a later sequence number than the next one due: the host
  // withheld one (the relay fills each CQ in the device's order, so an honest host never
  // does). The descriptor is not delivered.
  virtual void on_sequence_gap(class Queue &q) = 0;

 protected:
  ~CompletionHandler() = default;
};

class Queue {
 public:
  Queue(uint16_t index, uint32_t channel, proto::RingHeader *sq, proto::RingHeader *cq,
        uint32_t ring_slots);
  ~Queue();

  uint16_t index() const { return index_; }
  std::mutex &mutex() { return mu_; }

  // Expands this queue's copy of the session keys (its own Aead: one per thread of use).
  void start_session(proto::Aead &aead, const proto::SessionSecrets &secrets,
                     const proto::RekeyPolicy &rekey = {});
  proto::SessionCrypto &crypto() { return *crypto_; }

  // Fills the header of d (version, queue, channel, next sequence number) and seals it.
  // 0 with `seq` set, or -EIO when it could not be sealed (a rekey step failed): then d must
  // not be sent, and the sequence number stays unused.
  int seal(proto::Descriptor &d, uint64_t &seq);
  // Puts d into the SQ, waiting for room until `deadline`. 0, -ETIMEDOUT, or -EBADMSG when
  // the host made the consumer index impossible.
  int post(const proto::Descriptor &d, const Deadline &deadline, IdlePoller &idler);
  // Waits until the host has taken everything posted on the SQ (its consumer index caught up),
  // so that whatever this or another queue posts next reaches the device after it. 0,
  // -ETIMEDOUT, or -EBADMSG when the host made the consumer index impossible.
  int wait_taken(const Deadline &deadline, IdlePoller &idler);
  // Waits for room, then seals d (seal()) and posts it, so a request that cannot be posted
  // never uses up a sequence number (a gap would stall the device's in-order queue).
  // 0 with `seq` set, or -errno as post() and seal().
  int seal_and_post(proto::Descriptor &d, const Deadline &deadline, IdlePoller &idler,
                    uint64_t &seq);

  // Takes up to `budget` slots from the CQ; each is copied out, checked, authenticated and
  // replay-checked; the good ones go to `h` when they are the next of the device's stream
  // (consecutive counters), and one past a missing number to h.on_sequence_gap(). Returns slots
  // taken, or -EBADMSG when the producer index is impossible.
  int poll(int budget, CompletionHandler &h);
  // Raw ring access for the (unsealed) handshake: 1, 0 or -EBADMSG as RingConsumer::pop.
  int pop_raw(proto::Descriptor &out) { return cq_.pop(out); }

  QueueStats &stats() { return stats_; }

  // Completion matching for the one read a queue has in flight (guarded by mutex()).
  struct Awaited {
    uint64_t seq = 0;  // 0: none
    bool done = false;
    proto::Descriptor completion{};
  } awaited;

  // Scratch for DMA syncs issued on this queue (guarded by mutex()).
  std::vector<uint8_t> staging;

 private:
  int wait_room(const Deadline &deadline, IdlePoller &idler);

  uint16_t index_;
  uint32_t channel_;
  uint32_t ring_slots_;
  proto::RingProducer sq_;
  proto::RingConsumer cq_;
  std::unique_ptr<proto::SessionCrypto> crypto_;
  uint64_t next_seq_ = 1;
  uint64_t next_rx_ = 1;  // the device -> guest counter due next on this CQ
  std::mutex mu_;
  QueueStats stats_;
};

}  // namespace ferry::guest
