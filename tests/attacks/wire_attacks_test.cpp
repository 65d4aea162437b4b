// The attacker on the wire, for real: both services run in their own namespaces over kernel
// UDP, the test process is the guest. From the CVM host's namespace the test captures the
// frames of a workload (AF_PACKET), then replays them verbatim, re-wraps their sealed
// descriptors in fresh frames with new transport sequence numbers, flips bits, truncates,
// reorders and forges. Nothing may execute twice or be forged: the device node's execution
// counters do not move, the edu liveness register keeps the last value the guest wrote, the
// guest never gets a value the device did not send, and every attack shows in a counter.
// Which counter catches which attack is part of each test's name.
//
// A frame injected under a fresh transport sequence number takes that number from the genuine
// sender (the transport's sequence numbers are not authenticated: they only order frames), so
// the genuine frame with it is dropped as a duplicate: the guest's next call may fail with an
// error (never a forged value) before traffic resumes. recover() checks exactly that.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "api_internal.h"
#include "ferry/proto/descriptor.h"
#include "ferry/proto/frame.h"
#include "require.h"
#include "service_lab.h"
#include "wire.h"

namespace ferry::testing {
namespace {

using proto::Descriptor;
using proto::FrameHeader;
using proto::Kind;

constexpr uint64_t kLiveness = 0x04;
constexpr int kWrites = 6;

// A captured data frame of one direction.
struct Captured {
  Packet packet;
  std::vector<uint8_t> frame;  // UDP payload: the frame and its FCS
  FrameHeader hdr;
};

// One direction of the captured traffic.
struct Stream {
  std::vector<Captured> frames;   // data frames (not ack-only), in capture order
  std::vector<Descriptor> descs;  // their descriptor records, in order
  uint32_t stream_id = 0;
  uint64_t next_seq = 1;  // the receiver expects this transport sequence number next
  uint64_t ack = 0;
};

class WireAttack : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = std::make_unique<ServiceLab>();
    FERRY_REQUIRE(!lab_->skip(), lab_->error());
    ASSERT_TRUE(lab_->ok()) << lab_->error();
    dev_ = lab_->open_guest();
    ASSERT_NE(dev_, nullptr) << lab_->error() << lab_->logs();
    const VethLab &n = lab_->net();
    Capture cap(n.ns_a, n.if_a);
    ASSERT_TRUE(cap.ok()) << "AF_PACKET socket in " << n.ns_a;
    to_dn_inj_ = std::make_unique<Injector>(n.ns_a, n.if_a);
    to_dp_inj_ = std::make_unique<Injector>(n.ns_b, n.if_b);
    ASSERT_TRUE(to_dn_inj_->ok() && to_dp_inj_->ok());
    // The workload: liveness writes (posted, non-idempotent in effect: the register keeps the
    // last one) and reads.
    cap.start();
    for (int i = 0; i < kWrites; ++i) {
      last_ = 0x7a110000u + static_cast<uint32_t>(i);
      ferry_iowrite32(dev_, 0, kLiveness, last_);
      ASSERT_EQ(ferry_ioread32(dev_, 0, kLiveness), ~last_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the last acks
    const std::vector<Packet> got = cap.stop();
    for (const Packet &p : got) {
      add(p, VethLab::kIpA, VethLab::kIpB, to_dn_);
      add(p, VethLab::kIpB, VethLab::kIpA, to_dp_);
    }
    ASSERT_GE(to_dn_.descs.size(), static_cast<size_t>(2 * kWrites)) << "capture missed frames";
    ASSERT_GE(to_dp_.descs.size(), static_cast<size_t>(kWrites));
    // What the host sees of each descriptor's kind: nothing. Writes, reads and completions
    // all carry the same header kind; the real one is sealed in the body.
    for (const Stream *st : {&to_dn_, &to_dp_})
      for (const Descriptor &d : st->descs)
        ASSERT_EQ(d.hdr.kind, static_cast<uint8_t>(Kind::kSealed));
    ASSERT_TRUE(lab_->wait_counter("dn", "/ferry/app", "mmio_writes", kWrites));
    ASSERT_TRUE(lab_->wait_counter("dn", "/ferry/app", "mmio_reads", kWrites));
    before_ = snapshot();
    guest_before_ = dev_->impl->stats();
  }

  void add(const Packet &p, const char *src, const char *dst, Stream &s) {
    auto wire = udp_payload(p, src, dst, ServiceLab::kPort);
    auto payload = proto::frame_check_fcs(wire);
    if (payload.empty()) return;
    proto::FrameReader r;
    if (r.parse(payload) != proto::Status::kOk) return;
    s.ack = std::max<uint64_t>(s.ack, r.header().ack.get());
    if (r.header().flags & proto::kFrameAckOnly) return;
    Captured c{p, {wire.begin(), wire.end()}, r.header()};
    s.stream_id = c.hdr.stream_id.get();
    s.next_seq = std::max<uint64_t>(s.next_seq, c.hdr.seq.get() + 1);
    proto::RecordView rec;
    while (r.next(rec)) {
      if (rec.type != proto::RecordType::kDescriptor) continue;
      Descriptor d;
      std::memcpy(&d, rec.payload.data(), sizeof(d));
      // The workload's descriptors only: the handshake's last message (the Confirm) may still
      // be in flight when the capture starts; its fragments are HMAC'd, not sealed, and are
      // attacked by the handshake tests.
      if (static_cast<Kind>(d.hdr.kind) == Kind::kHandshake) continue;
      s.descs.push_back(d);
    }
    s.frames.push_back(std::move(c));
  }

  // Packs descriptors into frames under the stream's id and its next sequence numbers.
  std::vector<std::vector<uint8_t>> fresh_frames(Stream &s, const std::vector<Descriptor> &ds) {
    std::vector<std::vector<uint8_t>> out;
    std::vector<uint8_t> buf(1400);
    proto::FrameWriter w{std::span<uint8_t>(buf)};
    w.reset();
    auto finish = [&] {
      const size_t n = w.finish(0, s.stream_id, s.next_seq++, s.ack);
      out.push_back(with_fcs({buf.begin(), buf.begin() + static_cast<ptrdiff_t>(n)}));
      w.reset();
    };
    for (const Descriptor &d : ds) {
      uint8_t *p = w.append(proto::RecordType::kDescriptor, d.hdr.channel.get(), sizeof(d));
      if (p == nullptr) {
        finish();
        p = w.append(proto::RecordType::kDescriptor, d.hdr.channel.get(), sizeof(d));
      }
      std::memcpy(p, &d, sizeof(d));
    }
    if (w.n_records() > 0) finish();
    return out;
  }

  // The frame (without FCS) with a valid FCS appended: the FCS is a CRC, an attacker who
  // changes a frame recomputes it.
  static std::vector<uint8_t> with_fcs(std::vector<uint8_t> f) {
    const size_t n = f.size();
    const uint32_t records = proto::frame_records_crc(f);
    f.resize(n + proto::kFrameFcsSize);
    proto::frame_put_fcs(f.data(), n, records);
    return f;
  }
  static std::vector<uint8_t> without_fcs(const std::vector<uint8_t> &wire) {
    return {wire.begin(), wire.end() - proto::kFrameFcsSize};
  }

  // Sends UDP payloads as if from the data plane (to the device node) or the reverse.
  void inject(const Stream &s, const std::vector<std::vector<uint8_t>> &payloads) {
    Injector &inj = &s == &to_dn_ ? *to_dn_inj_ : *to_dp_inj_;
    for (const auto &p : payloads)
      ASSERT_TRUE(inj.send(with_udp_payload(s.frames.front().packet, p)));
  }

  using Snapshot = std::map<std::string, long long>;
  Snapshot snapshot() {
    Snapshot s;
    for (const char *k : {"mmio_reads", "mmio_writes", "descriptors", "auth_failures",
                          "replays_dropped", "duplicates_answered_from_cache", "malformed",
                          "no_session", "backlog_dropped", "late_dropped"})
      s[std::string("dn.") + k] = lab_->counter("dn", "/ferry/app", k);
    for (const char *k : {"duplicates", "malformed", "bad_fcs", "out_of_window", "frames_rx"}) {
      s[std::string("dn.engine.") + k] = lab_->counter("dn", "/ferry/stats", k);
      s[std::string("dp.engine.") + k] = lab_->counter("dp", "/ferry/stats", k);
    }
    return s;
  }
  // Waits for a counter to reach before + delta; returns the growth actually seen.
  long long grew(const std::string &who_key, const std::string &cmd, long long delta) {
    const std::string who = who_key.substr(0, 2);
    std::string key = who_key.substr(3);
    if (key.rfind("engine.", 0) == 0) key = key.substr(7);
    lab_->wait_counter(who, cmd, key, before_[who_key] + delta);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // anything beyond it
    return lab_->counter(who, cmd, key) - before_[who_key];
  }
  long long delta(const Snapshot &after, const std::string &k) { return after.at(k) - before_[k]; }
  // Every counter that moved since the capture, for a failure message.
  std::string deltas() {
    std::string out = "counters that moved:";
    for (const auto &[k, v] : snapshot())
      if (v != before_[k]) out += " " + k + "+" + std::to_string(v - before_[k]);
    return out;
  }

  // Nothing executed: the device node ran no MMIO access since the capture.
  void expect_nothing_executed() {
    const Snapshot after = snapshot();
    EXPECT_EQ(delta(after, "dn.mmio_writes"), 0) << "a replayed or forged write executed";
    EXPECT_EQ(delta(after, "dn.mmio_reads"), 0) << "a replayed or forged read executed";
    EXPECT_EQ(delta(after, "dn.descriptors"), 0) << "a descriptor was accepted";
  }

  // The guest's calls fail with an error or return the truth until traffic resumes; then the
  // liveness register still holds the last value the guest wrote. An attack that consumed
  // the transport sequence numbers of genuine frames makes the engine drop those as
  // duplicates: the device node then sees a sequence gap and fails the session closed
  // (-EPROTO), a denial of service the host can always mount. The guest then opens a new
  // session, which must work.
  void recover() {
    uint32_t v = 0;
    int err = -1;
    for (int i = 0; i < 8 && err != 0 && err != -EPROTO; ++i) {
      v = ferry_ioread32(dev_, 0, kLiveness);
      err = ferry_last_error(dev_);
      if (err != 0) {
        EXPECT_EQ(v, 0xffffffffu) << "a failed read returned a value";
      }
    }
    guest_after_ = dev_->impl->stats();
    if (err == -EPROTO) {
      dev_ = lab_->open_guest();
      ASSERT_NE(dev_, nullptr) << "no new session after the failed one: " << lab_->error();
      last_ = 0x5e550000u;
      ferry_iowrite32(dev_, 0, kLiveness, last_);
      v = ferry_ioread32(dev_, 0, kLiveness);
      err = ferry_last_error(dev_);
    }
    ASSERT_EQ(err, 0) << "traffic did not resume after the attack\n" << lab_->logs();
    EXPECT_EQ(v, ~last_) << "the device state changed: a replayed write executed";
  }

  // The wire does not say a descriptor's kind (it is sealed: every header says kSealed), but
  // the test knows its workload: on queue 0, counter 1 is the first write, then read, write...
  static size_t count_kind(const std::vector<Descriptor> &ds, Kind k) {
    return static_cast<size_t>(std::count_if(ds.begin(), ds.end(), [&](const Descriptor &d) {
      const bool write = proto::seq_counter(d.hdr.seq.get()) % 2 == 1;
      return (write ? Kind::kMmioWrite : Kind::kMmioRead) == k;
    }));
  }

  std::unique_ptr<ServiceLab> lab_;
  ferry_dev *dev_ = nullptr;
  std::unique_ptr<Injector> to_dn_inj_, to_dp_inj_;
  Stream to_dn_, to_dp_;
  uint32_t last_ = 0;
  Snapshot before_;
  guest::DeviceStats guest_before_;
  guest::DeviceStats guest_after_;  // the attacked session's, when recover() ran
};

TEST_F(WireAttack, verbatim_replayed_frames_are_dropped_by_the_engine_as_duplicates) {
  std::vector<std::vector<uint8_t>> frames;
  for (const Captured &c : to_dn_.frames) frames.push_back(c.frame);
  inject(to_dn_, frames);
  EXPECT_EQ(grew("dn.engine.duplicates", "/ferry/stats", static_cast<long long>(frames.size())),
            static_cast<long long>(frames.size()));
  expect_nothing_executed();
  // No sequence number was taken: the very next call works.
  EXPECT_EQ(ferry_ioread32(dev_, 0, kLiveness), ~last_);
  EXPECT_EQ(ferry_last_error(dev_), 0);
}

TEST_F(WireAttack,
       rewrapped_descriptors_are_caught_as_replays_dropped_or_answered_from_cache_never_run) {
  const auto &ds = to_dn_.descs;
  inject(to_dn_, fresh_frames(to_dn_, ds));
  const long long writes = static_cast<long long>(count_kind(ds, Kind::kMmioWrite));
  const long long reads = static_cast<long long>(count_kind(ds, Kind::kMmioRead));
  // A replayed write is dropped; a replayed read gets the cached completion again (sealed
  // under its old sequence number), which the guest then drops as a replay.
  EXPECT_EQ(grew("dn.replays_dropped", "/ferry/app", writes), writes);
  EXPECT_EQ(grew("dn.duplicates_answered_from_cache", "/ferry/app", reads), reads);
  expect_nothing_executed();
  recover();
  EXPECT_GE(guest_after_.replayed - guest_before_.replayed, static_cast<uint64_t>(reads))
      << "the cached completions reached the guest and must be dropped there as replays";
}

TEST_F(WireAttack,
       reordered_frames_and_descriptors_are_caught_as_engine_duplicates_and_replays_dropped) {
  std::vector<std::vector<uint8_t>> frames;
  for (const Captured &c : to_dn_.frames) frames.push_back(c.frame);
  std::reverse(frames.begin(), frames.end());
  inject(to_dn_, frames);
  std::vector<Descriptor> ds = to_dn_.descs;
  std::mt19937 rng(3);
  std::shuffle(ds.begin(), ds.end(), rng);
  inject(to_dn_, fresh_frames(to_dn_, ds));
  EXPECT_EQ(grew("dn.engine.duplicates", "/ferry/stats", static_cast<long long>(frames.size())),
            static_cast<long long>(frames.size()));
  const long long writes = static_cast<long long>(count_kind(ds, Kind::kMmioWrite));
  EXPECT_EQ(grew("dn.replays_dropped", "/ferry/app", writes), writes);
  expect_nothing_executed();
  recover();
}

// A bit of `seq` whose flip gives a smaller, non-zero counter: the descriptor then looks
// like one already seen, so the node authenticates it (and fails it) instead of refusing it
// unopened as too far ahead of its backlog, as a number above the queue's backlog would be.
uint64_t earlier_seq_bit(uint64_t seq) {
  const uint64_t counter = proto::seq_counter(seq);
  const uint64_t low = counter & (~counter + 1);
  return counter != low ? low : (low > 1 ? 1 : 2);  // a power of two: go one (or two) up
}

TEST_F(WireAttack, bit_flipped_descriptors_are_caught_as_auth_failures) {
  std::mt19937 rng(7);
  std::vector<Descriptor> flipped;
  for (int i = 0; i < 48; ++i) {
    Descriptor d = to_dn_.descs[static_cast<size_t>(i) % to_dn_.descs.size()];
    // Body and tag, or one bit of the sequence number (authenticated header); other header
    // bytes route the descriptor (see the forged-header test).
    if (i % 6 == 0) {
      d.hdr.seq.set(d.hdr.seq.get() ^ earlier_seq_bit(d.hdr.seq.get()));
    } else {
      reinterpret_cast<uint8_t *>(&d)[16 + rng() % 48] ^= static_cast<uint8_t>(1u << rng() % 8);
    }
    flipped.push_back(d);
  }
  inject(to_dn_, fresh_frames(to_dn_, flipped));
  EXPECT_EQ(grew("dn.auth_failures", "/ferry/app", 48), 48) << deltas();
  expect_nothing_executed();
  recover();
}

TEST_F(WireAttack, bit_flipped_frame_headers_are_caught_as_engine_malformed) {
  // Magic, version, record count and payload length: the frame is refused before its
  // sequence number or stream id is looked at.
  const size_t positions[] = {0, 3, 4, 6, 8, 9};
  std::vector<std::vector<uint8_t>> frames;
  for (size_t i = 0; i < std::size(positions); ++i) {
    std::vector<uint8_t> f = without_fcs(to_dn_.frames[i % to_dn_.frames.size()].frame);
    f[positions[i]] ^= 0x01;
    frames.push_back(with_fcs(std::move(f)));
  }
  inject(to_dn_, frames);
  EXPECT_EQ(grew("dn.engine.malformed", "/ferry/stats", 6), 6);
  expect_nothing_executed();
  EXPECT_EQ(ferry_ioread32(dev_, 0, kLiveness), ~last_);
  EXPECT_EQ(ferry_last_error(dev_), 0);
}

TEST_F(WireAttack, truncated_frames_are_caught_as_engine_malformed) {
  std::mt19937 rng(5);
  std::vector<std::vector<uint8_t>> frames;
  for (const Captured &c : to_dn_.frames) {
    std::vector<uint8_t> f = without_fcs(c.frame);
    f.resize(sizeof(FrameHeader) + rng() % (f.size() - sizeof(FrameHeader)));
    frames.push_back(with_fcs(std::move(f)));
  }
  inject(to_dn_, frames);
  EXPECT_EQ(grew("dn.engine.malformed", "/ferry/stats", static_cast<long long>(frames.size())),
            static_cast<long long>(frames.size()));
  EXPECT_EQ(lab_->counter("dn", "/ferry/stats", "bad_fcs"), before_["dn.engine.bad_fcs"])
      << "the FCS was recomputed: the frame itself must be refused";
  expect_nothing_executed();
  EXPECT_EQ(ferry_ioread32(dev_, 0, kLiveness), ~last_);
  EXPECT_EQ(ferry_last_error(dev_), 0);
}

// The engine counts a frame whose FCS does not match as bad_fcs (and as malformed).
TEST_F(WireAttack, frames_changed_without_fixing_their_fcs_are_caught_as_engine_bad_fcs) {
  std::mt19937 rng(9);
  std::vector<std::vector<uint8_t>> frames;
  for (const Captured &c : to_dn_.frames) {
    std::vector<uint8_t> f = c.frame;
    if (rng() % 2)
      f[rng() % f.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    else
      f.resize(1 + rng() % (f.size() - 1));
    frames.push_back(std::move(f));
  }
  inject(to_dn_, frames);
  const auto n = static_cast<long long>(frames.size());
  EXPECT_EQ(grew("dn.engine.bad_fcs", "/ferry/stats", n), n);
  EXPECT_EQ(lab_->counter("dn", "/ferry/stats", "malformed") - before_["dn.engine.malformed"], n);
  expect_nothing_executed();
  EXPECT_EQ(ferry_ioread32(dev_, 0, kLiveness), ~last_);
  EXPECT_EQ(ferry_last_error(dev_), 0);
}

TEST_F(WireAttack, forged_descriptors_are_caught_as_auth_failures_and_forged_frames_as_malformed) {
  std::mt19937_64 rng(11);
  const Descriptor &genuine = to_dn_.descs.back();
  std::vector<Descriptor> forged;
  for (int i = 0; i < 32; ++i) {
    Descriptor d;
    for (size_t b = 0; b < sizeof(d); ++b) reinterpret_cast<uint8_t *>(&d)[b] = rng() & 0xff;
    d.hdr = genuine.hdr;  // a plausible header: right channel and queue, a fresh seq
    d.hdr.seq.set(genuine.hdr.seq.get() + 1 + static_cast<uint64_t>(i));
    d.body.offset.set(kLiveness);
    d.body.value.set(0x0bad0bad);
    forged.push_back(d);
  }
  inject(to_dn_, fresh_frames(to_dn_, forged));
  EXPECT_EQ(grew("dn.auth_failures", "/ferry/app", 32), 32);
  // Frames of random bytes behind a valid magic.
  std::vector<std::vector<uint8_t>> junk;
  for (int i = 0; i < 8; ++i) {
    std::vector<uint8_t> f(64 + rng() % 600);
    for (auto &b : f) b = rng() & 0xff;
    const uint32_t magic = proto::kFrameMagic;
    std::memcpy(f.data(), &magic, 4);
    junk.push_back(with_fcs(std::move(f)));
  }
  inject(to_dn_, junk);
  EXPECT_EQ(grew("dn.engine.malformed", "/ferry/stats", 8), 8);
  expect_nothing_executed();
  recover();
}

// The other direction: what the device node sent, replayed or forged toward the data plane,
// ends up in the guest's completion ring; the shim drops it.
TEST_F(WireAttack,
       completions_replayed_toward_the_guest_are_caught_as_replayed_and_forged_as_auth_failed) {
  std::vector<std::vector<uint8_t>> frames;
  for (const Captured &c : to_dp_.frames) frames.push_back(c.frame);
  inject(to_dp_, frames);
  EXPECT_EQ(grew("dp.engine.duplicates", "/ferry/stats", static_cast<long long>(frames.size())),
            static_cast<long long>(frames.size()));
  // Genuine completions again, tampered copies of them (old sequence numbers), and forgeries
  // under fresh sequence numbers.
  const std::vector<Descriptor> &genuine = to_dp_.descs;
  std::vector<Descriptor> tampered = genuine, forged = genuine;
  std::mt19937 rng(13);
  for (Descriptor &d : tampered) reinterpret_cast<uint8_t *>(&d)[16 + rng() % 48] ^= 0x10;
  for (size_t i = 0; i < forged.size(); ++i)
    forged[i].hdr.seq.set(genuine.back().hdr.seq.get() + 100 + i);
  std::vector<Descriptor> all = genuine;
  all.insert(all.end(), tampered.begin(), tampered.end());
  all.insert(all.end(), forged.begin(), forged.end());
  inject(to_dp_, fresh_frames(to_dp_, all));
  recover();  // the shim polls its completion ring during these calls
  // The injected frames took the stream positions the device node's next frames use, so the
  // data plane drops those as duplicates: the next genuine completion is deleted, the guest
  // sees the one after it as a gap and fails the session (recover() then reopens). The counts
  // are the attacked session's.
  const guest::DeviceStats &g = guest_after_;
  EXPECT_LE(g.seq_gaps - guest_before_.seq_gaps, 1u);
  // The shim checks the replay window before the tag: an old sequence number is dropped as a
  // replay whether or not the bytes were changed.
  EXPECT_EQ(g.replayed - guest_before_.replayed, genuine.size() + tampered.size());
  EXPECT_EQ(g.auth_failed - guest_before_.auth_failed, forged.size());
}

// One forged datagram of a new frame stream (the FCS recomputed), as a data frame that would
// start it at seq 1 and as an ack-only frame. Before: the device node dropped its window for
// the new stream (and, with the old reset flag, every session of the lane), then waited for a
// seq 1 the data plane never sends - the link was wedged for good. Now the new stream is only
// challenged; the genuine stream and the session go on, and the guest's very next call works.
TEST_F(WireAttack, a_forged_frame_of_a_new_stream_costs_no_session_and_no_call) {
  const long long sessions = lab_->counter("dn", "/ferry/app", "sessions");
  ASSERT_EQ(sessions, 1);
  const long long foreign = lab_->counter("dn", "/ferry/stats", "foreign_frames");
  Stream forged = to_dn_;
  forged.stream_id = to_dn_.stream_id ^ 0x00f0f0f0u;
  forged.next_seq = 1;
  std::vector<std::vector<uint8_t>> frames = fresh_frames(forged, {to_dn_.descs.back()});
  std::vector<uint8_t> buf(sizeof(FrameHeader));
  proto::FrameWriter w{std::span<uint8_t>(buf)};
  w.reset();
  ASSERT_EQ(w.finish(proto::kFrameAckOnly, forged.stream_id, 0, 0), sizeof(FrameHeader));
  frames.push_back(with_fcs(buf));
  inject(to_dn_, frames);
  ASSERT_TRUE(lab_->wait_counter("dn", "/ferry/stats", "foreign_frames", foreign + 2))
      << lab_->logs();
  EXPECT_EQ(ferry_ioread32(dev_, 0, kLiveness), ~last_);
  EXPECT_EQ(ferry_last_error(dev_), 0) << "the link was reset or wedged";
  EXPECT_EQ(lab_->counter("dn", "/ferry/app", "sessions"), sessions);
  EXPECT_EQ(lab_->counter("dn", "/ferry/stats", "peer_restarts"), 0);
  const Snapshot after = snapshot();
  EXPECT_EQ(delta(after, "dn.mmio_writes"), 0) << "the forged frame's descriptor executed";
  EXPECT_EQ(delta(after, "dn.mmio_reads"), 1);  // the guest's own read
}

}  // namespace
}  // namespace ferry::testing
