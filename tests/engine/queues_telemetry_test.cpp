// /ferry/queues through DPDK's telemetry socket, for real: this process runs the EAL (no
// hugepages), and the real data-plane and device-node handlers, over a real relay and device
// node (the guest shim's in-process responder), are its sources. A driver's reads on two
// queues show up in both services' rows; several sources (lanes) each get their rows and a
// destroyed one leaves; the channel parameter filters; a table read while the polling thread
// publishes is always one whole publish.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dataplane_handler.h"
#include "device_node_handler.h"
#include "edu_ops.h"
#include "ferry/engine/eal.h"
#include "ferry/engine/telemetry_queues.h"
#include "guest_fixture.h"
#include "lab.h"

namespace ferry {
namespace {

using testing::EduModel;
using testing::Responder;
using testing::ResponderOptions;

class EalEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    engine::EalOptions eal;
    eal.lcores = {0};
    eal.no_huge = true;
    eal.memory_mb = 64;
    eal.file_prefix = "ferry-queues-test-" + std::to_string(getpid());
    engine::eal_init(eal);
  }
  void TearDown() override { engine::eal_cleanup(); }
};
const auto *const g_env = ::testing::AddGlobalTestEnvironment(new EalEnv);

// One command on this process's own telemetry socket; the JSON reply.
std::string query(const std::string &cmd) {
  return testing::telemetry_query_socket(
      std::string(rte_eal_get_runtime_dir()) + "/dpdk_telemetry.v2", cmd);
}

// The rows of a /ferry/queues reply: name -> field -> value (numbers and strings as text).
using Row = std::map<std::string, std::string>;
std::map<std::string, Row> rows_of(const std::string &json) {
  std::map<std::string, Row> rows;
  static const std::regex row_re(R"re("(s\d+_ch\d+_(?:q\d+|all))":\s*\{([^{}]*)\})re");
  static const std::regex field_re(R"re("(\w+)":\s*("[^"]*"|-?\d+))re");
  for (std::sregex_iterator it(json.begin(), json.end(), row_re), end; it != end; ++it) {
    Row &r = rows[(*it)[1]];
    const std::string body = (*it)[2];
    for (std::sregex_iterator f(body.begin(), body.end(), field_re); f != end; ++f) {
      std::string v = (*f)[2];
      if (v.front() == '"') v = v.substr(1, v.size() - 2);
      r[(*f)[1]] = v;
    }
  }
  return rows;
}

uint64_t num(const Row &r, const std::string &k) {
  auto it = r.find(k);
  return it == r.end() ? UINT64_MAX : std::stoull(it->second);
}

// The one row of `kind` for channel/queue ("all" rows: queue < 0).
const Row *find(const std::map<std::string, Row> &rows, const std::string &kind, uint32_t ch,
                int queue) {
  const Row *hit = nullptr;
  for (const auto &[name, r] : rows) {
    if (r.count("kind") == 0 || r.at("kind") != kind || num(r, "channel") != ch) continue;
    if (queue >= 0 ? num(r, "queue") != static_cast<uint64_t>(queue) : r.count("queue") != 0)
      continue;
    if (hit != nullptr) return nullptr;  // ambiguous
    hit = &r;
  }
  return hit;
}

uint64_t top(const std::string &json, const std::string &key) {
  std::smatch m;
  if (std::regex_search(json, m, std::regex("\"" + key + "\":\\s*(\\d+)")))
    return std::stoull(m[1]);
  return UINT64_MAX;
}

// The pump thread starts only when a test starts it: handlers publish (read the relay's and
// node's counters) from the thread that constructs them, as the services do before polling.
ResponderOptions region(uint32_t channel, uint16_t queues) {
  ResponderOptions o;
  o.start_thread = false;
  o.region.channel = channel;
  o.region.n_queues = queues;
  return o;
}

