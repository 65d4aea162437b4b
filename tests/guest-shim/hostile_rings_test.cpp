// A hostile host attacks the rings while the shim runs: impossible and backwards indices,
// duplicated, replayed and forged completions, and random writes all over the region. The
// shim must never crash, never wait past its timeout, never hand out forged data, report
// errors, and work again once the attack stops (unless it deleted a genuine completion: then
// the session fails closed with -EPROTO).
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "guest_fixture.h"
#include "hostile.h"
#include "hostile_index.h"

namespace ferry {
namespace {

using proto::Descriptor;
using testing::CheckedDriver;
using testing::open_guest;
using testing::Responder;
using testing::ring_slots;

constexpr uint32_t kTimeoutMs = 50;
constexpr long kSlackMs = 1500;  // scheduling on a loaded 2-core machine, sanitizers
constexpr int kSteps = 60;

// Runs the checked driver under `tamper`, then without it, and checks the invariants.
// expect_recovery: the attack leaves no lasting damage, so the session must work afterwards.
// (A host that leaves a ring index broken for good denies service, which a host always can.)
void run_attack(Responder &r, ferry_dev *dev, std::function<void(Responder &)> tamper,
                bool expect_recovery = true) {
  r.set_tamper(std::move(tamper));
  CheckedDriver drv(dev);
  // A bounded number of steps, and a bounded time: under a heavy attack most calls time out.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (int i = 0; i < kSteps && (i < 10 || std::chrono::steady_clock::now() < until); ++i)
    drv.step(static_cast<uint32_t>(i));
  r.set_tamper(nullptr);
  EXPECT_EQ(drv.forged, 0u) << "the shim handed out data the device never sent";
  EXPECT_LE(drv.max_ms, static_cast<long>(kTimeoutMs) + kSlackMs) << "a call outlived its timeout";
  EXPECT_GT(drv.ok, 0u);
  if (!expect_recovery) return;
  // The attack is over: the session works again.
  uint32_t id = 0;
  for (int i = 0; i < 20 && id != device::EduModel::kId; ++i)
    id = ferry_ioread32(dev, 0, device::EduModel::kRegId);
  EXPECT_EQ(id, device::EduModel::kId) << "no recovery after the attack";
}

// Starts a read in another thread while the responder is stopped, so the test can tamper
// with the completion ring while the shim is known to be polling it.
struct PendingRead {
  PendingRead(ferry_dev *dev, uint64_t off)
      : t([this, dev, off] {
          value = ferry_ioread32(dev, 0, off);
          error = ferry_last_error(dev);
        }) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  void join() { t.join(); }
  uint32_t value = 0;
  int error = 1;
  std::thread t;
};

TEST(HostileRings, an_impossible_completion_producer_index_is_refused_until_repaired) {
  Responder r;
  auto dev = open_guest(r.guest_config(2000));
  ASSERT_TRUE(dev);
  ASSERT_EQ(ferry_ioread32(dev.get(), 0, device::EduModel::kRegId), device::EduModel::kId);
  r.stop();
  proto::RingHeader *cq = r.region().cq(0);
  std::atomic_ref<uint32_t> prod(cq->prod.value);
  const uint32_t good = prod.load();
  PendingRead read(dev.get(), device::EduModel::kRegId);
  prod.store(good + 100000);  // claims far more entries than the ring has
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  prod.store(good - 1);  // moves backwards: behind the guest's consumer
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  prod.store(good);
  r.start();
  read.join();
  EXPECT_EQ(read.error, 0);
  EXPECT_EQ(read.value, device::EduModel::kId);
  EXPECT_GT(dev->impl->stats().bad_index, 0u);
}

TEST(HostileRings, a_submission_consumer_index_ahead_of_the_producer_fails_the_post) {
  Responder r;
  auto dev = open_guest(r.guest_config(2000));
  ASSERT_TRUE(dev);
  ASSERT_EQ(ferry_ioread32(dev.get(), 0, device::EduModel::kRegId), device::EduModel::kId);
  uint32_t good = 0;
  r.paused([&] {
    std::atomic_ref<uint32_t> cons(r.region().sq(0)->cons.value);
    good = cons.load();
    cons.store(good + 7);
  });
  ferry_iowrite32(dev.get(), 0, device::EduModel::kRegLiveness, 3);
  EXPECT_EQ(ferry_last_error(dev.get()), -EBADMSG);
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, device::EduModel::kRegId), 0xffffffffu);
  EXPECT_EQ(ferry_last_error(dev.get()), -EBADMSG);
  r.paused([&] { std::atomic_ref<uint32_t>(r.region().sq(0)->cons.value).store(good); });
  EXPECT_EQ(ferry_ioread32(dev.get(), 0, device::EduModel::kRegId), device::EduModel::kId);
  EXPECT_GT(dev->impl->stats().bad_index, 0u);
}

