#!/usr/bin/env python3
"""ferry stats: the running services' counters per link, per guest queue and per session,
read through DPDK telemetry (/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2: /ferry/info,
/ferry/stats, /ferry/latency, /ferry/channels, /ferry/queues, /ferry/app, /ethdev/stats).

  ferry stats [--json] [--watch [SECONDS]] [--prometheus | --listen PORT]
              [--config FILE ...] [--dataplane PREFIX] [--device-node PREFIX]

Services: each service YAML names its telemetry socket (eal.file_prefix); without --config,
/etc/ferry/*.yaml and the lab's ($FERRY_LAB_STATE or /run/ferry-lab) are read, and every
service whose socket answers is shown, named after its file (dataplane.yaml: dataplane).
--dataplane / --device-node name the prefixes directly instead.
--watch [SECONDS] (default 1): every SECONDS the same rows as rates (per-second deltas).
--prometheus prints every counter in Prometheus' text format; --listen PORT serves it at
http://HOST:PORT/metrics (names ferry_..., labels service, file_prefix, role; the link's
frame round trip is the histogram ferry_link_rtt_seconds, le on the quarter-octave buckets'
power-of-two edges).

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
tx_drops, latency p50/p99 (upper bounds of histogram buckets, in microseconds). Under each
link row its health: link up or down, peer_restarts, duplicates, bad_fcs, malformed,
window_full, and the NIC's imissed and rx_nombuf (/ethdev/stats; none on kernel transports).
  ^  a property of the link, not of one queue: see the link row above it
  -  not known on this side (the data plane holds no keys: it cannot authenticate anything)
     (blank: not counted for a row of that kind, e.g. descriptors on a region row)
--json prints the same rows with these counter names (null for ^ and -): descriptors,
frames_tx, frames_rx, retransmits, auth_failures, replays_dropped, tx_drops, plus
latency_p50_ns, latency_p99_ns and, per queue or session row, every raw counter in "counters";
link rows add the health names above (imissed, rx_nombuf null without a DPDK port).
"""
import argparse
import glob
import http.server
import json
import os
import socket
import sys
import time

RUN_DIR = "/var/run/dpdk"
NAMES = ("descriptors", "frames_tx", "frames_rx", "retransmits", "auth_failures",
         "replays_dropped", "tx_drops")
HEALTH = ("link_up", "peer_restarts", "duplicates", "bad_fcs", "malformed", "window_full")
NIC = ("imissed", "rx_nombuf")


class Telemetry:
    def __init__(self, prefix):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.settimeout(2)
        self.s.connect(f"{RUN_DIR}/{prefix}/dpdk_telemetry.v2")
        greeting = json.loads(self.s.recv(65536).decode())
        self.max_len = max(int(greeting.get("max_output_len", 16384)), 65536)

    def query(self, cmd, empty=None):
        self.s.send(cmd.encode())
        reply = json.loads(self.s.recv(self.max_len).decode())
        value = reply.get(cmd.split(",")[0], reply.get(cmd))
        return value if value is not None else ({} if empty is None else empty)

    def close(self):
        self.s.close()


def link_row(name, st, lat, nic):
    """A link row: st is /ferry/stats (or a lane's dict), nic the summed /ethdev/stats or None."""
    row = {"row": name,
           "descriptors": st.get("descriptors_tx", 0) + st.get("descriptors_rx", 0),
           "frames_tx": st.get("frames_tx", 0), "frames_rx": st.get("frames_rx", 0),
           "retransmits": st.get("retransmits", 0),
           "auth_failures": None, "replays_dropped": None,  # sealed payloads: not the link's
           "tx_drops": st.get("tx_drops", 0)}
    row.update({k: st.get(k, 0) for k in HEALTH})
    row.update({k: None if nic is None else nic.get(k, 0) for k in NIC})
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


def nic_stats(t):
    """/ethdev/stats of every DPDK port the service has, summed; None without one."""
    ports = t.query("/ethdev/list", empty=[])
    if not ports:
        return None
    total = {}
    for p in ports:
        for k, v in t.query(f"/ethdev/stats,{p}").items():
            if isinstance(v, int):
                total[k] = total.get(k, 0) + v
    return total


def service(prefix):
    t = Telemetry(prefix)
    try:
        info = t.query("/ferry/info")
        st = t.query("/ferry/stats")
        lat = t.query("/ferry/latency")
        chans = t.query("/ferry/channels")
        app = t.query("/ferry/app")
        nic = nic_stats(t)
        rows = queue_rows(t)
    finally:
        t.close()
    role = info.get("role", "?")
    # The link's health: link_up from /ferry/info (every lane up), the counters from the totals.
    links = [link_row("link", dict(st, link_up=info.get("link_up", 0)), lat, nic)]
    lane_stats = sorted((k, v) for k, v in st.items() if k.startswith("lane_") and isinstance(v, dict))
    if len(lane_stats) > 1:
        links += [link_row(f"link {k.replace('_', ' ')}", v, None, None) for k, v in lane_stats]
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
            "file_prefix": prefix, "totals": {k: totals[k] for k in NAMES}, "links": links,
            "queues": shaped, "raw": {"info": info, "stats": st, "latency": lat, "app": app,
                                      "nic": nic}}


