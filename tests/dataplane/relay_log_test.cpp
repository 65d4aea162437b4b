// ferry-dataplane's log of its guest regions (dataplane/service/relay_log.cpp): a real guest
// shim opening and closing its region is logged as attach and detach, and records the relay
// refuses are reported, all from housekeeping. Read back from rte_log's stream.
#include <gtest/gtest.h>

#include "fake_link.h"
#include "ferry/proto/descriptor.h"
#include "guest_fixture.h"
#include "log_capture.h"
#include "relay_log.h"
#include "responder.h"

namespace ferry::testing {
namespace {

TEST(RelayLog, a_guest_attaching_and_detaching_is_logged_with_its_channel_and_region) {
  LogCapture cap;
  Responder r;
  std::unique_ptr<services::RelayLog> log;
  r.paused([&] { log = std::make_unique<services::RelayLog>(r.relay()); });
  const std::string channel = "channel " + std::to_string(r.relay().channel()) + ": ";
  EXPECT_EQ(cap.count("ferry.relay: " + channel + "serving region " + r.region().path()), 1u)
      << cap.text();
  {
    DevPtr dev = open_guest(r.guest_config());
    ASSERT_NE(dev, nullptr);
    r.paused([&] { log->housekeeping(); });
    EXPECT_EQ(cap.count("ferry.relay: " + channel + "guest attached to region " +
                        r.region().path() + "\n"),
              1u)
        << cap.text();
  }
  r.paused([&] { log->housekeeping(); });
  EXPECT_EQ(cap.count("ferry.relay: " + channel + "guest detached from region " +
                      r.region().path() + "\n"),
            1u)
      << cap.text();
  r.paused([&] { log->housekeeping(); });  // nothing changed: nothing more said
  EXPECT_EQ(cap.count("ferry.relay: "), 3u) << cap.text();
}

TEST(RelayLog, records_the_relay_refuses_are_reported_at_housekeeping) {
  LogCapture cap;
  Responder r;
  std::unique_ptr<services::RelayLog> log;
  r.paused([&] {
    log = std::make_unique<services::RelayLog>(r.relay());
    proto::Descriptor d{};
    d.hdr.channel.set(r.relay().channel());
    d.hdr.queue.set(999);  // no such queue
    FakeLink out;
    r.relay().on_record(
        {proto::RecordType::kDescriptor, 0, r.relay().channel(),
         std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&d), sizeof(d))},
        out);
    log->housekeeping();
  });
  EXPECT_EQ(cap.count("1 refused since the last look (totals: "), 1u) << cap.text();
}

}  // namespace
}  // namespace ferry::testing
