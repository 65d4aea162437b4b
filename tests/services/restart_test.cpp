// kill -9 of either service in the middle of a workload (both services and the guest driver
// for real, frames captured on the veth): the guest's pending call fails within its timeout
// with all-ones and an error, never hangs and never returns wrong data; the guest opens a new
// session (new id, fresh keys) and goes on with every result correct; and across all the
// restarts no AEAD (key, nonce) pair seals two different descriptors (nonce_capture.h).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "ferry/proto/frame.h"
#include "ferry/proto/session.h"

#include "keylog.h"
#include "nonce_capture.h"
#include "services_lab.h"

namespace ferry::testing {
namespace {

class Restart : public ServicesLab {
 protected:
  // Kills `victim` twice mid-workload (restarting it each time) while frames are captured,
  // then checks the calls that failed, the sessions and the nonces.
  // Over kernel-tcp the frames are not captured (a byte stream): the nonce check is
  // kernel-udp's.
  void kill_twice_and_check(bool device_node, const std::string &transport = "kernel-udp") {
    // Rekeying on: the capture then spans several key epochs per session as well.
    GuestYaml guest;
    guest.rekey_after_messages = 200;
    guest.mmio_timeout_ms = 500;
    up(guest, transport);
    if (HasFatalFailure() || IsSkipped()) return;
    const bool capture = transport == "kernel-udp";
    FrameCapture cap(lab_->ns_a, lab_->if_a, 7000);
    ASSERT_TRUE(cap.ok()) << cap.error();
    start_workload(1'000'000'000, 0, /*keylog=*/capture);
    uint64_t target = 300;
    ASSERT_TRUE(wait_progress(target, 1, 20000)) << workload_log();
    for (int round = 1; round <= 2; ++round) {
      const size_t fails_before = count_lines("fail ");
      if (device_node) {
        kill9(dn_);
      } else {
        kill9(dp_);
      }
      if (HasFatalFailure()) return;
      // The call in flight (or the next one) fails on its own, before anything restarts.
      for (int w = 0; w < 5000 && count_lines("fail ") == fails_before; w += 10)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ASSERT_GT(count_lines("fail "), fails_before) << "no call failed\n" << workload_log();
      if (device_node) {
        start_dn();
      } else {
        start_dp();
      }
      if (HasFatalFailure()) return;
      target = progress() + 300;
      ASSERT_TRUE(wait_progress(target, static_cast<size_t>(round) + 1, 30000))
          << workload_log() << "\n--- dp\n"
          << dp_.log_tail() << "\n--- dn\n"
          << dn_.log_tail();
    }
    const auto summary = stop_workload();
    cap.stop();

    // Pending calls failed, bounded by the timeout, with all-ones and an error.
    const std::string log = workload_log();
    std::printf(
        "[ restart  ] %llu calls failed, the longest in %llu ms (timeout %u ms); %llu "
        "pairs and %llu DMA round trips correct over %llu sessions\n",
        static_cast<unsigned long long>(summary.at("failures")),
        static_cast<unsigned long long>(summary.at("max_fail_ms")), mmio_timeout_ms_,
        static_cast<unsigned long long>(summary.at("ok")),
        static_cast<unsigned long long>(summary.at("dma_ok")),
        static_cast<unsigned long long>(summary.at("sessions")));
    EXPECT_GE(summary.at("failures"), 2u) << log;
    EXPECT_LE(summary.at("max_fail_ms"), mmio_timeout_ms_ + 500u) << log;
    EXPECT_EQ(summary.at("not_all_ones"), 0u) << log;
    std::regex fail_re("\\nfail (\\w+) (\\d+) ");
    for (std::sregex_iterator it(log.begin(), log.end(), fail_re), end; it != end; ++it) {
      const int err = std::stoi((*it)[2]);
      EXPECT_TRUE(err == ETIMEDOUT || err == ENOTCONN) << "errno " << err << "\n" << log;
      std::printf("[ restart  ] failed %s: %s\n", std::string((*it)[1]).c_str(),
                  std::strerror(err));
    }
    // Never wrong data; a new session after each restart, each with its own id.
    EXPECT_EQ(summary.at("wrong"), 0u) << log;
    EXPECT_GE(summary.at("ok"), 900u) << log;
    const std::vector<std::string> ids = sessions();
    EXPECT_EQ(ids.size(), summary.at("sessions"));
    EXPECT_GE(ids.size(), 3u) << log;
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << log;
    EXPECT_GT(summary.at("tx_rekeys"), 0u) << log;
    EXPECT_GT(summary.at("dma_ok"), 20u) << log;
    if (!capture) return;

    // Every sealed descriptor on the wire opens under exactly one recorded (session, stream,
    // epoch) key, and no such key sealed two different descriptors under one nonce.
    const NonceReport r = check_nonces(cap.frames(), keylog_, /*outgoing_is_g2d=*/true);
    std::printf(
        "[ nonces   ] %llu frames, %llu sealed descriptors, %llu distinct (key, nonce), "
        "%llu sessions, max epoch %llu\n",
        static_cast<unsigned long long>(r.frames), static_cast<unsigned long long>(r.sealed),
        static_cast<unsigned long long>(r.distinct_nonces),
        static_cast<unsigned long long>(r.sessions_seen),
        static_cast<unsigned long long>(r.max_epoch));
    EXPECT_EQ(r.reused, 0u) << r.detail;
    EXPECT_EQ(r.unattributed, 0u) << r.detail;
    EXPECT_GE(r.sessions_seen, 3u);
    EXPECT_GT(r.max_epoch, 0u);
    // Both directions of 900+ pairs: at least that many distinct nonces were checked.
    EXPECT_GE(r.distinct_nonces, 2 * summary.at("ok"));
    // DMA chunks: both writers, each version of a DMA stream sealed one chunk only.
    std::printf("[ nonces   ] %llu sealed chunks, %llu distinct (key, version)\n",
                static_cast<unsigned long long>(r.chunks),
                static_cast<unsigned long long>(r.distinct_chunk_nonces));
    EXPECT_EQ(r.chunks_unattributed, 0u) << r.detail;
    EXPECT_GE(r.distinct_chunk_nonces, 2 * summary.at("dma_ok")) << r.detail;
  }
};

// The check itself, on frames made here: it finds a nonce used twice by one key, and a
// descriptor that no recorded key opens; a resent descriptor (same bytes) is no reuse.
TEST(NonceCheck, catches_a_reused_nonce_and_an_unknown_key_but_not_a_resend) {
  proto::SessionParams p;
  p.channel = 1;
  p.n_queues = 1;
  proto::SessionSecrets s;
  s.params = p;
  s.session_id = 77;
  s.streams.resize(s.n_streams());
  for (size_t i = 0; i < s.streams.size(); ++i) {
    s.streams[i].key.fill(static_cast<uint8_t>(0x10 + i));
    s.streams[i].salt = 0x1000 + static_cast<uint32_t>(i);
  }
  const std::string keylog = "/tmp/ferry-noncecheck-" + std::to_string(getpid());
  {
    std::FILE *f = std::fopen(keylog.c_str(), "w");
    ASSERT_NE(f, nullptr);
    write_keylog(f, s);  // session 77 1 1 32 2: channel 1, one queue, AES-256, confidential
    std::fclose(f);
  }
  auto aead = proto::Aead::create(proto::AeadImpl::kOpenSsl);
  proto::SessionCrypto crypto(*aead, s);
  auto sealed = [&](uint64_t seq, uint64_t value) {
    proto::Descriptor d{};
    d.hdr.kind = static_cast<uint8_t>(proto::Kind::kMmioWrite);
    d.hdr.channel.set(1);
    d.hdr.seq.set(seq);
    d.body.value.set(value);
    EXPECT_EQ(crypto.seal(proto::Dir::kGuestToDevice, d), proto::Status::kOk);
    return d;
  };
  auto frame = [](const proto::Descriptor &d) {
    FrameCapture::Frame f{true, std::vector<uint8_t>(proto::kMaxFrameSize)};
    proto::FrameWriter w(f.udp_payload);
    std::memcpy(w.append(proto::RecordType::kDescriptor, 1, sizeof(d)), &d, sizeof(d));
    const size_t len = w.finish(0, 1, 1, 0);
    f.udp_payload.resize(proto::frame_put_fcs(
        f.udp_payload.data(), len, proto::frame_records_crc({f.udp_payload.data(), len})));
    return f;
  };
  const proto::Descriptor a = sealed(5, 1), resend = a, b = sealed(5, 2), c = sealed(6, 3);
  NonceReport r = check_nonces({frame(a), frame(resend), frame(c)}, keylog, true);
  EXPECT_EQ(r.sealed, 3u);
  EXPECT_EQ(r.reused, 0u) << r.detail;
  EXPECT_EQ(r.unattributed, 0u) << r.detail;
  EXPECT_EQ(r.distinct_nonces, 2u);
  r = check_nonces({frame(a), frame(b)}, keylog, true);
  EXPECT_EQ(r.reused, 1u) << r.detail;
  proto::Descriptor forged = c;
  forged.tag[3] ^= 1;
  r = check_nonces({frame(forged)}, keylog, true);
  EXPECT_EQ(r.unattributed, 1u) << r.detail;
  std::remove(keylog.c_str());
}

size_t occurrences(const std::string &text, const std::string &needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// What an operator reads (docs/deploy.md, Logs): the device node's log says that its peer
// restarted and that the guest attached, before and after; the restarted data plane's, that
// the guest attached to its region.
TEST_F(Restart, a_data_plane_restart_and_the_guest_attaching_are_in_the_services_logs) {
  GuestYaml guest;
  guest.mmio_timeout_ms = 500;
  up(guest);
  if (HasFatalFailure() || IsSkipped()) return;
  start_workload();
  ASSERT_TRUE(wait_progress(100, 1, 20000)) << workload_log();
  kill9(dp_);
  if (HasFatalFailure()) return;
  start_dp();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(wait_progress(progress() + 100, 2, 30000)) << workload_log() << "\n--- dp\n"
                                                         << dp_.log_tail() << "\n--- dn\n"
                                                         << dn_.log_tail();
  stop_workload();
  const std::string dn = dn_.log_tail(1 << 20), dp = dp_.log_tail(1 << 20);
  EXPECT_EQ(occurrences(dn, ": peer restart: peer stream "), 1u) << dn;
  EXPECT_GE(occurrences(dn, "ferry.node: lane 0 channel "), 2u) << dn;
  EXPECT_GE(occurrences(dn, " attached to device "), 2u) << dn;
  EXPECT_EQ(occurrences(dp, "ferry.relay: channel "), occurrences(dp, "ferry.relay: ")) << dp;
  EXPECT_GE(occurrences(dp, "guest attached"), 1u) << dp;
}

TEST_F(Restart, a_device_node_killed_twice_fails_pending_calls_in_time_and_never_reuses_a_nonce) {
  kill_twice_and_check(/*device_node=*/true);
}

TEST_F(Restart, a_data_plane_killed_twice_fails_pending_calls_in_time_and_never_reuses_a_nonce) {
  kill_twice_and_check(/*device_node=*/false);
}

TEST_F(Restart, a_device_node_killed_twice_over_kernel_tcp_fails_pending_calls_in_time) {
  kill_twice_and_check(/*device_node=*/true, "kernel-tcp");
}

TEST_F(Restart, a_data_plane_killed_twice_over_kernel_tcp_fails_pending_calls_in_time) {
  kill_twice_and_check(/*device_node=*/false, "kernel-tcp");
}

}  // namespace
}  // namespace ferry::testing
