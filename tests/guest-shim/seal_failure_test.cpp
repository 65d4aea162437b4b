// A descriptor the guest cannot seal (its rekey step fails) never leaves: the call fails with
// an error the driver sees, nothing of it reaches the submission ring, and its sequence
// number stays unused, so the next request goes out sealed and gap-free.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "device.h"
#include "ferry/proto/shm_ring.h"
#include "kdf_outage.h"
#include "proto_test_util.h"
#include "region.h"
#include "responder.h"

namespace ferry {
namespace {

constexpr uint64_t kMarker = 0x5ec7e7;  // a value that must never be seen in clear
constexpr uint64_t kLiveness = 0x04;

// What the host finds in the submission ring of queue 0 (taking it, as the relay would).
std::vector<proto::Descriptor> host_takes(guest::Device &dev) {
  proto::RingConsumer sq(dev.region().sq(0), dev.region().geometry().ring_slots);
  std::vector<proto::Descriptor> out;
  proto::Descriptor d;
  while (sq.pop(d) == 1) out.push_back(d);
  return out;
}

TEST(SealFailure, a_write_whose_rekey_step_fails_returns_an_error_and_nothing_reaches_the_ring) {
  testing::ResponderOptions o;
  o.start_thread = false;  // the test plays the host: nothing else takes from the ring
  testing::Responder r(o);
  config::GuestConfig cfg = r.guest_config();
  cfg.rekey_after_messages = 2;
  proto::SessionParams p;
  p.n_queues = cfg.n_queues;
  p.channel = guest::Region(cfg.region_path).geometry().channel;
  const proto::SessionSecrets secrets = proto::test::test_secrets(p);
  std::unique_ptr<guest::Device> dev = guest::Device::attach(cfg, secrets);

  ASSERT_EQ(dev->write(0, 0, kLiveness, 4, 1), 0);
  ASSERT_EQ(dev->write(0, 0, kLiveness, 4, 2), 0);  // epoch 0 is used up
  {
    testing::KdfOutage outage;  // the step to epoch 1 cannot derive its key
    EXPECT_EQ(dev->write(0, 0, kLiveness, 4, kMarker), -EIO);
  }
  const std::vector<proto::Descriptor> before = host_takes(*dev);
  EXPECT_EQ(before.size(), 2u) << "a descriptor that could not be sealed was posted";
  for (const proto::Descriptor &d : before)
    EXPECT_NE(d.body.value.get(), kMarker) << "the marker left the guest in clear";
  EXPECT_EQ(dev->stats().posted, 2u);

  // Once keys can be derived again the same write goes out sealed, on the unused number.
  ASSERT_EQ(dev->write(0, 0, kLiveness, 4, kMarker), 0);
  const std::vector<proto::Descriptor> after = host_takes(*dev);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(proto::seq_counter(after[0].hdr.seq.get()), 3u);
  EXPECT_EQ(proto::seq_key_epoch(after[0].hdr.seq.get()), 1u);
  EXPECT_NE(after[0].body.value.get(), kMarker);  // confidential: the body is encrypted
}

}  // namespace
}  // namespace ferry
