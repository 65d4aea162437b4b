#include "ferry/engine/telemetry.h"

#include <rte_telemetry.h>

#include <cstdio>
#include <mutex>
#include <string>

#include "ferry/engine/engine.h"

namespace ferry::engine {

namespace {

// The telemetry thread reads through this pointer; the mutex only orders publish/withdraw
// against a command in progress (never taken on the polling path).
std::mutex g_mu;
const Engine *g_engine = nullptr;
const char *g_role = "";
bool g_registered = false;

#define PUT(d, c, field) rte_tel_data_add_dict_u64(d, #field, (c).field.get())

int cmd_info(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  if (!g_engine) return 0;
  rte_tel_data_add_dict_string(d, "role", g_role);
  auto &t = const_cast<Engine *>(g_engine)->transport();
  rte_tel_data_add_dict_string(d, "transport", std::string(t.name()).c_str());
  rte_tel_data_add_dict_u64(d, "epoch", g_engine->epoch());
  rte_tel_data_add_dict_u64(d, "max_frame", t.max_frame());
  rte_tel_data_add_dict_u64(d, "link_up", t.link_up() ? 1 : 0);
  rte_tel_data_add_dict_u64(d, "in_flight", g_engine->in_flight());
  return 0;
}

int cmd_stats(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  if (!g_engine) return 0;
  const EngineCounters &c = g_engine->counters();
  PUT(d, c, iterations);
  PUT(d, c, busy_iterations);
  PUT(d, c, records_tx);
  PUT(d, c, records_rx);
  PUT(d, c, descriptors_tx);
  PUT(d, c, descriptors_rx);
  PUT(d, c, frames_tx);
  PUT(d, c, frames_rx);
  PUT(d, c, bytes_rx);
  PUT(d, c, ack_frames_tx);
  PUT(d, c, ack_frames_rx);
  PUT(d, c, retransmits);
  PUT(d, c, timeouts);
  PUT(d, c, fast_retransmits);
  PUT(d, c, duplicates);
  PUT(d, c, out_of_window);
  PUT(d, c, malformed);
  PUT(d, c, bad_fcs);
  PUT(d, c, backpressure);
  PUT(d, c, window_full);
  PUT(d, c, oversize_records);
  PUT(d, c, peer_restarts);
  PUT(d, c, link_resets);
  PUT(d, c, frames_discarded);
  PUT(d, c, frames_resent);
  const TransportCounters &t = const_cast<Engine *>(g_engine)->transport().counters();
  rte_tel_data_add_dict_u64(d, "port_frames_tx", t.frames_tx.get());
  rte_tel_data_add_dict_u64(d, "port_frames_rx", t.frames_rx.get());
  rte_tel_data_add_dict_u64(d, "port_bytes_tx", t.bytes_tx.get());
  rte_tel_data_add_dict_u64(d, "port_bytes_rx", t.bytes_rx.get());
  rte_tel_data_add_dict_u64(d, "tx_drops", t.tx_drops.get());
  rte_tel_data_add_dict_u64(d, "rx_dropped", t.rx_dropped.get());
  rte_tel_data_add_dict_u64(d, "test_drops", t.test_drops.get());
  rte_tel_data_add_dict_u64(d, "arp_requests_tx", t.arp_requests_tx.get());
  rte_tel_data_add_dict_u64(d, "arp_replies_tx", t.arp_replies_tx.get());
  rte_tel_data_add_dict_u64(d, "arp_rx", t.arp_rx.get());
  rte_tel_data_add_dict_u64(d, "connects", t.connects.get());
  rte_tel_data_add_dict_u64(d, "disconnects", t.disconnects.get());
  return 0;
}

int cmd_latency(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  if (!g_engine) return 0;
  const LatencyHistogram &h = g_engine->counters().rtt;
  rte_tel_data_add_dict_u64(d, "count", h.count());
  rte_tel_data_add_dict_u64(d, "mean_ns", h.count() ? h.sum_ns() / h.count() : 0);
  rte_tel_data_add_dict_u64(d, "p50_upper_ns", h.quantile_upper_ns(0.5));
  rte_tel_data_add_dict_u64(d, "p99_upper_ns", h.quantile_upper_ns(0.99));
  rte_tel_data_add_dict_u64(d, "p999_upper_ns", h.quantile_upper_ns(0.999));
  for (int i = 0; i < LatencyHistogram::kBuckets; ++i) {
    if (!h.bucket(i)) continue;
    char name[32];
    std::snprintf(name, sizeof(name), "lt_%llu_ns", 2ull << i);
    rte_tel_data_add_dict_u64(d, name, h.bucket(i));
  }
  return 0;
}

int cmd_channels(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  if (!g_engine) return 0;
  const ChannelCounters &ch = g_engine->channels();
  const int n = ch.used.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    const auto &e = ch.entries[i];
    rte_tel_data *c = rte_tel_data_alloc();
    if (!c) break;
    rte_tel_data_start_dict(c);
    rte_tel_data_add_dict_u64(c, "records_tx", e.records_tx.get());
    rte_tel_data_add_dict_u64(c, "records_rx", e.records_rx.get());
    rte_tel_data_add_dict_u64(c, "bytes_tx", e.bytes_tx.get());
    rte_tel_data_add_dict_u64(c, "bytes_rx", e.bytes_rx.get());
    char name[32];
    std::snprintf(name, sizeof(name), "channel_%u", e.channel.load(std::memory_order_relaxed));
    rte_tel_data_add_dict_container(d, name, c, 0);  // the dict takes ownership
  }
  return 0;
}

int cmd_app(const char *, const char *, rte_tel_data *d) {
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  if (!g_engine) return 0;
  const int n = g_engine->app_stats_used();
  for (int i = 0; i < n; ++i)
    rte_tel_data_add_dict_u64(d, g_engine->app_stats()[i].name,
                              g_engine->app_stats()[i].value.get());
  return 0;
}

#undef PUT

}  // namespace

void telemetry_publish(const Engine *engine, const char *role) {
  std::lock_guard lk(g_mu);
  g_engine = engine;
  g_role = role ? role : "";
  if (g_registered || engine == nullptr) return;
  g_registered = true;
  rte_telemetry_register_cmd("/ferry/info", cmd_info, "ferry engine: role, transport, epoch");
  rte_telemetry_register_cmd("/ferry/stats", cmd_stats, "ferry engine and port counters");
  rte_telemetry_register_cmd("/ferry/latency", cmd_latency,
                             "ferry frame round trip histogram (log2 ns buckets)");
  rte_telemetry_register_cmd("/ferry/channels", cmd_channels,
                             "ferry records and bytes per channel");
  rte_telemetry_register_cmd("/ferry/app", cmd_app,
                             "ferry relay or device node counters (auth failures, replays, ...)");
}

}  // namespace ferry::engine
