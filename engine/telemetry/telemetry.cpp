#include "ferry/engine/telemetry.h"

#include <rte_telemetry.h>

#include <array>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "ferry/engine/engine.h"

namespace ferry::engine {

namespace {

// The telemetry thread reads through these pointers; the mutex only orders publish/withdraw
// against a command in progress (never taken on the polling path).
std::mutex g_mu;
std::vector<Engine *> g_lanes;  // non-const only for transport(); nothing is modified
const TransportCounters *g_port = nullptr;
const char *g_role = "";
bool g_registered = false;

// Engine counters: totals and per lane.
#define FERRY_ENGINE_FIELDS(X)                                                                  \
  X(iterations)                                                                                 \
  X(busy_iterations)                                                                            \
  X(records_tx)                                                                                 \
  X(records_rx) X(descriptors_tx) X(descriptors_rx) X(frames_tx) X(frames_rx) X(bytes_rx)       \
      X(ack_frames_tx) X(ack_frames_rx) X(retransmits) X(timeouts) X(fast_retransmits)          \
          X(duplicates) X(out_of_window) X(malformed) X(bad_fcs) X(backpressure) X(window_full) \
              X(oversize_records) X(foreign_frames) X(challenges_tx) X(echoes_tx) X(echoes_refused) \
                  X(peer_restarts) X(resyncs) X(link_resets) X(frames_discarded)
// Transport counters as published (name, field).
#define FERRY_TRANSPORT_FIELDS(X)                                                         \
  X("port_frames_tx", frames_tx)                                                          \
  X("port_frames_rx", frames_rx)                                                          \
  X("port_bytes_tx", bytes_tx)                                                            \
  X("port_bytes_rx", bytes_rx) X("tx_drops", tx_drops) X("rx_dropped", rx_dropped)        \
      X("test_drops", test_drops) X("arp_requests_tx", arp_requests_tx)                   \
          X("arp_replies_tx", arp_replies_tx) X("arp_rx", arp_rx) X("connects", connects) \
              X("disconnects", disconnects) X("ring_full", ring_full)
// What each lane's own dict carries (the 16 KiB reply must hold kMaxLanes of them).
#define FERRY_LANE_ENGINE_FIELDS(X)                                                        \
  X(records_tx)                                                                            \
  X(records_rx)                                                                            \
  X(descriptors_tx)                                                                        \
  X(descriptors_rx) X(frames_tx) X(frames_rx) X(retransmits) X(duplicates) X(backpressure) \
      X(window_full) X(link_resets) X(peer_restarts) X(malformed) X(bad_fcs)
#define FERRY_LANE_TRANSPORT_FIELDS(X) \
  X("port_frames_tx", frames_tx)       \
  X("port_frames_rx", frames_rx) X("tx_drops", tx_drops) X("ring_full", ring_full)

int cmd_info(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  if (g_lanes.empty()) return 0;
  rte_tel_data_add_dict_string(d, "role", g_role);
  auto &t = g_lanes[0]->transport();
  rte_tel_data_add_dict_string(d, "transport", std::string(t.name()).c_str());
  rte_tel_data_add_dict_u64(d, "lanes", g_lanes.size());
  rte_tel_data_add_dict_u64(d, "stream_id", g_lanes[0]->stream_id());
  rte_tel_data_add_dict_u64(d, "max_frame", t.max_frame());
  uint64_t up = 1, in_flight = 0;
  for (Engine *e : g_lanes) {
    up &= e->transport().link_up() ? 1 : 0;
    in_flight += e->in_flight();
  }
  rte_tel_data_add_dict_u64(d, "link_up", up);
  rte_tel_data_add_dict_u64(d, "in_flight", in_flight);
  return 0;
}

int cmd_stats(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  if (g_lanes.empty()) return 0;
    // Totals first: readers that look for the first "name": value find them.
#define FERRY_X(f)                                         \
  {                                                        \
    uint64_t v = 0;                                        \
    for (Engine * e : g_lanes) v += e->counters().f.get(); \
    rte_tel_data_add_dict_u64(d, #f, v);                   \
  }
  FERRY_ENGINE_FIELDS(FERRY_X)
#undef FERRY_X
#define FERRY_X(name, f)                                               \
  {                                                                    \
    uint64_t v = g_port ? g_port->f.get() : 0;                         \
    for (Engine * e : g_lanes) v += e->transport().counters().f.get(); \
    rte_tel_data_add_dict_u64(d, name, v);                             \
  }
  FERRY_TRANSPORT_FIELDS(FERRY_X)
#undef FERRY_X
  rte_tel_data_add_dict_u64(d, "lanes", g_lanes.size());
  for (size_t i = 0; i < g_lanes.size(); ++i) {
    rte_tel_data *c = rte_tel_data_alloc();
    if (!c) break;
    rte_tel_data_start_dict(c);
    const EngineCounters &ec = g_lanes[i]->counters();
    const TransportCounters &tc = g_lanes[i]->transport().counters();
#define FERRY_X(f) rte_tel_data_add_dict_u64(c, #f, ec.f.get());
    FERRY_LANE_ENGINE_FIELDS(FERRY_X)
#undef FERRY_X
#define FERRY_X(name, f) rte_tel_data_add_dict_u64(c, name, tc.f.get());
    FERRY_LANE_TRANSPORT_FIELDS(FERRY_X)
#undef FERRY_X
    rte_tel_data_add_dict_u64(c, "in_flight", g_lanes[i]->in_flight());
    rte_tel_data_add_dict_u64(c, "link_up", g_lanes[i]->transport().link_up() ? 1 : 0);
    char name[32];
    std::snprintf(name, sizeof(name), "lane_%zu", i);
    rte_tel_data_add_dict_container(d, name, c, 0);  // the dict takes ownership
  }
  return 0;
}

int cmd_latency(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  if (g_lanes.empty()) return 0;
  using Histogram = proto::LatencyHistogram;
  std::array<uint64_t, Histogram::kBuckets> buckets{};
  uint64_t count = 0, sum = 0;
  for (Engine *e : g_lanes) {
    const Histogram &h = e->counters().rtt;
    for (int i = 0; i < Histogram::kBuckets; ++i) buckets[i] += h.bucket(i);
    count += h.count();
    sum += h.sum_ns();
  }
  uint64_t total = 0;
  for (uint64_t b : buckets) total += b;
  auto quantile = [&](double q) { return Histogram::quantile_upper_ns(buckets, total, q); };
  rte_tel_data_add_dict_u64(d, "count", count);
  rte_tel_data_add_dict_u64(d, "sum_ns", sum);
  rte_tel_data_add_dict_u64(d, "mean_ns", count ? sum / count : 0);
  rte_tel_data_add_dict_u64(d, "p50_upper_ns", quantile(0.5));
  rte_tel_data_add_dict_u64(d, "p99_upper_ns", quantile(0.99));
  rte_tel_data_add_dict_u64(d, "p999_upper_ns", quantile(0.999));
  for (int i = 0; i < Histogram::kBuckets; ++i) {
    if (!buckets[i]) continue;
    char name[32];
    std::snprintf(name, sizeof(name), "lt_%llu_ns",
                  static_cast<unsigned long long>(Histogram::upper_ns(i)));
    rte_tel_data_add_dict_u64(d, name, buckets[i]);
  }
  return 0;
}

int cmd_channels(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  for (size_t lane = 0; lane < g_lanes.size(); ++lane) {
    const ChannelCounters &ch = g_lanes[lane]->channels();
    const int n = ch.used.load(std::memory_order_acquire);
    for (int i = 0; i < n; ++i) {
      const auto &e = ch.entries[i];
      rte_tel_data *c = rte_tel_data_alloc();
      if (!c) return 0;
      rte_tel_data_start_dict(c);
      rte_tel_data_add_dict_u64(c, "records_tx", e.records_tx.get());
      rte_tel_data_add_dict_u64(c, "records_rx", e.records_rx.get());
      rte_tel_data_add_dict_u64(c, "bytes_tx", e.bytes_tx.get());
      rte_tel_data_add_dict_u64(c, "bytes_rx", e.bytes_rx.get());
      rte_tel_data_add_dict_u64(c, "lane", lane);
      char name[32];
      std::snprintf(name, sizeof(name), "channel_%u", e.channel.load(std::memory_order_relaxed));
      rte_tel_data_add_dict_container(d, name, c, 0);  // the dict takes ownership
    }
  }
  return 0;
}

int cmd_app(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  if (g_lanes.empty()) return 0;
  // Every lane's handler is of the same kind: sum the values of equal names.
  std::vector<std::pair<const char *, uint64_t>> sums;
  for (Engine *e : g_lanes) {
    const int n = e->app_stats_used();
    for (int i = 0; i < n; ++i) {
      const char *name = e->app_stats()[i].name;
      const uint64_t v = e->app_stats()[i].value.get();
      bool found = false;
      for (auto &[k, s] : sums) {
        if (k == name || std::string_view(k) == name) {
          s += v;
          found = true;
          break;
        }
      }
      if (!found) sums.emplace_back(name, v);
    }
  }
  for (const auto &[k, v] : sums) rte_tel_data_add_dict_u64(d, k, v);
  return 0;
}

void register_commands() {
  if (g_registered) return;
  g_registered = true;
  rte_telemetry_register_cmd("/ferry/info", cmd_info,
                             "ferry engine: role, transport, lanes, stream id");
  rte_telemetry_register_cmd("/ferry/stats", cmd_stats,
                             "ferry engine and port counters: totals, then per lane");
  rte_telemetry_register_cmd("/ferry/latency", cmd_latency,
                             "ferry frame round trip histogram (quarter-octave ns buckets)");
  rte_telemetry_register_cmd("/ferry/channels", cmd_channels,
                             "ferry records and bytes per channel");
  rte_telemetry_register_cmd("/ferry/app", cmd_app,
                             "ferry relay or device node counters (auth failures, replays, ...)");
}

}  // namespace

void telemetry_publish(std::span<const Engine *const> lanes, const TransportCounters *port,
                       const char *role) {
  std::lock_guard lk(g_mu);
  g_lanes.clear();
  for (const Engine *e : lanes)
    if (e) g_lanes.push_back(const_cast<Engine *>(e));
  g_port = g_lanes.empty() ? nullptr : port;
  g_role = role ? role : "";
  if (!g_lanes.empty()) register_commands();
}

void telemetry_publish(const Engine *engine, const char *role) {
  const Engine *one[1] = {engine};
  telemetry_publish(std::span<const Engine *const>(one, engine ? 1 : 0), nullptr, role);
}

}  // namespace ferry::engine