TEST(QueuesTelemetry, a_drivers_reads_on_two_queues_show_in_both_services_rows) {
  Responder r(region(3, 2));
  services::DataplaneHandler dp({&r.relay()}, {3});
  services::DeviceNodeHandler dn(r.node());
  r.start();
  config::GuestConfig cfg = r.guest_config(5000);
  cfg.n_queues = 2;
  auto dev = testing::open_guest(cfg);
  ASSERT_TRUE(dev);
  for (int i = 0; i < 25; ++i)
    ASSERT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegId), 0x010000edu);
  ASSERT_EQ(ferry_bind_queue(dev.get(), 1), 0);
  for (int i = 0; i < 15; ++i)
    ASSERT_EQ(ferry_ioread32(dev.get(), 0, EduModel::kRegId), 0x010000edu);
  r.paused([&] {
    dp.publish_queues();
    dn.publish_queues();
  });

  const std::string json = query("/ferry/queues");
  EXPECT_EQ(top(json, "sources"), 2u) << json;
  EXPECT_EQ(top(json, "truncated"), 0u) << json;
  const auto rows = rows_of(json);
  const Row *d0 = find(rows, "dataplane", 3, 0), *d1 = find(rows, "dataplane", 3, 1);
  const Row *n0 = find(rows, "device-node", 3, 0), *n1 = find(rows, "device-node", 3, 1);
  ASSERT_TRUE(d0 && d1 && n0 && n1) << json;
  // The data plane cannot tell a read from a completion (the kind is sealed): it counts
  // descriptors each way and has no read latency; the device node has both.
  EXPECT_EQ(d0->count("completions"), 0u);
  EXPECT_EQ(num(*d0, "latency_count"), 0u);
  EXPECT_GE(num(*d0, "descriptors"), 50u);  // 25 each way (and the handshake on queue 0)
  EXPECT_EQ(num(*d1, "descriptors"), 30u);
  EXPECT_EQ(num(*d1, "to_guest"), 15u);
  EXPECT_EQ(num(*n0, "completions"), 25u);
  EXPECT_EQ(num(*n1, "latency_count"), 15u);
  EXPECT_EQ(num(*n0, "accepted"), 25u);
  EXPECT_EQ(num(*n0, "descriptors"), 50u);
  EXPECT_EQ(num(*n1, "completions"), 15u);
  EXPECT_EQ(num(*n1, "auth_failures"), 0u);
  EXPECT_EQ(num(*n1, "replays_dropped"), 0u);
  for (const Row *q : {d0, d1, n0, n1}) EXPECT_EQ(q->at("scope"), "queue");
  for (const Row *q : {n0, n1}) {
    EXPECT_GT(num(*q, "latency_p50_ns"), 0u);
    EXPECT_GE(num(*q, "latency_p99_ns"), num(*q, "latency_p50_ns"));
  }
  EXPECT_EQ(n0->at("session"), n1->at("session"));
  EXPECT_EQ(num(*n0, "device"), 1u);
  // The data plane's row of the whole region, the device node's of the whole session.
  const Row *guest = find(rows, "dataplane", 3, -1), *session = find(rows, "device-node", 3, -1);
  ASSERT_TRUE(guest && session) << json;
  EXPECT_EQ(guest->at("scope"), "guest");
  EXPECT_EQ(num(*guest, "dma_chunks_served"), 0u);
  EXPECT_EQ(session->at("scope"), "session");
  EXPECT_EQ(num(*session, "tx_dropped"), 0u);
  EXPECT_EQ(guest->count("to_guest"), 0u);  // queue columns stay on queue rows
}

