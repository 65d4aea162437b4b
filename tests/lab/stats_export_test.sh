#!/usr/bin/env bash
# `ferry stats` against the running lab (af_packet, so the services have a DPDK port): it finds
# both services from the lab's configs (their eal.file_prefix); link rows carry link_up and the
# health and NIC counters; --watch prints per-second rates that show the traffic; and
# --listen serves the Prometheus text format, scraped twice over HTTP around a workload and
# checked by prometheus_check.py (format, names, types, label sets, counters never decrease).
#   stats_export_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
. "$src/tests/lab/lab_common.sh"  # lab, state, lab_require_root, lab_probe

lab_require_root "the stats export lab test"
lab_probe "$build"

tmp=$(mktemp -d)
server_pid= probe_pid=
cleanup() {
  for p in $server_pid $probe_pid; do kill "$p" 2>/dev/null; done
  lab down >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
lab down >/dev/null 2>&1
out=$(lab up --transport af_packet 2>&1) || { echo "$out" | tail -n 15; exit 1; }
reads() { timeout 120 "$probe" "$state/guest-edu.yaml" mmio_read --iters "$1" --warmup 0 --size 4 >>"$tmp/probe.log" 2>&1; }
fail=0

# Found from the configs: no prefix given.
stats --json >"$tmp/all.json" || { echo "ferry stats --json failed"; exit 1; }
stats --config "$state/dataplane.yaml" --json >"$tmp/dp.json" || { echo "ferry stats --config failed"; exit 1; }
python3 - "$tmp/all.json" "$tmp/dp.json" <<'PY' || fail=1
import json, sys
every, one = (json.load(open(p)) for p in sys.argv[1:3])
bad = []
if {n: s["file_prefix"] for n, s in every.items()} != {"dataplane": "ferry-lab-dp", "device-node": "ferry-lab-dn"}:
    bad.append(f"services found from the lab's configs: {sorted(every)}")
if sorted(one) != ["dataplane"]:
    bad.append(f"--config dataplane.yaml found {sorted(one)}")
for name, svc in every.items():
    link = svc["links"][0]
    for k in ("link_up", "peer_restarts", "duplicates", "bad_fcs", "malformed", "window_full", "imissed", "rx_nombuf"):
        if not isinstance(link.get(k), int):
            bad.append(f"{name}: link row has no integer {k}: {link.get(k)!r}")
    if link.get("link_up") != 1:
        bad.append(f"{name}: link_up {link.get('link_up')}")
print("\n".join(bad) or "discovery and link health: ok")
sys.exit(1 if bad else 0)
PY
table=$(stats) || { echo "ferry stats (table) failed"; fail=1; }
grep -qE "^ +link up; health: peer_restarts [0-9]+, duplicates [0-9]+, bad_fcs [0-9]+, malformed [0-9]+, window_full [0-9]+; NIC: imissed [0-9]+, rx_nombuf [0-9]+$" <<<"$table" ||
  { echo "the table has no health line under its link rows:"; echo "$table"; fail=1; }

# --watch: rates while reads run.
timeout 120 "$probe" "$state/guest-edu.yaml" mmio_read --iters 3000 --warmup 0 --size 4 >>"$tmp/probe.log" 2>&1 &
probe_pid=$!
stats --watch 1 --iterations 2 --json >"$tmp/watch.json" || { echo "ferry stats --watch failed"; fail=1; }
wait "$probe_pid"; probe_pid=
python3 - "$tmp/watch.json" <<'PY' || fail=1
import json, sys
lines = open(sys.argv[1]).read().splitlines()
rates = [json.loads(l)["dataplane"]["links"][0]["frames_tx"] for l in lines]
ok = len(rates) == 2 and all(isinstance(r, float) for r in rates) and max(rates) > 0
print(f"--watch frames_tx per second: {rates}" + ("" if ok else ": expected two rates, one above 0"))
sys.exit(0 if ok else 1)
PY

# --listen: the Prometheus endpoint, scraped before and after more reads.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$src/scripts/stats.py" --listen "$port" 2>"$tmp/server.log" &  # $! is the server itself
server_pid=$!
scrape() {
  python3 -c 'import sys, urllib.request
r = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10)
assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
sys.stdout.write(r.read().decode())' "$port" >"$1"
}
for _ in $(seq 50); do scrape "$tmp/first.txt" 2>/dev/null && break; sleep 0.2; done
[ -s "$tmp/first.txt" ] || { echo "no answer on :$port/metrics:"; cat "$tmp/server.log"; exit 1; }
reads 200 || { echo "ferry-probe failed:"; tail -n 5 "$tmp/probe.log"; exit 1; }
sleep 0.5  # the handlers publish at housekeeping
scrape "$tmp/second.txt" || { echo "second scrape failed"; exit 1; }
python3 "$src/tests/lab/prometheus_check.py" "$tmp/first.txt" "$tmp/second.txt" || fail=1
stats --prometheus >"$tmp/once.txt" && grep -q '^ferry_frames_tx_total{service="dataplane",file_prefix="ferry-lab-dp",role="dataplane"} [1-9]' "$tmp/once.txt" ||
  { echo "ferry stats --prometheus printed no dataplane frames_tx:"; head -n 20 "$tmp/once.txt"; fail=1; }
exit $fail
