#include "ferry/engine/lanes.h"

#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#include "ferry/engine/engine.h"
#include "ferry/proto/idle.h"
#include "transport/dpdk_lanes.h"

namespace ferry::engine {

LaneTransports::LaneTransports() = default;
LaneTransports::LaneTransports(LaneTransports &&) noexcept = default;
LaneTransports::~LaneTransports() {
  lanes.clear();  // ring transports before the port that owns their rings
  io.reset();
}

const TransportCounters *LaneTransports::port_counters() const {
  return io ? &io->counters() : nullptr;
}

void LaneTransports::maintain_port(uint64_t now_ns) {
  if (io) io->maintain(now_ns);
}

LaneTransports make_lane_transports(const TransportOptions &opt, Role role, uint32_t lanes) {
  LaneTransports out;
  if (lanes <= 1) {
    out.lanes.push_back(make_transport(opt, role));
    return out;
  }
  if (opt.kind == TransportOptions::Kind::kDpdk) {
    out.io = std::make_unique<DpdkLaneIo>(opt, lanes);
    for (uint32_t i = 0; i < lanes; ++i) out.lanes.push_back(out.io->lane(i));
    return out;
  }
  for (uint32_t i = 0; i < lanes; ++i) {
    TransportOptions c = opt;  // lane i: port + i on both ends (0 stays ephemeral)
    if (c.local.port) c.local.port = static_cast<uint16_t>(c.local.port + i);
    if (c.peer.port) c.peer.port = static_cast<uint16_t>(c.peer.port + i);
    out.lanes.push_back(make_transport(c, role));
  }
  return out;
}

std::vector<unsigned> lane_lcores(uint32_t lanes, bool split_io) {
  std::vector<unsigned> workers;
  unsigned l;
  RTE_LCORE_FOREACH_WORKER(l) workers.push_back(l);
  const size_t need = split_io ? lanes : lanes - 1;
  if (workers.size() < need)
    throw std::runtime_error(std::to_string(lanes) + " lanes need " + std::to_string(need) +
                             " worker lcores besides the main one; the EAL has " +
                             std::to_string(workers.size()));
  workers.resize(need);
  return workers;
}

namespace {

struct LaneJob {
  Engine *engine = nullptr;
  const std::atomic<bool> *stop = nullptr;
  std::atomic<bool> done{false};
};

int lane_main(void *arg) {
  auto *job = static_cast<LaneJob *>(arg);
  job->engine->run(*job->stop);
  job->done.store(true, std::memory_order_release);
  return 0;
}

}  // namespace

void run_lanes(std::span<Engine *const> engines, DpdkLaneIo *io, const IdlePolicy &idle,
               uint32_t housekeeping_every, std::atomic<bool> &stop) {
  if (engines.size() == 1 && io == nullptr) {
    engines[0]->run(stop);
    return;
  }
  const uint32_t n = static_cast<uint32_t>(engines.size());
  const std::vector<unsigned> lcores = lane_lcores(n, io != nullptr);
  const size_t first = io ? 0 : 1;  // lanes before it run on the main lcore
  std::vector<LaneJob> jobs(n);
  std::vector<unsigned> launched;
  bool failed = false;
  for (size_t i = first; i < n; ++i) {
    jobs[i].engine = engines[i];
    jobs[i].stop = &stop;
    const unsigned lc = lcores[i - first];
    if (rte_eal_remote_launch(lane_main, &jobs[i], lc) != 0) {
      std::fprintf(stderr, "ferry: cannot launch lane %zu on lcore %u: stopping\n", i, lc);
      failed = true;
      stop.store(true);  // the lanes already started stop (and drain) too
      break;
    }
    launched.push_back(lc);
  }
  if (io) {
    proto::IdlePoller idler(idle);
    uint32_t until_maintain = 0;
    for (;;) {
      if (until_maintain-- == 0) {
        io->maintain(proto::now_ns());
        until_maintain = housekeeping_every;
      }
      const int work = io->poll();
      // The port keeps moving frames while the lanes drain after `stop`.
      bool all_done = true;
      for (size_t i = first; i < first + launched.size() && all_done; ++i)
        all_done = jobs[i].done.load(std::memory_order_acquire);
      if (all_done) break;
      idler.after_poll(work);
    }
  } else {
    engines[0]->run(stop);
  }
  for (unsigned lc : launched) rte_eal_wait_lcore(lc);
  if (failed) throw std::runtime_error("a lane could not be launched on its lcore");
}

}  // namespace ferry::engine
