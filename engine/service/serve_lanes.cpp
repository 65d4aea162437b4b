#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "ferry/engine/lanes.h"
#include "ferry/engine/telemetry.h"
#include "service/sd_notify.h"
#include "service/serve.h"
#include "transport/fault_transport.h"

namespace ferry::services {

void serve_lanes(const LaneService &svc, std::span<engine::RecordHandler *const> handlers,
                 const engine::EngineOptions &opt, const TestDrops &drops) {
  const uint32_t n = static_cast<uint32_t>(handlers.size());
  engine::LaneTransports lt = engine::make_lane_transports(svc.transport, svc.role, n);
  std::vector<std::unique_ptr<engine::Engine>> owned;
  std::vector<engine::Engine *> lanes;  // the same engines, for telemetry and run_lanes
  for (uint32_t l = 0; l < n; ++l) {
    auto transport = engine::with_faults(std::move(lt.lanes[l]), svc.faults, l);
    if (drops.any())
      transport->set_test_drops(drops.next, drops.every, drops.permille, drops.seed + l);
    owned.push_back(std::make_unique<engine::Engine>(std::move(transport), *handlers[l], opt));
    lanes.push_back(owned.back().get());
  }
  engine::telemetry_publish(lanes, lt.port_counters(), svc.telemetry_role);
  lt.maintain_port(proto::now_ns());                                 // ARP right away
  for (engine::Engine *e : lanes) e->housekeeping(proto::now_ns());  // connect
  write_ready_file(svc.ready_file);
  char status[256];
  std::snprintf(status, sizeof status, "serving %s over %s on %u lane(s) (stream %08x)",
                svc.serving.c_str(), std::string(lanes[0]->transport().name()).c_str(), n,
                lanes[0]->stream_id());
  std::fprintf(stderr, "%s: %s\n", svc.name, status);
  // Type=notify: everything a guest or peer needs (the data plane's regions, the port, the
  // telemetry socket) exists by now.
  notify_systemd(std::string("READY=1\nSTATUS=") + status);
  engine::run_lanes(lanes, lt.io.get(), svc.idle, svc.housekeeping_every, g_stop);
  notify_systemd("STOPPING=1");
  engine::telemetry_publish(nullptr, nullptr);
  remove_ready_file(svc.ready_file);
  uint64_t tx = 0, rx = 0, re = 0;
  for (engine::Engine *e : lanes) {
    tx += e->counters().frames_tx.get();
    rx += e->counters().frames_rx.get();
    re += e->counters().retransmits.get();
  }
  std::fprintf(stderr, "%s: stopped (frames tx %llu rx %llu, retransmits %llu)\n", svc.name,
               static_cast<unsigned long long>(tx), static_cast<unsigned long long>(rx),
               static_cast<unsigned long long>(re));
}  // engines first, then the port

}  // namespace ferry::services
