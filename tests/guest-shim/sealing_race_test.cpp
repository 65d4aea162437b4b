// A host thread rewrites the DMA window while the guest seals a chunk into it (the guest's
// real DmaWindow::seal_for_device, each AEAD implementation, each authenticating level). The
// device's opening code must never accept a chunk whose bytes differ from what the guest
// sealed: the guest seals in private memory and only then copies the sealed bytes out, so a
// write that lands during sealing can only make the chunk fail to open.
//
// `none` is left out on purpose: it authenticates nothing, so any host write is accepted there.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "dma.h"
#include "ferry/proto/aead.h"
#include "ferry/proto/session.h"
#include "proto_test_util.h"
#include "region.h"
#include "require.h"
#include "responder.h"

namespace ferry {
namespace {

using proto::AeadImpl;
using proto::Security;

constexpr int kSeals = 20000;
// On a loaded machine the writer may get no CPU for a while: sealing goes on until its writes
// were seen at least once (the race ran), up to this long.
constexpr auto kRaceLimit = std::chrono::seconds(20);
constexpr uint8_t kHostByte = 0xa5;   // what the host writes
constexpr uint8_t kGuestByte = 0x11;  // what the guest's buffer holds there

// The hostile host: stores kHostByte into every cache line of one window chunk, over and
// over, until it is destroyed.
class WindowWriter {
 public:
  WindowWriter(uint8_t *chunk, size_t len) : thread_([this, chunk, len] { run(chunk, len); }) {}
  // Waits until the writer has made a first pass over the chunk.
  void wait_started() const {
    while (passes_.load(std::memory_order_relaxed) == 0) std::this_thread::yield();
  }
  ~WindowWriter() {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
  }

 private:
  void run(uint8_t *chunk, size_t len) {
    while (!stop_.load(std::memory_order_relaxed)) {
      for (size_t off = 0; off < len; off += 64)
        __atomic_store_n(chunk + off, kHostByte, __ATOMIC_RELAXED);
      passes_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> passes_{0};
  std::thread thread_;  // last: starts once stop_ exists
};

class SealingRace : public ::testing::TestWithParam<std::tuple<Security, AeadImpl>> {};

TEST_P(SealingRace, a_chunk_the_host_rewrites_while_the_guest_seals_it_never_opens_changed) {
  const auto [security, impl] = GetParam();
  if (impl == AeadImpl::kIpsecMb) FERRY_REQUIRE(proto::ipsecmb_usable(), "CPU lacks AES-NI");
  testing::ResponderOptions o;
  o.start_thread = false;  // only the region is used: nothing else may touch the window
  testing::Responder r(o);
  guest::Region region(r.guest_config().region_path);
  const uint32_t chunk = region.geometry().chunk_size;
  const uint32_t channel = region.geometry().channel;

  proto::SessionParams p;
  p.security = security;
  p.channel = channel;
  const proto::SessionSecrets secrets = proto::test::test_secrets(p);
  auto guest_aead = proto::Aead::create(impl), device_aead = proto::Aead::create(impl);
  proto::SessionCrypto guest_crypto(*guest_aead, secrets), device_crypto(*device_aead, secrets);

  guest::DmaWindow window(region, channel);
  std::lock_guard<std::mutex> lk(window.mutex());
  uint64_t dma = 0;
  int err = 0;
  auto *buf = static_cast<uint8_t *>(window.alloc(chunk, dma, err));
  ASSERT_NE(buf, nullptr) << err;
  const uint32_t c = static_cast<uint32_t>((dma - region.geometry().dma_base) / chunk);

  std::vector<uint8_t> seen(chunk), opened(chunk);
  uint64_t forged = 0, refused = 0, clean = 0;
  {
    WindowWriter host(region.chunk(c), chunk);
    host.wait_started();
    const auto limit = std::chrono::steady_clock::now() + kRaceLimit;
    for (int i = 0; i < kSeals || (refused == 0 && std::chrono::steady_clock::now() < limit); ++i) {
      std::memset(buf, kGuestByte, chunk);
      std::memcpy(buf + 1, &i, sizeof(i));  // a new plaintext every time
      guest::DmaAnnouncement ann{};
      ASSERT_EQ(window.seal_for_device(guest_crypto, dma, chunk, ann), 0);
      // What the device would get: the window's bytes and tag as they are now.
      proto::ChunkMeta meta;
      std::memcpy(seen.data(), region.chunk(c), chunk);
      std::memcpy(&meta, region.meta(c), sizeof(meta));
      const proto::ChunkAad aad =
          proto::make_chunk_aad(channel, dma, chunk, proto::Writer::kGuest, ann.first_version);
      if (device_crypto.open_chunk(proto::Dir::kGuestToDevice, aad, seen.data(), opened.data(),
                                   chunk, meta.tag) != proto::Status::kOk) {
        ++refused;
      } else if (std::memcmp(opened.data(), buf, chunk) != 0) {
        ++forged;
      } else {
        ++clean;
      }
    }
  }
  EXPECT_EQ(forged, 0u) << "the device accepted " << forged << " of " << forged + refused + clean
                        << " chunks the host changed during sealing (" << refused << " refused, "
                        << clean << " clean)";
  EXPECT_GT(refused, 0u) << "the host's writes never reached the window: the race did not run";
  EXPECT_EQ(window.free(buf, chunk), 0);
}

INSTANTIATE_TEST_SUITE_P(
    LevelsAndImpls, SealingRace,
    ::testing::Combine(::testing::Values(Security::kIntegrity, Security::kConfidential),
                       ::testing::Values(AeadImpl::kIpsecMb, AeadImpl::kOpenSsl)),
    [](const auto &info) {
      return std::string(proto::security_name(std::get<0>(info.param))) + "_" +
             std::string(proto::impl_name(std::get<1>(info.param)));
    });

}  // namespace
}  // namespace ferry