TEST(QueuesTelemetry, each_source_of_a_process_gets_its_rows_and_a_destroyed_one_leaves) {
  Responder a(region(4, 1)), b(region(5, 2));
  services::DataplaneHandler lane0({&a.relay()}, {4});
  auto lane1 = std::make_unique<services::DataplaneHandler>(
      std::vector<dataplane::HostRelay *>{&b.relay()}, std::vector<uint32_t>{5});
  std::string json = query("/ferry/queues");
  EXPECT_EQ(top(json, "sources"), 2u) << json;
  auto rows = rows_of(json);
  ASSERT_NE(find(rows, "dataplane", 4, 0), nullptr) << json;
  ASSERT_NE(find(rows, "dataplane", 5, 1), nullptr) << json;
  EXPECT_NE(find(rows, "dataplane", 4, 0)->at("source"),
            find(rows, "dataplane", 5, 0)->at("source"));
  EXPECT_EQ(top(json, "rows"), 2u + 3u);  // (queues + 1) per guest

  lane1.reset();
  json = query("/ferry/queues");
  EXPECT_EQ(top(json, "sources"), 1u) << json;
  rows = rows_of(json);
  EXPECT_NE(find(rows, "dataplane", 4, 0), nullptr) << json;
  EXPECT_EQ(find(rows, "dataplane", 5, 0), nullptr) << json;
}

TEST(QueuesTelemetry, the_channel_parameter_selects_one_guest_and_nonsense_is_refused) {
  Responder a(region(6, 1)), b(region(7, 1));
  services::DataplaneHandler dp({&a.relay(), &b.relay()}, {6, 7});
  const std::string json = query("/ferry/queues,7");
  const auto rows = rows_of(json);
  EXPECT_EQ(rows.size(), 2u) << json;  // channel 7's queue row and region row
  for (const auto &[name, r] : rows) EXPECT_EQ(num(r, "channel"), 7u) << name;
  EXPECT_TRUE(std::regex_search(json, std::regex(R"re("channels":\s*\[6,\s*7\])re"))) << json;
  const std::string bad = query("/ferry/queues,seven");
  EXPECT_TRUE(rows_of(bad).empty()) << bad;
  EXPECT_NE(bad.find("null"), std::string::npos) << bad;
}

TEST(QueueTable, a_read_during_publishes_is_always_one_whole_publish) {
  constexpr engine::QueueColumn cols[] = {{"a", true}, {"b", true}, {"c", false}};
  engine::QueueTable table(cols, 8, "guest");
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::vector<engine::QueueRow> rows(8);
    for (uint64_t k = 1; !stop.load(std::memory_order_relaxed); ++k) {
      const size_t n = 1 + k % 8;
      for (size_t i = 0; i < n; ++i) {
        rows[i].channel = static_cast<uint32_t>(k);
        rows[i].queue = static_cast<int32_t>(i);
        rows[i].values[0] = rows[i].values[1] = rows[i].values[2] = k;
        rows[i].latency.count = k;
        rows[i].latency.buckets[k % 100] = k;
      }
      table.publish(std::span<const engine::QueueRow>(rows.data(), n));
    }
  });
  std::vector<engine::QueueRow> out;
  std::set<uint64_t> seen;  // publishes the reads landed on: the writer really ran alongside
  int reads = 0, torn = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (seen.size() < 200 && std::chrono::steady_clock::now() < until) {
    if (!table.read(out)) continue;
    ++reads;
    if (out.empty()) continue;  // before the first publish
    const uint64_t k = out[0].channel;
    seen.insert(k);
    if (out.size() != 1 + k % 8) ++torn;
    for (const engine::QueueRow &r : out) {
      if (r.channel != k || r.values[0] != k || r.values[1] != k || r.values[2] != k ||
          r.latency.count != k || r.latency.buckets[k % 100] != k)
        ++torn;
    }
  }
  stop = true;
  writer.join();
  EXPECT_GE(seen.size(), 2u) << reads << " reads";
  EXPECT_EQ(torn, 0);
}

TEST(QueueTable, rows_beyond_its_capacity_are_counted_as_dropped) {
  constexpr engine::QueueColumn cols[] = {{"a", true}};
  engine::QueueTable table(cols, 2, "guest");
  std::vector<engine::QueueRow> rows(5);
  table.publish(rows, 4);
  std::vector<engine::QueueRow> out;
  uint64_t dropped = 0;
  ASSERT_TRUE(table.read(out, &dropped));
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(dropped, 3u + 4u);
}

}  // namespace
}  // namespace ferry