TEST(HostileRings, indices_scribbled_while_traffic_flows_never_yield_forged_data) {
  Responder r;
  auto dev = open_guest(r.guest_config(kTimeoutMs));
  ASSERT_TRUE(dev);
  std::mt19937 rng(17);
  run_attack(
      r, dev.get(),
      [&](Responder &rr) {
        if (rng() % 8 != 0) return;
        uint32_t *targets[] = {&rr.region().cq(0)->prod.value, &rr.region().cq(0)->cons.value,
                               &rr.region().sq(0)->prod.value, &rr.region().sq(0)->cons.value};
        testing::scribble_index(*targets[rng() % 4], rng);
      },
      /*expect_recovery=*/false);
}

TEST(HostileRings, duplicated_completions_are_dropped_as_replays) {
  Responder r;
  auto dev = open_guest(r.guest_config(kTimeoutMs));
  ASSERT_TRUE(dev);
  CheckedDriver drv(dev.get());
  r.set_tamper([](Responder &rr) { rr.to_host().duplicate_next(1); });
  for (int i = 0; i < kSteps; ++i) drv.step(static_cast<uint32_t>(i));
  r.set_tamper(nullptr);
  EXPECT_EQ(drv.forged, 0u);
  EXPECT_EQ(drv.errors, 0u) << "duplicates alone must not make any call fail";
  EXPECT_GT(dev->impl->stats().replayed, 0u);
}

TEST(HostileRings, completions_replayed_from_earlier_are_dropped) {
  Responder r;
  auto dev = open_guest(r.guest_config(kTimeoutMs));
  ASSERT_TRUE(dev);
  CheckedDriver warmup(dev.get());
  for (int i = 0; i < 20; ++i) warmup.step(static_cast<uint32_t>(i));
  // The host kept copies of the device's earlier, authentic descriptors (still in the CQ).
  std::vector<Descriptor> recorded;
  r.paused([&] {
    proto::RingHeader *cq = r.region().cq(0);
    for (uint32_t i = 0; i < r.region().geometry().ring_slots; ++i)
      if (ring_slots(cq)[i].hdr.seq.get() != 0) recorded.push_back(ring_slots(cq)[i]);
  });
  ASSERT_GT(recorded.size(), 10u);
  uint64_t pass = 0;
  const uint32_t channel = r.region().geometry().channel;
  run_attack(r, dev.get(), [&](Responder &rr) {
    const Descriptor &d = recorded[pass++ % recorded.size()];
    rr.to_host().emit(proto::RecordType::kDescriptor, channel,
                      {reinterpret_cast<const uint8_t *>(&d), sizeof(d)});
  });
  EXPECT_GT(dev->impl->stats().replayed, 0u);
}

// After an attack that overwrote CQ slots: a genuine completion the guest had not taken yet
// is gone, and the next one's counter shows the hole, so the session fails closed (-EPROTO)
// instead of recovering; the guest only goes on when no genuine one was lost.
void expect_fails_closed_if_one_was_lost(ferry_dev *dev) {
  const uint32_t id = ferry_ioread32(dev, 0, device::EduModel::kRegId);
  if (dev->impl->stats().seq_gaps == 0) {
    EXPECT_EQ(id, device::EduModel::kId);
  } else {
    EXPECT_EQ(id, 0xffffffffu);
    EXPECT_EQ(ferry_last_error(dev), -EPROTO);
  }
}

