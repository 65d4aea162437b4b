#!/usr/bin/env python3
"""ferry stats: the running services' counters per link, per guest queue and per session,
read through DPDK telemetry (/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2: /ferry/info,
/ferry/stats, /ferry/latency, /ferry/channels, /ferry/queues, /ferry/app).

  ferry stats [--json] [--dataplane PREFIX] [--device-node PREFIX]

Rows, per service:
  link          the engine and its transport (one row per lane when a service runs several):
                frames, retransmits and TX drops belong here, because every queue shares the
                link's frames; its latency is the frame round trip (send -> cumulative ack,
                datagram transports only)
  chN qQ        guest channel N, queue Q. Data plane: descriptors relayed both ways; latency is
                the host's view of an MMIO read's round trip (taken off the submission ring ->
                its completion written into the completion ring). Device node (per session
                s=ID): descriptors accepted plus sent, authentication failures, replays
                dropped; latency is the node's service time of an MMIO read (arrival at the
                session -> completion sealed and queued), without the network
  chN region    the data plane's whole guest region (DMA chunks served and stored)
  chN session   the device node's whole session: DMA chunk authentication failures, records
                dropped because the session's outbox was full (its TX drops)
Columns: descriptors, frames_tx, frames_rx, retransmits, auth_failures, replays_dropped,
tx_drops, latency p50/p99 (upper bounds of histogram buckets, in microseconds).
  ^  a property of the link, not of one queue: see the link row above it
  -  not known on this side (the data plane holds no keys: it cannot authenticate anything)
     (blank: not counted for a row of that kind, e.g. descriptors on a region row)
--json prints the same rows with these counter names (null for ^ and -): descriptors,
frames_tx, frames_rx, retransmits, auth_failures, replays_dropped, tx_drops, plus
latency_p50_ns, latency_p99_ns and, per queue or session row, every raw counter in "counters".
"""
import argparse
import json
import socket
import sys

RUN_DIR = "/var/run/dpdk"
NAMES = ("descriptors", "frames_tx", "frames_rx", "retransmits", "auth_failures",
         "replays_dropped", "tx_drops")


class Telemetry:
    def __init__(self, prefix):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.settimeout(2)
        self.s.connect(f"{RUN_DIR}/{prefix}/dpdk_telemetry.v2")
        greeting = json.loads(self.s.recv(65536).decode())
        self.max_len = max(int(greeting.get("max_output_len", 16384)), 65536)

    def query(self, cmd):
        self.s.send(cmd.encode())
        reply = json.loads(self.s.recv(self.max_len).decode())
        return reply.get(cmd.split(",")[0]) or reply.get(cmd) or {}

    def close(self):
        self.s.close()


def link_row(name, st, lat):
    row = {"row": name,
           "descriptors": st.get("descriptors_tx", 0) + st.get("descriptors_rx", 0),
           "frames_tx": st.get("frames_tx", 0), "frames_rx": st.get("frames_rx", 0),
           "retransmits": st.get("retransmits", 0),
           "auth_failures": None, "replays_dropped": None,  # sealed payloads: not the link's
           "tx_drops": st.get("tx_drops", 0)}
    if lat is not None:
        row["latency_p50_ns"] = lat.get("p50_upper_ns", 0)
        row["latency_p99_ns"] = lat.get("p99_upper_ns", 0)
    return row


def queue_rows(t):
    """Every /ferry/queues row; a truncated reply is completed channel by channel."""
    first = t.query("/ferry/queues")
    replies = [first]
    if first.get("truncated"):
        replies = [t.query(f"/ferry/queues,{c}") for c in first.get("channels", [])]
    rows = []
    for reply in replies:
        rows += [v for v in reply.values() if isinstance(v, dict) and "scope" in v]
    if len(replies) > 1 and any(r.get("truncated") for r in replies):
        print("ferry stats: a channel has more rows than one telemetry reply holds; "
              "some queue rows are not shown", file=sys.stderr)
    return rows


IDENTITY = ("source", "kind", "channel", "scope", "queue", "session", "device")


def shape(r, role, lanes):
    keyless = role == "dataplane"
    scope = r["scope"]
    out = {"channel": r["channel"], "scope": scope}
    if scope == "queue":
        out["queue"] = r["queue"]
    if "session" in r:
        out["session"] = r["session"]
        out["device"] = r.get("device")
    if r["channel"] in lanes:
        out["lane"] = lanes[r["channel"]]
    out["frames_tx"] = out["frames_rx"] = out["retransmits"] = None  # the link's
    if scope == "queue":
        out["descriptors"] = r.get("descriptors", 0)
        out["auth_failures"] = None if keyless else r.get("auth_failures", 0)
        out["replays_dropped"] = None if keyless else r.get("replays_dropped", 0)
        out["tx_drops"] = None  # TX drops happen on the link
        out["latency_p50_ns"] = r.get("latency_p50_ns", 0)
        out["latency_p99_ns"] = r.get("latency_p99_ns", 0)
        out["latency_count"] = r.get("latency_count", 0)
    else:
        out["descriptors"] = None  # counted on the queue rows
        out["auth_failures"] = None if keyless else r.get("dma_chunk_auth_failures", 0)
        out["replays_dropped"] = None
        out["tx_drops"] = None if keyless else r.get("tx_dropped", 0)
    out["counters"] = {k: v for k, v in r.items() if k not in IDENTITY}
    return out


