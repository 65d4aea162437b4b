// systemd's readiness protocol (sd_notify(3)), written here rather than linking libsystemd:
// one datagram of "KEY=VALUE" lines to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or
// "@name" for the abstract namespace). Without $NOTIFY_SOCKET (not started by systemd with
// Type=notify, or by a test) it does nothing.
#pragma once

#include <string_view>

namespace ferry::services {

// Sends `state` (e.g. "READY=1\nSTATUS=serving"); true if it was sent, false if there is no
// $NOTIFY_SOCKET or the send failed (a service goes on either way: the ready file and the
// telemetry socket still say it serves).
bool notify_systemd(std::string_view state);

}  // namespace ferry::services