def cell(v, k, role):
    """A value, or what stands for a null: ^ the link's, - not known here, blank: n/a."""
    if isinstance(v, float):
        return f"{v:.1f}"
    if v is not None:
        return str(v)
    if k in ("frames_tx", "frames_rx", "retransmits", "tx_drops"):
        return "^"
    if k in ("auth_failures", "replays_dropped") and role == "dataplane":
        return "-"
    return ""


def us(ns):
    return "-" if ns is None else f"{ns / 1000:.1f}"


def health_line(ln, rates):
    """The line under a link row: up or down, then the health and NIC counters (or rates)."""
    per = " per s" if rates else ""
    parts = ", ".join(f"{k} {cell(ln.get(k), k, '')}" for k in HEALTH[1:])
    if ln.get("imissed") is None:
        nic = "NIC: no DPDK port"
    else:
        nic = f"NIC{per}: " + ", ".join(f"{k} {cell(ln.get(k), k, '')}" for k in NIC)
    return f"link {'up' if ln.get('link_up') else 'DOWN'}; health{per}: {parts}; {nic}"


def print_table(result, rates=False):
    heads = ["descriptors", "frames_tx", "frames_rx", "retransmits", "auth_fail", "replays",
             "tx_drops", "p50_us", "p99_us"]
    if rates:  # the counters' columns hold rates; the latency columns stay as they are
        heads = ["descr/s", "frames_tx/s", "frames_rx/s", "retrans/s", "auth_fail/s", "replays/s",
                 "tx_drops/s", "p50_us", "p99_us"]
    print(f"{'service':<12}{'row':<28}" + "".join(f"{h:>12}" for h in heads))
    for name, svc in result.items():
        for ln in svc["links"]:
            vals = [cell(ln[k], k, svc["role"]) for k in NAMES]
            vals += [us(ln.get("latency_p50_ns")), us(ln.get("latency_p99_ns"))]
            label = f"{ln['row']} ({svc['transport']})"
            print(f"{name:<12}{label:<28}" + "".join(f"{v:>12}" for v in vals))
            print(f"{'':<12}{'':<28}  {health_line(ln, rates)}")
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
                print(f"{'':<12}{'':<28}  DMA{' per s' if rates else ''}: "
                      f"{cell(c.get('dma_chunks_served', 0), '', '')} chunks / "
                      f"{cell(c.get('dma_bytes_served', 0), '', '')} B served, "
                      f"{cell(c.get('dma_bytes_stored', 0), '', '')} B stored")
    if rates:
        print("\nper second over the last interval (latency and link up: as now)")
        return
    print("\n^ a property of the link (see its link row); - not known on this side (the data "
          "plane holds no keys); blank: not counted per row of this kind")
    print("latency: link = frame round trip; data-plane queue = MMIO read, SQ -> CQ; "
          "device-node queue = MMIO read service time (bucket upper bounds)")


# --- which services: from their configs ---------------------------------------------------

def config_paths():
    lab = os.environ.get("FERRY_LAB_STATE", "/run/ferry-lab")
    return sorted(glob.glob("/etc/ferry/*.yaml")) + [
        p for p in (f"{lab}/dataplane.yaml", f"{lab}/device-node.yaml") if os.path.exists(p)]


def prefix_of(path):
    """eal.file_prefix of a service YAML ("ferry", the services' default, when unset); None
    for a file that is no service's (a guest's) or cannot be read."""
    import yaml  # python3-yaml; only needed to read configs
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        print(f"ferry stats: {path}: not read ({e})", file=sys.stderr)
        return None
    if not isinstance(doc, dict) or "transport" not in doc:
        return None
    eal = doc.get("eal") if isinstance(doc.get("eal"), dict) else {}
    return str(eal.get("file_prefix", "ferry"))


def services_from(args):
    """[(name, prefix)] to query: the prefixes given, else the services the configs name."""
    if args.dataplane or args.device_node:
        return [(n, p) for n, p in (("dataplane", args.dataplane), ("device-node", args.device_node)) if p]
    found, seen = [], set()
    for path in args.config or config_paths():
        prefix = prefix_of(path)
        if prefix is None or prefix in seen:
            continue
        seen.add(prefix)
        name = os.path.splitext(os.path.basename(path))[0]
        if any(name == n for n, _ in found):
            name = f"{name}@{prefix}"
        if args.config or os.path.exists(f"{RUN_DIR}/{prefix}/dpdk_telemetry.v2"):
            found.append((name, prefix))
    return found