def service(prefix):
    t = Telemetry(prefix)
    try:
        info = t.query("/ferry/info")
        st = t.query("/ferry/stats")
        lat = t.query("/ferry/latency")
        chans = t.query("/ferry/channels")
        app = t.query("/ferry/app")
        rows = queue_rows(t)
    finally:
        t.close()
    role = info.get("role", "?")
    links = [link_row("link", st, lat)]
    lane_stats = sorted((k, v) for k, v in st.items() if k.startswith("lane_") and isinstance(v, dict))
    if len(lane_stats) > 1:
        links += [link_row(f"link {k.replace('_', ' ')}", v, None) for k, v in lane_stats]
    lanes = {}
    for name, c in chans.items():
        if isinstance(c, dict) and "lane" in c and name.startswith("channel_"):
            lanes[int(name[len("channel_"):])] = c["lane"]
    shaped = sorted((shape(r, role, lanes) for r in rows),
                    key=lambda r: (r["channel"], r.get("session", 0), r["scope"] != "queue",
                                   r.get("queue", 0)))
    if role == "dataplane":
        totals = {"descriptors": app.get("sq_descriptors", 0) + app.get("cq_descriptors", 0),
                  "auth_failures": None, "replays_dropped": None}
    else:
        totals = {"descriptors": app.get("descriptors", 0),
                  "auth_failures": app.get("auth_failures", 0) + app.get("dma_chunk_auth_failures", 0),
                  "replays_dropped": app.get("replays_dropped", 0)}
    totals.update({"frames_tx": st.get("frames_tx", 0), "frames_rx": st.get("frames_rx", 0),
                   "retransmits": st.get("retransmits", 0),
                   "tx_drops": st.get("tx_drops", 0) + app.get("tx_dropped", 0)})
    return {"role": role, "transport": info.get("transport", "?"), "lanes": info.get("lanes", 1),
            "totals": {k: totals[k] for k in NAMES}, "links": links, "queues": shaped}


def cell(v, k, role):
    """A value, or what stands for a null: ^ the link's, - not known here, blank: n/a."""
    if v is not None:
        return str(v)
    if k in ("frames_tx", "frames_rx", "retransmits", "tx_drops"):
        return "^"
    if k in ("auth_failures", "replays_dropped") and role == "dataplane":
        return "-"
    return ""


def us(ns):
    return "-" if ns is None else f"{ns / 1000:.1f}"


def print_table(result):
    heads = ["descriptors", "frames_tx", "frames_rx", "retransmits", "auth_fail", "replays",
             "tx_drops", "p50_us", "p99_us"]
    print(f"{'service':<12}{'row':<28}" + "".join(f"{h:>12}" for h in heads))
    for name, svc in result.items():
        for ln in svc["links"]:
            vals = [cell(ln[k], k, svc["role"]) for k in NAMES]
            vals += [us(ln.get("latency_p50_ns")), us(ln.get("latency_p99_ns"))]
            label = f"{ln['row']} ({svc['transport']})"
            print(f"{name:<12}{label:<28}" + "".join(f"{v:>12}" for v in vals))
        for q in svc["queues"]:
            label = f"ch{q['channel']}"
            if "session" in q:
                label += f" s={q['session']:08x}"
            label += f" q{q['queue']}" if q["scope"] == "queue" else f" {'region' if q['scope'] == 'guest' else 'session'}"
            if "lane" in q:
                label += f" lane {q['lane']}"
            vals = [cell(q[k], k, svc["role"]) for k in NAMES]
            if q["scope"] == "queue":
                vals += [us(q["latency_p50_ns"]), us(q["latency_p99_ns"])]
            else:
                vals += ["", ""]
            print(f"{name:<12}{label:<28}" + "".join(f"{v:>12}" for v in vals))
            if q["scope"] == "guest":
                c = q["counters"]
                print(f"{'':<12}{'':<28}  DMA: {c.get('dma_chunks_served', 0)} chunks / "
                      f"{c.get('dma_bytes_served', 0)} B served, {c.get('dma_bytes_stored', 0)} B stored")
    print("\n^ a property of the link (see its link row); - not known on this side (the data "
          "plane holds no keys); blank: not counted per row of this kind")
    print("latency: link = frame round trip; data-plane queue = MMIO read, SQ -> CQ; "
          "device-node queue = MMIO read service time (bucket upper bounds)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--dataplane", default="ferry-lab-dp", help="EAL file prefix of ferry-dataplane")
    ap.add_argument("--device-node", default="ferry-lab-dn", help="EAL file prefix of ferry-device-node")
    a = ap.parse_args()
    result = {}
    for name, prefix in (("dataplane", a.dataplane), ("device-node", a.device_node)):
        try:
            result[name] = service(prefix)
        except (OSError, ValueError) as e:
            print(f"ferry stats: {name} (file prefix {prefix}) does not answer: {e}",
                  file=sys.stderr)
    if not result:
        print("ferry stats: no service answered; is the lab up? (./ferry lab status)",
              file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
