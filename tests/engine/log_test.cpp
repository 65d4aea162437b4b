// The services' log (engine/include/ferry/engine/log.h): the ferry.* rte_log types work
// before and without the EAL, follow --log-level like any DPDK type, a flood from one call
// site is held to its token bucket with the suppressed lines counted, and the engine says
// when its peer restarted. The log is read back from a memstream (rte_openlog_stream).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "engine_test_util.h"
#include "ferry/engine/eal.h"
#include "ferry/engine/log.h"
#include "log_capture.h"
#include "seq_handlers.h"

namespace ferry::testing {
namespace {

using engine::log_type;
using engine::LogType;

void set_ferry_levels(uint32_t level) {
  ASSERT_EQ(rte_log_set_level_pattern("ferry.*", level), 0);
}

TEST(EngineLog, ferry_types_log_without_the_eal_at_info_and_above_by_default) {
  LogCapture cap;
  for (LogType t : {LogType::kEngine, LogType::kRelay, LogType::kNode}) {
    EXPECT_GE(log_type(t), 0);
    EXPECT_TRUE(rte_log_can_log(log_type(t), RTE_LOG_INFO)) << engine::log_type_name(t);
    EXPECT_FALSE(rte_log_can_log(log_type(t), RTE_LOG_DEBUG)) << engine::log_type_name(t);
  }
  FERRY_LOG(Relay, NOTICE, "channel %u: guest %s", 7u, "attached");
  FERRY_LOG(Node, DEBUG, "not %s", "shown");
  EXPECT_EQ(cap.text(), "ferry.relay: channel 7: guest attached\n");
}

TEST(EngineLog, a_level_pattern_turns_debug_on_for_one_type_only) {
  LogCapture cap;
  ASSERT_EQ(rte_log_set_level_pattern("ferry.relay", RTE_LOG_DEBUG), 0);
  FERRY_LOG(Relay, DEBUG, "relay detail");
  FERRY_LOG(Engine, DEBUG, "engine detail");
  EXPECT_EQ(cap.text(), "ferry.relay: relay detail\n");
  set_ferry_levels(RTE_LOG_INFO);
}

void flood_site(int i) {
  FERRY_LOG_LIMITED(Engine, WARNING, "flood event %d", i);
}

TEST(EngineLog, a_flood_from_one_site_is_held_to_its_burst_and_the_rest_is_counted) {
  LogCapture cap;
  for (int i = 0; i < 1000; ++i) flood_site(i);
  EXPECT_EQ(cap.count("ferry.engine: flood event"), engine::LogLimit::kDefaultBurst);
  EXPECT_EQ(cap.count("suppressed"), 0u);
  // One token comes back per interval: the next line says how many were held back.
  std::this_thread::sleep_for(
      std::chrono::nanoseconds(engine::LogLimit::kDefaultIntervalNs + 50'000'000));
  flood_site(1000);
  EXPECT_EQ(cap.count("ferry.engine: flood event"), engine::LogLimit::kDefaultBurst + 1);
  EXPECT_EQ(cap.count("ferry.engine: flood event 1000 (990 similar messages suppressed)\n"), 1u)
      << cap.text();
}

TEST(EngineLog, a_log_limit_admits_its_burst_then_one_line_per_interval) {
  engine::LogLimit lim(3, 1000);
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(lim.admit(10'000, suppressed));
    EXPECT_EQ(suppressed, 0u);
  }
  EXPECT_FALSE(lim.admit(10'000, suppressed));
  EXPECT_FALSE(lim.admit(10'500, suppressed));
  ASSERT_TRUE(lim.admit(11'000, suppressed));
  EXPECT_EQ(suppressed, 2u);
  EXPECT_FALSE(lim.admit(11'000, suppressed));
  ASSERT_TRUE(lim.admit(20'000, suppressed));  // idle long enough: the burst is back
  EXPECT_EQ(suppressed, 1u);
  ASSERT_TRUE(lim.admit(20'000, suppressed));
  ASSERT_TRUE(lim.admit(20'000, suppressed));
  EXPECT_FALSE(lim.admit(20'000, suppressed));
}

char hex_id[16];
const char *hex(uint32_t id) {
  std::snprintf(hex_id, sizeof(hex_id), "%08x", id);
  return hex_id;
}

TEST(EngineLog, a_peer_restart_is_logged_with_both_streams) {
  LogCapture cap;
  UdpPair p;
  SeqSource src(UINT32_MAX, 1);
  auto a = p.make(src, true);
  uint32_t old_stream = 0;
  {
    SeqSink sink1;
    auto b1 = p.make(sink1, false);
    ASSERT_TRUE(drive(*a, *b1, [&] { return sink1.seq.received >= 1000; }));
    old_stream = b1->stream_id();
  }
  EXPECT_EQ(cap.count("peer restart"), 0u);
  const std::string a_stream = hex(a->stream_id());
  EXPECT_EQ(cap.count("stream " + a_stream + ": peer stream " + hex(old_stream) + " taken"), 1u)
      << cap.text();
  SeqSink sink2;
  auto b2 = p.make(sink2, false);
  ASSERT_TRUE(drive(*a, *b2, [&] { return sink2.seq.received >= 1000; }));
  ASSERT_EQ(a->counters().peer_restarts.get(), 1u);
  const std::string new_stream = hex(b2->stream_id());
  EXPECT_EQ(cap.count("ferry.engine: stream " + a_stream + ": peer restart: peer stream " +
                      new_stream + " replaces " + hex(old_stream)),
            1u)
      << cap.text();
}

// Last: it initialises the EAL, as a service does, with --log-level for the ferry types.
TEST(EngineLog, the_eals_log_level_option_sets_the_ferry_types) {
  engine::EalOptions eal;
  eal.no_huge = true;
  eal.memory_mb = 64;
  eal.file_prefix = "ferry-log-test-" + std::to_string(getpid());
  eal.extra_args = {"--log-level", "ferry.*:debug", "--log-level", "ferry.node:warning"};
  engine::eal_init(eal);
  EXPECT_TRUE(rte_log_can_log(log_type(LogType::kRelay), RTE_LOG_DEBUG));
  EXPECT_TRUE(rte_log_can_log(log_type(LogType::kEngine), RTE_LOG_DEBUG));
  EXPECT_TRUE(rte_log_can_log(log_type(LogType::kNode), RTE_LOG_WARNING));
  EXPECT_FALSE(rte_log_can_log(log_type(LogType::kNode), RTE_LOG_NOTICE));
  engine::eal_cleanup();
}

}  // namespace
}  // namespace ferry::testing
