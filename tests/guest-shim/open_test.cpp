// ferry_open: config, region validation, handshake; every way it can fail says why.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "ferry/device/edu.h"
#include "guest_fixture.h"

namespace ferry {
namespace {

using testing::open_guest;
using testing::Responder;
using testing::ResponderOptions;
using testing::scratch_path;

bool contains(const std::string &s, const std::string &what) {
  return s.find(what) != std::string::npos;
}

// Opens cfg expecting failure; returns ferry_open_error()'s text.
std::string open_fails(const config::GuestConfig &cfg) {
  ferry_dev *d = ferry_open_config(cfg);
  EXPECT_EQ(d, nullptr);
  ferry_close(d);
  return ferry_open_error();
}

TEST(Open, a_yaml_config_opens_a_session_with_the_device) {
  Responder r;
  std::string yaml = r.write_guest_yaml();
  ferry_dev *dev = ferry_open(yaml.c_str());
  ASSERT_NE(dev, nullptr) << ferry_open_error();
  EXPECT_STREQ(ferry_open_error(), "");
  EXPECT_EQ(ferry_ioread32(dev, 0, device::EduModel::kRegId), device::EduModel::kId);
  EXPECT_EQ(r.region().header()->guest.attached, 1u);
  ferry_close(dev);
  EXPECT_EQ(r.region().header()->guest.attached, 0u);
  std::remove(yaml.c_str());
}

TEST(Open, a_missing_config_file_is_named_in_the_error) {
  EXPECT_EQ(ferry_open("/nonexistent/guest.yaml"), nullptr);
  EXPECT_TRUE(contains(ferry_open_error(), "/nonexistent/guest.yaml")) << ferry_open_error();
  EXPECT_EQ(ferry_open(nullptr), nullptr);
  EXPECT_TRUE(contains(ferry_open_error(), "NULL"));
}

TEST(Open, a_config_with_an_unknown_key_is_refused_with_file_and_key) {
  std::string yaml = scratch_path("bad.yaml");
  std::ofstream(yaml) << "region: /dev/shm/x\npsk_file: /x\nregoin: typo\n";
  EXPECT_EQ(ferry_open(yaml.c_str()), nullptr);
  EXPECT_TRUE(contains(ferry_open_error(), "regoin")) << ferry_open_error();
  EXPECT_TRUE(contains(ferry_open_error(), yaml)) << ferry_open_error();
  std::remove(yaml.c_str());
}

TEST(Open, a_missing_region_says_the_data_plane_has_not_created_it) {
  Responder r;
  config::GuestConfig cfg = r.guest_config();
  cfg.region_path = "/dev/shm/ferry-no-such-region";
  std::string e = open_fails(cfg);
  EXPECT_TRUE(contains(e, "/dev/shm/ferry-no-such-region")) << e;
  EXPECT_TRUE(contains(e, "cannot open")) << e;
}

TEST(Open, a_region_too_small_for_a_header_is_refused) {
  Responder r;
  config::GuestConfig cfg = r.guest_config();
  cfg.region_path = scratch_path("tiny");
  std::ofstream(cfg.region_path) << "tiny";
  std::string e = open_fails(cfg);
  EXPECT_TRUE(contains(e, "too small")) << e;
  std::remove(cfg.region_path.c_str());
}

TEST(Open, a_region_with_a_corrupt_header_is_refused_with_the_reason) {
  Responder r;
  config::GuestConfig cfg = r.guest_config();
  r.paused([&] { r.region().header()->layout.ring_slots.set(100); });  // not a power of two
  std::string e = open_fails(cfg);
  EXPECT_TRUE(contains(e, "invalid header")) << e;
  EXPECT_TRUE(contains(e, cfg.region_path)) << e;
  r.paused([&] { r.region().header()->layout.magic.set(0); });
  e = open_fails(cfg);
  EXPECT_TRUE(contains(e, "invalid header")) << e;
}

TEST(Open, more_queues_than_the_region_has_are_refused) {
  Responder r;
  config::GuestConfig cfg = r.guest_config();
  cfg.n_queues = 2;  // the region has one
  std::string e = open_fails(cfg);
  EXPECT_TRUE(contains(e, "queues")) << e;
}

TEST(Open, a_wrong_psk_fails_the_handshake) {
  Responder r;
  config::GuestConfig cfg = r.guest_config();
  cfg.psk_file = testing::write_psk_file("wrong");
  std::string e = open_fails(cfg);
  EXPECT_TRUE(contains(e, "handshake")) << e;
  std::remove(cfg.psk_file.c_str());
}

TEST(Open, an_unreadable_psk_file_is_named) {
  Responder r;
  config::GuestConfig cfg = r.guest_config();
  cfg.psk_file = "/nonexistent/psk";
  std::string e = open_fails(cfg);
  EXPECT_TRUE(contains(e, "/nonexistent/psk")) << e;
}

TEST(Open, an_unknown_device_id_is_rejected_by_the_device) {
  Responder r;
  config::GuestConfig cfg = r.guest_config();
  cfg.device_id = 99;
  std::string e = open_fails(cfg);
  EXPECT_TRUE(contains(e, "handshake with device 99 failed")) << e;
}

TEST(Open, a_region_no_data_plane_serves_times_out_with_a_clear_error) {
  Responder r;
  r.kill_relay();
  config::GuestConfig cfg = r.guest_config();
  cfg.handshake_timeout_ms = 200;
  auto t0 = std::chrono::steady_clock::now();
  std::string e = open_fails(cfg);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_TRUE(contains(e, "did not mark it ready")) << e;
  EXPECT_GE(ms, 200);
  EXPECT_LT(ms, 2000);
}

TEST(Open, a_silent_device_node_times_out_the_handshake) {
  Responder r;
  r.stop();  // region ready, but nobody moves the rings
  config::GuestConfig cfg = r.guest_config();
  cfg.handshake_timeout_ms = 200;
  std::string e = open_fails(cfg);
  EXPECT_TRUE(contains(e, "no answer")) << e;
}

TEST(Open, reopening_starts_a_fresh_session_that_works) {
  Responder r;
  for (int i = 0; i < 3; ++i) {
    auto dev = open_guest(r.guest_config());
    ASSERT_TRUE(dev);
    ferry_iowrite32(dev.get(), 0, device::EduModel::kRegLiveness, 5);
    EXPECT_EQ(ferry_ioread32(dev.get(), 0, device::EduModel::kRegLiveness), ~5u);
  }
  r.paused([&] { EXPECT_GE(r.node().counters().handshakes, 3u); });
}

TEST(Open, every_security_level_and_key_size_gives_a_working_session) {
  Responder r;
  for (proto::Security sec :
       {proto::Security::kConfidential, proto::Security::kIntegrity, proto::Security::kNone}) {
    for (uint8_t key_bytes : {uint8_t{16}, uint8_t{32}}) {
      config::GuestConfig cfg = r.guest_config();
      cfg.security = sec;
      cfg.key_bytes = key_bytes;
      auto dev = open_guest(cfg);
      ASSERT_TRUE(dev) << proto::security_name(sec) << " " << int{key_bytes};
      ferry_iowrite32(dev.get(), 0, device::EduModel::kRegLiveness, 7);
      EXPECT_EQ(ferry_ioread32(dev.get(), 0, device::EduModel::kRegLiveness), ~7u);
      uint64_t dma = 0;
      auto *buf = static_cast<uint8_t *>(ferry_dma_alloc(dev.get(), 100, &dma));
      ASSERT_NE(buf, nullptr);
      buf[99] = 0x5a;
      EXPECT_EQ(ferry_dma_sync_for_device(dev.get(), dma, 100), 0);
      EXPECT_EQ(ferry_last_error(dev.get()), 0) << proto::security_name(sec);
    }
  }
}

TEST(Open, the_open_error_is_per_thread) {
  EXPECT_EQ(ferry_open("/nonexistent/a.yaml"), nullptr);
  std::string other;
  std::thread t([&] { other = ferry_open_error(); });
  t.join();
  EXPECT_EQ(other, "");
  EXPECT_TRUE(contains(ferry_open_error(), "/nonexistent/a.yaml"));
}

}  // namespace
}  // namespace ferry
