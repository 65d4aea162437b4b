#!/usr/bin/env python3
"""Checks two `ferry stats --json` outputs (stats_test.sh): every link, queue and session row
carries the counter names, and guest channel 1's queue Q grew by at least READS descriptors
(and completed reads) in the data plane, and holds at least READS accepted descriptors in
the device node's live session.

  stats_check.py BEFORE.json AFTER.json QUEUE READS [dataplane|device-node ...]
"""
import json
import sys

NAMES = ("descriptors", "frames_tx", "frames_rx", "retransmits", "auth_failures",
         "replays_dropped", "tx_drops")


def queue_row(svc, queue):
    rows = [r for r in svc.get("queues", [])
            if r.get("channel") == 1 and r.get("scope") == "queue" and r.get("queue") == queue]
    return rows[0] if len(rows) == 1 else None


def main():
    before, after = (json.load(open(p)) for p in sys.argv[1:3])
    queue, reads = int(sys.argv[3]), int(sys.argv[4])
    services = sys.argv[5:] or ["dataplane", "device-node"]
    bad = []
    for name in ("dataplane", "device-node"):
        svc = after.get(name)
        if svc is None:
            bad.append(f"{name}: missing from the output")
            continue
        for row in svc["links"] + svc["queues"] + [svc["totals"]]:
            missing = [k for k in NAMES if k not in row]
            if missing:
                bad.append(f"{name}: row {row.get('row') or row.get('scope')} lacks {missing}")
    if "dataplane" in services and "dataplane" in after:
        a = queue_row(after["dataplane"], queue)
        b = queue_row(before.get("dataplane", {}), queue) or {"descriptors": 0, "counters": {}}
        if a is None:
            bad.append(f"dataplane: no row for channel 1 queue {queue}")
        else:
            # The kind is sealed: the relay counts descriptors each way, not reads.
            grown = a["descriptors"] - b["descriptors"]
            back = a["counters"]["to_guest"] - b["counters"].get("to_guest", 0)
            if grown < 2 * reads or back < reads:
                bad.append(f"dataplane queue {queue}: descriptors +{grown}, to the guest +{back}; "
                           f"want >= {2 * reads} and >= {reads}")
            if a["frames_tx"] is not None or a["auth_failures"] is not None:
                bad.append("dataplane: a queue row claims the link's frames or an auth count")
    if "device-node" in services and "device-node" in after:
        a = queue_row(after["device-node"], queue)
        if a is None:
            bad.append(f"device-node: no live session row for channel 1 queue {queue}")
        elif a["descriptors"] < reads or a["counters"]["accepted"] < reads:
            bad.append(f"device-node queue {queue}: descriptors {a['descriptors']}, accepted "
                       f"{a['counters']['accepted']}; want >= {reads}")
        elif a["auth_failures"] != 0 or a["replays_dropped"] != 0:
            bad.append(f"device-node queue {queue}: auth failures {a['auth_failures']}, "
                       f"replays {a['replays_dropped']} in a clean run")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
