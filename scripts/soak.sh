#!/usr/bin/env bash
# Bounded soak under faults (not part of CI): brings up the single-machine lab with a `faults`
# section on the data plane (5% drop, 2% duplication, 5% reordering, 0.1% corruption, 1% delay,
# on frames out and in, so both directions of the link), runs ferry-fault-workload rounds
# against the lab's edu and accel guests for N minutes, and every few seconds samples both
# services' resident memory and their error counters. Prints a table; fails (exit 1) when a
# workload round fails, an error counter grows, or memory grows after the warm-up.
#
#   scripts/soak.sh [--minutes N] [--interval S] [--transport T] [--ops N]
#
# Holds /tmp/ferry-lab.lock for the whole run (the lab is shared); always brings the lab down.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
minutes=5 interval=5 transport=kernel-udp ops=20000
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=${2:?}; shift 2 ;;
    --interval) interval=${2:?}; shift 2 ;;
    --transport) transport=${2:?}; shift 2 ;;
    --ops) ops=${2:?}; shift 2 ;;
    *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
if [ -z "${FERRY_SOAK_LOCKED:-}" ]; then
  exec env FERRY_SOAK_LOCKED=1 flock /tmp/ferry-lab.lock "$0" --minutes "$minutes" \
    --interval "$interval" --transport "$transport" --ops "$ops"
fi