def collect(services):
    result = {}
    for name, prefix in services:
        try:
            result[name] = service(prefix)
        except (OSError, ValueError) as e:
            print(f"ferry stats: {name} (file prefix {prefix}) does not answer: {e}",
                  file=sys.stderr)
    return result


# --- rates -------------------------------------------------------------------------------

AS_NOW = {"link_up", "latency_p50_ns", "latency_p99_ns", "latency_count", "channel", "queue",
          "session", "device", "lane"}


def per_second(cur, prev, dt):
    """cur with every counter replaced by its growth per second since prev (None stays None)."""
    if isinstance(cur, dict):
        return {k: (v if k in AS_NOW else per_second(v, prev.get(k) if isinstance(prev, dict) else None, dt))
                for k, v in cur.items()}
    if isinstance(cur, list):
        return cur
    if isinstance(cur, int) and not isinstance(cur, bool) and isinstance(prev, int):
        return (cur - prev) / dt
    return cur


def row_key(r):
    return (r.get("channel"), r.get("scope"), r.get("queue"), r.get("session"))


def rates(cur, prev, dt):
    out = {}
    for name, svc in cur.items():
        before = prev.get(name)
        if before is None:
            continue
        links = {ln["row"]: ln for ln in before["links"]}
        queues = {row_key(q): q for q in before["queues"]}
        out[name] = dict(svc, links=[per_second(ln, links.get(ln["row"], {}), dt) for ln in svc["links"]],
                         queues=[per_second(q, queues.get(row_key(q), {}), dt) for q in svc["queues"]],
                         totals=per_second(svc["totals"], before["totals"], dt))
    return out


def public(result):
    """What --json prints: everything but the raw replies the exporter reads."""
    return {n: {k: v for k, v in s.items() if k != "raw"} for n, s in result.items()}


def watch(services, seconds, iterations, as_json):
    prev, t0 = collect(services), time.monotonic()
    n = 0
    while iterations == 0 or n < iterations:
        time.sleep(seconds)
        cur, t1 = collect(services), time.monotonic()
        r = rates(cur, prev, t1 - t0)
        if as_json:
            print(json.dumps(public(r)), flush=True)
        else:
            print(time.strftime("%H:%M:%S"), f"(rates over {t1 - t0:.1f} s)")
            print_table(r, rates=True)
            print(flush=True)
        prev, t0, n = cur, t1, n + 1


# --- Prometheus text format --------------------------------------------------------------

class Exposition:
    """Metric families in the text format (version 0.0.4): # HELP and # TYPE once per family,
    then its samples."""

    def __init__(self):
        self.families = {}

    def add(self, name, kind, help_text, labels, value, suffix=""):
        fam = self.families.setdefault(name, (kind, help_text, []))
        fam[2].append((name + suffix, labels, value))

    @staticmethod
    def label_text(labels):
        def esc(v):
            return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"

    def text(self):
        out = []
        for name, (kind, help_text, samples) in self.families.items():
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            for sample, labels, value in samples:
                out.append(f"{sample}{self.label_text(labels)} {value}")
        return "\n".join(out) + "\n"


def metric_name(key):
    return "".join(c if c.isalnum() else "_" for c in key).lower()


