// /ferry/queues: counters per guest queue (and per session on the device node) through DPDK
// telemetry, fed by every QueueSource registered in the process. A service split into lanes
// has one handler, hence one source, per lane: sources come and go with their handlers.
//
// Threading: a source's polling thread publishes snapshots into its QueueTable (fixed size,
// no lock, no allocation after construction); the telemetry thread copies them out under a
// sequence counter. The registry's mutex is taken only by registration and by the telemetry
// thread, never on a polling path.
//
//   /ferry/queues            every row (up to kMaxRowsPerReply; then "truncated": 1)
//   /ferry/queues,<channel>  the rows of one guest channel
// Reply: "sources", "rows" (in total), "shown", "truncated", "rows_dropped" (rows a source had
// no room for), "channels" (every channel with a row), then one dict per row named
// s<source>_ch<channel>_q<queue> (queue rows) or s<source>_ch<channel>_all (the whole guest region
// or session), each with "source", "kind", "channel", "scope" ("queue", "guest" or "session"),
// "queue", "session" and "device" where they apply, the source's columns for that scope, and for
// queue rows latency_count, latency_mean_ns and latency_p50_ns / _p99_ns / _p999_ns (upper bounds
// of quarter-octave buckets: at most 25% above the true quantile).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ferry/proto/latency_histogram.h"

namespace ferry::engine {

// A counter of a source's rows: its name (a string literal) and the rows it belongs to.
struct QueueColumn {
  const char *name;
  bool per_queue;  // true: queue rows; false: the row of the whole guest region / session
};

struct LatencySnapshot {
  std::array<uint64_t, proto::LatencyHistogram::kBuckets> buckets{};
  uint64_t count = 0, sum_ns = 0;
  void assign(const proto::LatencyHistogram &h);
  uint64_t quantile_upper_ns(double q) const {
    return proto::LatencyHistogram::quantile_upper_ns(buckets, count, q);
  }
};

struct QueueRow {
  static constexpr int kMaxColumns = 24;
  uint32_t channel = 0;
  uint32_t session = 0;  // the device node's session id; 0 where the source has none
  uint32_t device = 0;   // device id; 0 where the source does not know it (the data plane)
  int32_t queue = -1;    // -1: the row of the whole guest region / session
  std::array<uint64_t, kMaxColumns> values{};  // in the order of the source's columns
  LatencySnapshot latency;                     // queue rows
};

// The rows one source publishes. Fixed capacity, allocated once.
class QueueTable {
 public:
  // At most QueueRow::kMaxColumns columns (std::invalid_argument otherwise). `row_scope`
  // names what a row with queue -1 covers: "guest" (a region) or "session" (a literal).
  QueueTable(std::span<const QueueColumn> columns, size_t max_rows, const char *row_scope);
  std::span<const QueueColumn> columns() const { return columns_; }
  const char *row_scope() const { return row_scope_; }
  size_t capacity() const { return capacity_; }

  // Polling thread (one writer): the table now holds rows[0, capacity); rows beyond it, and
  // `not_kept` more the caller had no room for, are counted as dropped. No allocation, no lock.
  void publish(std::span<const QueueRow> rows, uint64_t not_kept = 0);
  // Any other thread: a consistent copy of the last publish. False when publishes kept
  // overlapping the copy (it retries a while first); `out` is then unspecified.
  bool read(std::vector<QueueRow> &out, uint64_t *dropped = nullptr) const;

 private:
  static constexpr size_t kHead = 4;  // channel, session, device, queue
  static constexpr size_t kWords =
      kHead + QueueRow::kMaxColumns + 2 + proto::LatencyHistogram::kBuckets;
  std::vector<QueueColumn> columns_;
  size_t capacity_;
  const char *row_scope_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
  std::atomic<uint64_t> seq_{0};  // odd while a publish is in progress
  std::atomic<uint64_t> rows_{0}, dropped_{0};
};

// What a handler implements to appear under /ferry/queues.
class QueueSource {
 public:
  virtual ~QueueSource() = default;
  // "dataplane" or "device-node" (a string literal).
  virtual const char *queue_source_kind() const = 0;
  // Read from the telemetry thread.
  virtual const QueueTable &queue_table() const = 0;
};

inline constexpr int kMaxRowsPerReply = 24;  // keeps a reply inside DPDK's 16 KiB output

// Adds a source (registers /ferry/queues on first use, before or after the EAL is up) and
// removes it; remove it before it is destroyed (handlers do both in their constructor and
// destructor). Thread-safe.
void queues_add_source(const QueueSource *s);
void queues_remove_source(const QueueSource *s);
size_t queues_source_count();

}  // namespace ferry::engine
