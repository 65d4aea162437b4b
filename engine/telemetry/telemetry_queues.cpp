#include "ferry/engine/telemetry_queues.h"

#include <rte_telemetry.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace ferry::engine {

void LatencySnapshot::assign(const proto::LatencyHistogram &h) {
  for (int i = 0; i < proto::LatencyHistogram::kBuckets; ++i) buckets[i] = h.bucket(i);
  count = h.count();
  sum_ns = h.sum_ns();
}

QueueTable::QueueTable(std::span<const QueueColumn> columns, size_t max_rows, const char *row_scope)
    : columns_(columns.begin(), columns.end()),
      capacity_(max_rows),
      row_scope_(row_scope),
      words_(new std::atomic<uint64_t>[max_rows * kWords]) {
  if (columns.size() > static_cast<size_t>(QueueRow::kMaxColumns))
    throw std::invalid_argument("queue table: too many columns");
  for (size_t i = 0; i < max_rows * kWords; ++i) words_[i].store(0, std::memory_order_relaxed);
}

void QueueTable::publish(std::span<const QueueRow> rows, uint64_t not_kept) {
  const size_t n = std::min(rows.size(), capacity_);
  const uint64_t s = seq_.load(std::memory_order_relaxed);
  seq_.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  constexpr auto rx = std::memory_order_relaxed;
  for (size_t r = 0; r < n; ++r) {
    const QueueRow &row = rows[r];
    std::atomic<uint64_t> *w = &words_[r * kWords];
    w[0].store(row.channel, rx);
    w[1].store(row.session, rx);
    w[2].store(row.device, rx);
    w[3].store(static_cast<uint64_t>(static_cast<int64_t>(row.queue)), rx);
    w += kHead;
    for (size_t c = 0; c < columns_.size(); ++c) w[c].store(row.values[c], rx);
    w += QueueRow::kMaxColumns;
    w[0].store(row.latency.count, rx);
    w[1].store(row.latency.sum_ns, rx);
    w += 2;
    for (int b = 0; b < proto::LatencyHistogram::kBuckets; ++b)
      w[b].store(row.latency.buckets[b], rx);
  }
  rows_.store(n, rx);
  dropped_.store(rows.size() - n + not_kept, rx);
  seq_.store(s + 2, std::memory_order_release);
}

bool QueueTable::read(std::vector<QueueRow> &out, uint64_t *dropped) const {
  constexpr auto rx = std::memory_order_relaxed;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const uint64_t s1 = seq_.load(std::memory_order_acquire);
    if (s1 & 1) {
      std::this_thread::yield();
      continue;
    }
    const size_t n = std::min<size_t>(rows_.load(rx), capacity_);
    out.resize(n);
    for (size_t r = 0; r < n; ++r) {
      QueueRow &row = out[r];
      const std::atomic<uint64_t> *w = &words_[r * kWords];
      row.channel = static_cast<uint32_t>(w[0].load(rx));
      row.session = static_cast<uint32_t>(w[1].load(rx));
      row.device = static_cast<uint32_t>(w[2].load(rx));
      row.queue = static_cast<int32_t>(static_cast<int64_t>(w[3].load(rx)));
      w += kHead;
      for (size_t c = 0; c < columns_.size(); ++c) row.values[c] = w[c].load(rx);
      w += QueueRow::kMaxColumns;
      row.latency.count = w[0].load(rx);
      row.latency.sum_ns = w[1].load(rx);
      w += 2;
      for (int b = 0; b < proto::LatencyHistogram::kBuckets; ++b)
        row.latency.buckets[b] = w[b].load(rx);
    }
    const uint64_t d = dropped_.load(rx);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq_.load(rx) == s1) {
      if (dropped) *dropped = d;
      return true;
    }
  }
  return false;
}