def export_service(x, name, svc):
    raw = svc["raw"]
    base = {"service": name, "file_prefix": svc["file_prefix"], "role": svc["role"]}
    x.add("ferry_up", "gauge", "1: the service's telemetry answered", base, 1)
    x.add("ferry_link_up", "gauge", "1: every lane's link is up", dict(base, transport=svc["transport"]),
          raw["info"].get("link_up", 0))
    x.add("ferry_in_flight", "gauge", "frames sent and not yet acknowledged", base,
          raw["info"].get("in_flight", 0))
    for k, v in raw["stats"].items():
        if isinstance(v, int) and k != "lanes":
            x.add(f"ferry_{metric_name(k)}_total", "counter", f"/ferry/stats {k}, every lane", base, v)
    for k, v in sorted(raw["stats"].items()):
        if k.startswith("lane_") and isinstance(v, dict):
            x.add("ferry_lane_link_up", "gauge", "1: this lane's link is up",
                  dict(base, lane=k[len("lane_"):]), v.get("link_up", 0))
    for k, v in raw["app"].items():
        if isinstance(v, int):
            x.add(f"ferry_app_{metric_name(k)}_total", "counter", f"/ferry/app {k}", base, v)
    if raw["nic"] is not None:
        for k, v in raw["nic"].items():
            x.add(f"ferry_nic_{metric_name(k)}_total", "counter", f"/ethdev/stats {k}, every port", base, v)
    export_rtt(x, base, raw["latency"])
    for q in svc["queues"]:
        # One label set for every row ("": not this row's, e.g. no session on the data plane).
        labels = dict(base, channel=q["channel"], scope=q["scope"])
        labels.update({k: "" if q.get(k) is None else q[k] for k in ("queue", "session", "device", "lane")})
        for k, v in q["counters"].items():
            if isinstance(v, int) and not k.startswith("latency_"):
                x.add(f"ferry_queue_{metric_name(k)}_total", "counter", f"/ferry/queues {k}", labels, v)
        if q["scope"] == "queue":
            x.add("ferry_queue_latency_samples_total", "counter", "latency samples of the queue",
                  labels, q["counters"].get("latency_count", 0))
            for quantile, key in (("0.5", "latency_p50_ns"), ("0.99", "latency_p99_ns"),
                                  ("0.999", "latency_p999_ns")):
                x.add("ferry_queue_latency_upper_seconds", "gauge",
                      "upper bound of the histogram bucket holding the quantile",
                      dict(labels, quantile=quantile), q["counters"].get(key, 0) / 1e9)


def export_rtt(x, base, lat):
    """The frame round trip as a Prometheus histogram. The quarter-octave buckets
    (lt_<upper>_ns, proto/latency_histogram.h) end on every power of two, so cumulative counts
    at le = 2^k ns are exact."""
    counts = sorted((int(k[3:-3]), v) for k, v in lat.items()
                    if k.startswith("lt_") and k.endswith("_ns") and isinstance(v, int))
    total = sum(v for _, v in counts)
    help_text = "ferry frame round trip (send -> cumulative ack), datagram transports"
    for k in range(10, 35):  # 1.024 us .. 17.2 s
        edge = 1 << k
        below = sum(v for upper, v in counts if upper <= edge)
        x.add("ferry_link_rtt_seconds", "histogram", help_text, dict(base, le=f"{edge / 1e9:.9g}"),
              below, "_bucket")
    x.add("ferry_link_rtt_seconds", "histogram", help_text, dict(base, le="+Inf"), total, "_bucket")
    sum_ns = lat.get("sum_ns", lat.get("mean_ns", 0) * lat.get("count", 0))
    x.add("ferry_link_rtt_seconds", "histogram", help_text, base, sum_ns / 1e9, "_sum")
    x.add("ferry_link_rtt_seconds", "histogram", help_text, base, total, "_count")


def prometheus_text(result):
    x = Exposition()
    for name, svc in result.items():
        export_service(x, name, svc)
    return x.text()


def serve(services, port):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics")
                return
            body = prometheus_text(collect(services)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("", port), Handler)
    print(f"ferry stats: serving http://localhost:{httpd.server_address[1]}/metrics", file=sys.stderr,
          flush=True)
    httpd.serve_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--watch", nargs="?", type=float, const=1.0, metavar="SECONDS",
                    help="print rates every SECONDS (default 1) until interrupted")
    ap.add_argument("--iterations", type=int, default=0, help="with --watch: stop after N (0: never)")
    ap.add_argument("--prometheus", action="store_true", help="print the Prometheus text format")
    ap.add_argument("--listen", type=int, metavar="PORT", help="serve the Prometheus text at :PORT/metrics")
    ap.add_argument("--config", action="append", metavar="FILE",
                    help="a service YAML to read eal.file_prefix from (repeatable; default: "
                         "/etc/ferry/*.yaml and the lab's)")
    ap.add_argument("--dataplane", metavar="PREFIX", help="EAL file prefix of ferry-dataplane")
    ap.add_argument("--device-node", metavar="PREFIX", help="EAL file prefix of ferry-device-node")
    a = ap.parse_args()
    if a.watch is not None and a.watch <= 0:
        ap.error("--watch SECONDS must be above 0")
    services = services_from(a)
    if not services:
        print("ferry stats: no running service found (configs: "
              f"{', '.join(a.config or config_paths()) or 'none'}); is the lab up? (./ferry lab status)",
              file=sys.stderr)
        return 1
    if a.listen is not None:
        serve(services, a.listen)
        return 0
    try:
        if a.watch is not None:
            watch(services, a.watch, a.iterations, a.json)
            return 0
    except KeyboardInterrupt:
        return 0
    result = collect(services)
    if not result:
        print("ferry stats: no service answered; is the lab up? (./ferry lab status)",
              file=sys.stderr)
        return 1
    if a.prometheus:
        sys.stdout.write(prometheus_text(result))
    elif a.json:
        print(json.dumps(public(result), indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
