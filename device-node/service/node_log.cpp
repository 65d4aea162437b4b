#include "node_log.h"

#include <cinttypes>

#include "ferry/engine/log.h"

namespace ferry::services {

using device::NodeEvent;

void NodeLog::on_event(const device::NodeEventInfo &e) {
  const unsigned lane = lane_, ch = e.channel, dev = e.device_id, guest = e.guest_id;
  switch (e.what) {
    case NodeEvent::kHandshakeRejected:
      FERRY_LOG_LIMITED(Node, WARNING,
                        "lane %u channel %u: handshake rejected: device %u guest %u: %s", lane, ch,
                        dev, guest, e.why);
      break;
    case NodeEvent::kHandshakeMisrouted:
      FERRY_LOG_LIMITED(Node, WARNING,
                        "lane %u channel %u: handshake not answered: device %u guest %u: %s", lane,
                        ch, dev, guest, e.why);
      break;
    case NodeEvent::kSessionsRefused:
      FERRY_LOG_LIMITED(Node, WARNING,
                        "lane %u channel %u: handshake refused: max_sessions reached", lane, ch);
      break;
    case NodeEvent::kSessionStarted:
    case NodeEvent::kSessionReplaced:
      FERRY_LOG_LIMITED(Node, NOTICE, "lane %u channel %u: guest %u attached to device %u%s", lane,
                        ch, guest, dev,
                        e.what == NodeEvent::kSessionReplaced ? " (replaces its session)" : "");
      break;
    case NodeEvent::kSessionIdle:
      FERRY_LOG_LIMITED(Node, NOTICE,
                        "lane %u channel %u: guest %u detached from device %u (idle timeout)", lane,
                        ch, guest, dev);
      break;
    case NodeEvent::kSessionPeerGone:
      FERRY_LOG_LIMITED(Node, NOTICE,
                        "lane %u channel %u: guest %u detached from device %u (data plane gone)",
                        lane, ch, guest, dev);
      break;
    case NodeEvent::kSessionFailed:
      FERRY_LOG_LIMITED(Node, ERR,
                        "lane %u channel %u: guest %u device %u: sequence gap on queue %" PRIu64
                        " not filled: session failed closed",
                        lane, ch, guest, dev, e.addr);
      break;
    case NodeEvent::kDmaTimeout:
      FERRY_LOG_LIMITED(Node, ERR,
                        "lane %u channel %u: guest %u device %u: DMA read of chunk 0x%" PRIx64
                        " timed out",
                        lane, ch, guest, dev, e.addr);
      break;
  }
}

}  // namespace ferry::services