build=${FERRY_BUILD_DIR:-$root/build}
workload=$build/tests/faults/ferry-fault-workload
state=${FERRY_LAB_STATE:-/run/ferry-lab}
[ -x "$workload" ] || { echo "soak: $workload not built (ninja -C $build)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "soak: needs root (the lab)" >&2; exit 2; }

work=$(mktemp -d /tmp/ferry-soak-XXXXXX)
cat >"$work/faults.yaml" <<'EOF'
faults:
  seed: 2026
  tx: {drop: 5%, duplicate: 2%, reorder: 5%, reorder_distance: 4, corrupt: 0.1%, delay: 1%, delay_us: 2000}
  rx: {drop: 5%, duplicate: 2%, reorder: 5%, reorder_distance: 4, corrupt: 0.1%, delay: 1%, delay_us: 2000}
EOF

cleanup() {
  [ -n "${loop_pid:-}" ] && kill "$loop_pid" 2>/dev/null && wait "$loop_pid" 2>/dev/null
  FERRY_BIN=$build bash "$root/scripts/lab.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

FERRY_BIN=$build bash "$root/scripts/lab.sh" up --transport "$transport" \
  --faults "$work/faults.yaml" >"$work/lab.log" 2>&1 || { cat "$work/lab.log" >&2; exit 1; }

# Workload rounds until the deadline; each round's result line goes to rounds.log.
end=$(($(date +%s) + minutes * 60))
(
  while [ "$(date +%s)" -lt "$end" ]; do
    if "$workload" "$ops" 1 "edu:$state/guest-edu.yaml" "accel:$state/guest-accel.yaml" \
      >"$work/round.log" 2>&1; then
      grep '^result' "$work/round.log" >>"$work/rounds.log" || echo "result missing" >>"$work/failed.log"
    else
      cat "$work/round.log" >>"$work/failed.log"
      echo "round failed" >>"$work/rounds.log"
    fi
  done
) &
loop_pid=$!

# Samples until the deadline, then judges; the sampler prints the table.
python3 - "$state" "$interval" "$end" "$work" <<'PY'
import json, os, re, socket, subprocess, sys, time

state, interval, end, work = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def tel(prefix, cmd):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2")
        g = json.loads(s.recv(65536).decode())
        s.send(cmd.encode())
        r = json.loads(s.recv(g.get("max_output_len", 65536)).decode())
        s.close()
        return r.get(cmd, {}) or {}
    except (OSError, ValueError):
        return {}

def service_pid(ns, comm):
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    for pid in out.split():
        try:
            if open(f"/proc/{pid}/comm").read().strip().startswith(comm):
                return pid
        except OSError:
            pass
    return None

def rss_kib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, TypeError):
        pass
    return -1

# Counters that must stay still under injected faults (what faults are expected to move,
# retransmits, duplicates, bad_fcs/malformed frames, is shown but not judged).
DN_APP = ["auth_failures", "malformed", "dma_failures", "dma_timeouts", "dma_chunk_auth_failures",
          "tx_dropped", "backlog_dropped", "late_dropped", "seq_gaps_failed"]
ENGINE = ["out_of_window", "oversize_records", "peer_restarts", "link_resets", "tx_drops",
          "rx_dropped"]
FAULTS = ["tx_lost", "rx_lost"]

def errors():
    e = {}
    app = tel("ferry-lab-dn", "/ferry/app")
    for k in DN_APP:
        e["dn." + k] = app.get(k, 0)
    for who in ("dp", "dn"):
        st = tel(f"ferry-lab-{who}", "/ferry/stats")
        for k in ENGINE:
            e[f"{who}.{k}"] = st.get(k, 0)
    f = tel("ferry-lab-dp", "/ferry/faults")
    for k in FAULTS:
        e["dp." + k] = f.get(k, 0)
    return e

def rounds():
    try:
        lines = open(os.path.join(work, "rounds.log")).read().splitlines()
    except OSError:
        return 0, 0, 0
    ok = [l for l in lines if l.startswith("result")]
    ops = sum(int(re.search(r"ops=(\d+)", l).group(1)) for l in ok)
    return len(ok), len(lines) - len(ok), ops

dp_pid = service_pid("ferry-cvm", "ferry-datapl")
dn_pid = service_pid("ferry-acc", "ferry-device")
print(f"soak: data plane pid {dp_pid}, device node pid {dn_pid}; sampling every {interval:g} s")
hdr = f"{'t_s':>5} {'rounds':>6} {'failed':>6} {'ops':>9} {'dp_rss_KiB':>10} {'dn_rss_KiB':>10} " \
      f"{'injected':>9} {'retx':>8} {'bad_fcs':>7} {'errors':>6}"
print(hdr)
t0 = time.time()
samples = []
while True:
    now = time.time()
    r_ok, r_bad, ops = rounds()
    f = tel("ferry-lab-dp", "/ferry/faults")
    injected = sum(f.get(f"{d}_{k}", 0) for d in ("tx", "rx")
                   for k in ("drop", "duplicate", "reorder", "corrupt", "delay"))
    st = {w: tel(f"ferry-lab-{w}", "/ferry/stats") for w in ("dp", "dn")}
    retx = sum(s.get("retransmits", 0) for s in st.values())
    bad = sum(s.get("bad_fcs", 0) for s in st.values())
    e = errors()
    s = dict(t=now - t0, dp=rss_kib(dp_pid), dn=rss_kib(dn_pid), err=e, ok=r_ok, bad=r_bad)
    samples.append(s)
    print(f"{s['t']:5.0f} {r_ok:6d} {r_bad:6d} {ops:9d} {s['dp']:10d} {s['dn']:10d} "
          f"{injected:9d} {retx:8d} {bad:7d} {sum(e.values()):6d}", flush=True)
    if now >= end:
        break
    time.sleep(max(0.0, min(interval, end - time.time())))

# Let the last round finish (the loop stops starting new ones at the deadline).
deadline = time.time() + 120
while time.time() < deadline and subprocess.run(["pgrep", "-f", "ferry-fault-workload"],
                                                capture_output=True).returncode == 0:
    time.sleep(1)
r_ok, r_bad, ops = rounds()
final = errors()
print(f"soak: {r_ok} rounds passed, {r_bad} failed, {ops} operations verified")

failed = []
if r_bad:
    failed.append(f"{r_bad} workload round(s) failed (see {work}/failed.log)")
if r_ok == 0:
    failed.append("no workload round completed")
if any(s["dp"] < 0 or s["dn"] < 0 for s in samples):
    failed.append("a service was gone during the soak")
# Error counters: any growth over the run (from the first sample, taken after set-up).
for k, v in final.items():
    if v > samples[0]["err"][k]:
        failed.append(f"error counter {k} grew {samples[0]['err'][k]} -> {v}")
# Memory: after a warm-up (the first quarter), the last quarter must not be above it by more
# than 1 MiB + 2% (allocator noise).
if len(samples) >= 8:
    q = len(samples) // 4
    for who in ("dp", "dn"):
        base = max(s[who] for s in samples[q - 1:2 * q])
        last = max(s[who] for s in samples[-q:])
        growth = last - base
        print(f"soak: {who} RSS after warm-up {base} KiB, in the last quarter up to {last} KiB "
              f"({growth:+d} KiB)")
        if growth > 1024 + base * 0.02:
            failed.append(f"{who} memory grew {base} -> {last} KiB")
else:
    failed.append("too few samples to judge memory (run longer or sample more often)")
for f in failed:
    print("soak: FAIL:", f)
print("soak: PASSED" if not failed else "soak: FAILED")
sys.exit(1 if failed else 0)
PY