TEST(HostileRings, an_old_completion_written_over_a_fresh_one_is_not_accepted) {
  Responder r;
  auto dev = open_guest(r.guest_config(kTimeoutMs));
  ASSERT_TRUE(dev);
  const uint32_t slots = r.region().geometry().ring_slots;
  Descriptor old{};
  bool have_old = false;
  uint64_t pass = 0;
  run_attack(
      r, dev.get(),
      [&](Responder &rr) {
        proto::RingHeader *cq = rr.region().cq(0);
        uint32_t prod = std::atomic_ref<uint32_t>(cq->prod.value).load();
        if (prod == 0) return;
        Descriptor *slot = &ring_slots(cq)[(prod - 1) & (slots - 1)];
        if (!have_old) {
          std::memcpy(&old, slot, sizeof(old));
          have_old = true;
        } else if (++pass % 16 == 0) {
          std::memcpy(slot, &old, sizeof(old));  // may land before the guest reads the slot
        }
      },
      /*expect_recovery=*/false);
  expect_fails_closed_if_one_was_lost(dev.get());
}

TEST(HostileRings, forged_completions_fail_authentication_and_are_counted) {
  Responder r;
  auto dev = open_guest(r.guest_config(kTimeoutMs));
  ASSERT_TRUE(dev);
  const uint32_t slots = r.region().geometry().ring_slots;
  const uint32_t channel = r.region().geometry().channel;
  std::mt19937_64 rng(11);
  run_attack(
      r, dev.get(),
      [&](Responder &rr) {
        proto::RingHeader *cq = rr.region().cq(0);
        uint32_t prod = std::atomic_ref<uint32_t>(cq->prod.value).load();
        if (prod == 0 || rng() % 16 != 0) return;
        // A plausible header (right version, kind kSealed, queue, channel, a fresh seq), garbage
        // body.
        Descriptor f;
        for (size_t i = 0; i < sizeof(f); i += 8) {
          uint64_t x = rng();
          std::memcpy(reinterpret_cast<uint8_t *>(&f) + i, &x, 8);
        }
        f.hdr.version = proto::kProtoVersion;
        f.hdr.kind = static_cast<uint8_t>(proto::Kind::kSealed);  // as every sealed one
        f.hdr.queue.set(0);
        f.hdr.channel.set(channel);
        f.hdr.seq.set(1000000 + rng() % 1000);
        std::memcpy(&ring_slots(cq)[(prod - 1) & (slots - 1)], &f, sizeof(f));
      },
      /*expect_recovery=*/false);
  EXPECT_GT(dev->impl->stats().auth_failed, 0u);
  expect_fails_closed_if_one_was_lost(dev.get());
}

TEST(HostileRings, random_writes_anywhere_in_the_region_never_yield_forged_data) {
  Responder r;
  auto dev = open_guest(r.guest_config(kTimeoutMs));
  ASSERT_TRUE(dev);
  std::atomic<bool> stop{false};
  uint8_t *base = r.region().base();
  // Everything after the layout line: the host line, the rings, chunk metadata, the window.
  const uint64_t lo = sizeof(proto::ShmLayoutLine), size = r.region().size();
  std::thread attacker([&] {
    std::mt19937_64 rng(5);
    while (!stop.load(std::memory_order_relaxed)) {
      uint64_t off = lo + rng() % (size - lo - 8);
      uint64_t v = rng();
      std::memcpy(base + off, &v, 1 + rng() % 8);
      if (rng() % 64 == 0) std::this_thread::yield();
    }
  });
  // The attacker also targets the rings' hot spots, which random offsets rarely hit.
  uint64_t pass = 0;
  std::mt19937 rng2(9);
  r.set_tamper([&](Responder &rr) {
    if (++pass % 3 != 0) return;
    uint8_t *cq = reinterpret_cast<uint8_t *>(rr.region().cq(0));
    uint64_t junk = rng2();
    std::memcpy(cq + rng2() % (2 * proto::kCacheLine + 4 * proto::kDescriptorSize), &junk, 4);
  });
  CheckedDriver drv(dev.get());
  for (int i = 0; i < kSteps; ++i) drv.step(static_cast<uint32_t>(i));
  stop = true;
  attacker.join();
  r.set_tamper(nullptr);
  EXPECT_EQ(drv.forged, 0u);
  EXPECT_LE(drv.max_ms, static_cast<long>(kTimeoutMs) + kSlackMs);
  EXPECT_GT(drv.errors, 0u) << "the attack went unnoticed";
  auto s = dev->impl->stats();
  EXPECT_GT(s.auth_failed + s.bad_index + s.malformed + s.replayed, 0u);
}

}  // namespace
}  // namespace ferry
