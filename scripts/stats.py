#!/usr/bin/env python3
"""ferry stats: reads both lab services' counters through DPDK telemetry and prints a table
(or --json). Each service answers /ferry/info, /ferry/stats, /ferry/app, /ferry/channels and
/ferry/latency on /var/run/dpdk/<file-prefix>/dpdk_telemetry.v2.

  ferry stats [--json] [--dataplane PREFIX] [--device-node PREFIX]
"""
import argparse
import json
import socket
import sys

RUN_DIR = "/var/run/dpdk"


def query(prefix, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(2)
    try:
        s.connect(f"{RUN_DIR}/{prefix}/dpdk_telemetry.v2")
        s.recv(65536)  # the greeting: version, pid, max output length
        s.send(cmd.encode())
        return json.loads(s.recv(1 << 20).decode()).get(cmd) or {}
    finally:
        s.close()


def service_counters(prefix):
    info = query(prefix, "/ferry/info")
    stats = query(prefix, "/ferry/stats")
    app = query(prefix, "/ferry/app")
    lat = query(prefix, "/ferry/latency")
    chans = query(prefix, "/ferry/channels")
    role = info.get("role", "?")
    if role == "dataplane":
        descriptors = app.get("sq_descriptors", 0) + app.get("cq_descriptors", 0)
        auth, replays = 0, 0  # the data plane holds no keys: it cannot authenticate anything
    else:
        descriptors = app.get("descriptors", 0)
        auth = app.get("auth_failures", 0) + app.get("dma_chunk_auth_failures", 0)
        replays = app.get("replays_dropped", 0)
    out = {
        "role": role,
        "transport": info.get("transport", "?"),
        "descriptors": descriptors,
        "frames_tx": stats.get("frames_tx", 0),
        "frames_rx": stats.get("frames_rx", 0),
        "retransmits": stats.get("retransmits", 0),
        "auth_failures": auth,
        "replays_dropped": replays,
        "tx_drops": stats.get("tx_drops", 0) + app.get("tx_dropped", 0),
        "latency_p50_ns": lat.get("p50_upper_ns", 0),
        "latency_p99_ns": lat.get("p99_upper_ns", 0),
        "channels": {},
    }
    for name, c in sorted(chans.items()):
        out["channels"][name] = {k: c.get(k, 0) for k in ("records_tx", "records_rx", "bytes_tx", "bytes_rx")}
    return out


def main():
    ap = argparse.ArgumentParser(description="counters of the running ferry services")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--dataplane", default="ferry-lab-dp", help="EAL file prefix of ferry-dataplane")
    ap.add_argument("--device-node", default="ferry-lab-dn", help="EAL file prefix of ferry-device-node")
    a = ap.parse_args()
    result = {}
    for name, prefix in (("dataplane", a.dataplane), ("device-node", a.device_node)):
        try:
            result[name] = service_counters(prefix)
        except (OSError, ValueError) as e:
            print(f"ferry stats: {name} (file prefix {prefix}) does not answer: {e}",
                  file=sys.stderr)
    if not result:
        print("ferry stats: no service answered; is the lab up? (./ferry lab status)",
              file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(result, indent=2))
        return 0
    cols = ["descriptors", "frames_tx", "frames_rx", "retransmits", "auth_failures",
            "replays_dropped", "tx_drops", "latency_p50_ns", "latency_p99_ns"]
    print(f"{'service':<13}" + "".join(f"{c:>16}" for c in cols))
    for name, r in result.items():
        print(f"{name:<13}" + "".join(f"{r[c]:>16}" for c in cols))
    print()
    print(f"{'service':<13}{'channel':<12}{'records_tx':>14}{'records_rx':>14}{'bytes_tx':>14}{'bytes_rx':>14}")
    for name, r in result.items():
        for ch, c in r["channels"].items():
            print(f"{name:<13}{ch:<12}" + "".join(f"{c[k]:>14}" for k in ("records_tx", "records_rx", "bytes_tx", "bytes_rx")))
    print("\nlatency: the engine's round-trip histogram (upper bucket bounds, ns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
