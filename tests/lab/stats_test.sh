#!/usr/bin/env bash
# ./ferry stats against the running lab: a known number of edu register reads on each of two
# guest queues shows up in the per-queue rows of both services, the device node's rows belong
# to the session that made them, the table has a row per queue, and --json carries the
# counter names descriptors, frames_tx, frames_rx, retransmits, auth_failures,
# replays_dropped and tx_drops on every link, queue and session row.
#   stats_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
. "$src/tests/lab/lab_common.sh"  # lab, state, lab_require_root, lab_probe
reads=300

lab_require_root "the stats lab test"
lab_probe "$build"

tmp=$(mktemp -d)
cleanup() { lab down >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
lab down >/dev/null 2>&1
out=$(lab up --transport kernel-udp 2>&1) || { echo "$out" | tail -n 15; exit 1; }

# The lab's edu guest drives queue 0; the same guest on queue 1 of its two-queue region.
sed -e 's/^queues: .*/queues: 2/' -e 's/^queue: .*/queue: 1/' "$state/guest-edu.yaml" >"$tmp/guest-edu-q1.yaml"
grep -q '^queue: 1$' "$tmp/guest-edu-q1.yaml" || { echo "could not make the queue-1 guest config"; exit 1; }

stats --json >"$tmp/before.json" || { echo "ferry stats --json failed before the workload"; exit 1; }

# Runs `reads` 4-byte reads of the edu id register on one queue, then waits (bounded) until
# both services' published rows show them: the handlers publish at housekeeping.
run_on() {  # run_on QUEUE GUEST_YAML
  timeout 120 "$probe" "$2" mmio_read --iters "$reads" --warmup 0 --size 4 >"$tmp/probe-q$1.log" 2>&1 ||
    { echo "ferry-probe on queue $1 failed:"; tail -n 5 "$tmp/probe-q$1.log"; return 1; }
  for _ in $(seq 50); do
    stats --json >"$tmp/after-q$1.json" 2>/dev/null &&
      python3 "$src/tests/lab/stats_check.py" "$tmp/before.json" "$tmp/after-q$1.json" "$1" "$reads" >/dev/null 2>&1 &&
      return 0
    sleep 0.2
  done
  python3 "$src/tests/lab/stats_check.py" "$tmp/before.json" "$tmp/after-q$1.json" "$1" "$reads"
  return 1
}

rc=0
run_on 0 "$state/guest-edu.yaml" || rc=1
run_on 1 "$tmp/guest-edu-q1.yaml" || rc=1
# The data plane's queue-0 rows still hold the first run's reads (its counters are per region).
python3 "$src/tests/lab/stats_check.py" "$tmp/before.json" "$tmp/after-q1.json" 0 "$reads" dataplane || rc=1

table=$(stats) || { echo "ferry stats (table) failed"; rc=1; }
for row in "ch1 q0" "ch1 q1" "ch1 region"; do
  grep -q "^dataplane .*$row" <<<"$table" || { echo "the table has no dataplane '$row' row:"; echo "$table"; rc=1; }
done
grep -qE "^device-node +ch1 s=[0-9a-f]{8} q1" <<<"$table" || { echo "the table has no device-node session row for queue 1:"; echo "$table"; rc=1; }
grep -qE "^dataplane +link" <<<"$table" || { echo "the table has no link row"; rc=1; }

if [ $rc -eq 0 ]; then echo "stats: per-queue counters of both services grew by at least $reads reads on queues 0 and 1"; fi
exit $rc
