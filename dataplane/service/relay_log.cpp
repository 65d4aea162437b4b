#include "relay_log.h"

#include <cinttypes>

#include "ferry/engine/log.h"

namespace ferry::services {

RelayLog::RelayLog(const dataplane::HostRelay &relay)
    : relay_(relay), attached_(relay.guest_attached()), refused_(refused()) {
  FERRY_LOG(Relay, INFO, "channel %u: serving region %s (%u queues)%s", unsigned{relay_.channel()},
            relay_.path().c_str(), unsigned{relay_.n_queues()},
            attached_ ? ", guest attached" : "");
}

uint64_t RelayLog::refused() const {
  const dataplane::RelayCounters &c = relay_.counters();
  return c.sq_bad_index + c.sq_bad_queue + c.cq_bad_index + c.bad_records + c.dma_write_bad +
         c.dma_read_failed;
}

void RelayLog::housekeeping() {
  const bool attached = relay_.guest_attached();
  if (attached != attached_) {
    attached_ = attached;
    FERRY_LOG_LIMITED(Relay, NOTICE, "channel %u: guest %s region %s", unsigned{relay_.channel()},
                      attached ? "attached to" : "detached from", relay_.path().c_str());
  }
  const uint64_t now = refused();
  if (now != refused_) {
    const dataplane::RelayCounters &c = relay_.counters();
    FERRY_LOG_LIMITED(Relay, WARNING,
                      "channel %u: %" PRIu64
                      " refused since the last look (totals: sq_bad_index %" PRIu64
                      ", sq_bad_queue %" PRIu64 ", cq_bad_index %" PRIu64 ", bad_records %" PRIu64
                      ", dma_write_bad %" PRIu64 ", dma_read_failed %" PRIu64 ")",
                      unsigned{relay_.channel()}, now - refused_, c.sq_bad_index, c.sq_bad_queue,
                      c.cq_bad_index, c.bad_records, c.dma_write_bad, c.dma_read_failed);
    refused_ = now;
  }
}

}  // namespace ferry::services