namespace {

struct Entry {
  const QueueSource *source;
  uint32_t id;  // stable while registered: the s<id> of its rows
};

std::mutex g_mu;
std::vector<Entry> g_sources;
uint32_t g_next_id = 0;
bool g_registered = false;

void put_row(rte_tel_data *d, const Entry &e, const QueueRow &r) {
  rte_tel_data *c = rte_tel_data_alloc();
  if (!c) return;
  rte_tel_data_start_dict(c);
  rte_tel_data_add_dict_u64(c, "source", e.id);
  rte_tel_data_add_dict_string(c, "kind", e.source->queue_source_kind());
  rte_tel_data_add_dict_u64(c, "channel", r.channel);
  const QueueTable &t = e.source->queue_table();
  const bool sessions = std::string_view(t.row_scope()) == "session";
  rte_tel_data_add_dict_string(c, "scope", r.queue >= 0 ? "queue" : t.row_scope());
  if (r.queue >= 0) rte_tel_data_add_dict_u64(c, "queue", static_cast<uint64_t>(r.queue));
  if (sessions) {
    rte_tel_data_add_dict_u64(c, "session", r.session);
    rte_tel_data_add_dict_u64(c, "device", r.device);
  }
  const auto cols = t.columns();
  for (size_t i = 0; i < cols.size(); ++i)
    if (cols[i].per_queue == (r.queue >= 0))
      rte_tel_data_add_dict_u64(c, cols[i].name, r.values[i]);
  if (r.queue >= 0) {
    const LatencySnapshot &l = r.latency;
    rte_tel_data_add_dict_u64(c, "latency_count", l.count);
    rte_tel_data_add_dict_u64(c, "latency_mean_ns", l.count ? l.sum_ns / l.count : 0);
    rte_tel_data_add_dict_u64(c, "latency_p50_ns", l.quantile_upper_ns(0.5));
    rte_tel_data_add_dict_u64(c, "latency_p99_ns", l.quantile_upper_ns(0.99));
    rte_tel_data_add_dict_u64(c, "latency_p999_ns", l.quantile_upper_ns(0.999));
  }
  char name[64];
  if (r.queue >= 0)
    std::snprintf(name, sizeof(name), "s%u_ch%u_q%d", e.id, r.channel, r.queue);
  else
    std::snprintf(name, sizeof(name), "s%u_ch%u_all", e.id, r.channel);
  rte_tel_data_add_dict_container(d, name, c, 0);  // the dict takes ownership
}

// Parses the optional channel parameter; false when it is present but not a number.
bool parse_channel(const char *params, bool &filter, uint32_t &channel) {
  filter = false;
  if (params == nullptr || *params == '\0') return true;
  char *end = nullptr;
  const unsigned long v = std::strtoul(params, &end, 0);
  if (end == params || *end != '\0' || v > UINT32_MAX) return false;
  filter = true;
  channel = static_cast<uint32_t>(v);
  return true;
}

int cmd_queues(const char *, const char *params, rte_tel_data *d) {
  bool filter = false;
  uint32_t want = 0;
  if (!parse_channel(params, filter, want)) return -EINVAL;
  std::lock_guard lk(g_mu);
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "sources", g_sources.size());
  std::set<uint32_t> channels;
  uint64_t total = 0, shown = 0, unread = 0, dropped = 0;
  std::vector<QueueRow> rows;
  std::vector<std::pair<const Entry *, QueueRow>> picked;
  for (const Entry &e : g_sources) {
    uint64_t lost = 0;
    if (!e.source->queue_table().read(rows, &lost)) {
      ++unread;  // a source republishing faster than we can copy: skipped this time
      continue;
    }
    dropped += lost;
    for (const QueueRow &r : rows) {
      channels.insert(r.channel);
      if (filter && r.channel != want) continue;
      ++total;
      if (picked.size() < static_cast<size_t>(kMaxRowsPerReply)) picked.emplace_back(&e, r);
    }
  }
  shown = picked.size();
  rte_tel_data_add_dict_u64(d, "rows", total);
  rte_tel_data_add_dict_u64(d, "shown", shown);
  rte_tel_data_add_dict_u64(d, "truncated", total > shown ? 1 : 0);
  rte_tel_data_add_dict_u64(d, "rows_dropped", dropped);
  if (unread) rte_tel_data_add_dict_u64(d, "sources_unread", unread);
  if (rte_tel_data *ch = rte_tel_data_alloc()) {
    rte_tel_data_start_array(ch, RTE_TEL_U64_VAL);
    for (uint32_t c : channels) rte_tel_data_add_array_u64(ch, c);
    rte_tel_data_add_dict_container(d, "channels", ch, 0);
  }
  for (const auto &[e, r] : picked) put_row(d, *e, r);
  return 0;
}

}  // namespace

void queues_add_source(const QueueSource *s) {
  std::lock_guard lk(g_mu);
  g_sources.push_back({s, g_next_id++});
  if (g_registered) return;
  g_registered = true;
  rte_telemetry_register_cmd("/ferry/queues", cmd_queues,
                             "ferry counters per guest queue and session; param: channel");
}

void queues_remove_source(const QueueSource *s) {
  std::lock_guard lk(g_mu);
  std::erase_if(g_sources, [s](const Entry &e) { return e.source == s; });
}

size_t queues_source_count() {
  std::lock_guard lk(g_mu);
  return g_sources.size();
}

}  // namespace ferry::engine
