#!/usr/bin/env bash
# The local baseline of ferry bench (ferry-probe-local: the probe source over the real edu and
# accel models in one process) runs every measurement ferry bench asks of it, every result the
# model returns checked by the probe, and prints a well-formed record for each.
#   local_baseline_test.sh PATH/TO/ferry-probe-local
set -uo pipefail
probe=$1 rc=0
check() {  # check FIELD ARGS...: the probe exits 0 and its record has FIELD > 0
  local field=$1; shift
  local out
  if ! out=$("$probe" "$@" 2>&1); then echo "FAIL $* exited non-zero: $out"; rc=1; return; fi
  if ! python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r[sys.argv[2]] > 0, r' \
      "$(tail -n1 <<<"$out")" "$field" 2>/dev/null; then
    echo "FAIL $*: no positive $field in: $out"; rc=1; return
  fi
  echo "ok   $*"
}
for s in 1 2 4 8; do check p50_ns local:accel mmio_read --size "$s" --iters 500 --warmup 50; done
for s in 4 8; do check p50_ns local:edu mmio_read --size "$s" --iters 500 --warmup 50; done
check accessor_p50_ns local:edu mmio_read_mapped --size 4 --iters 200 --warmup 20
check writes_per_s local:accel mmio_write --size 8 --iters 2000
for s in 4096 1048576; do
  check gbytes_per_s local:edu dma_to_device --size "$s" --iters 5
  check gbytes_per_s local:edu dma_from_device --size "$s" --iters 5
done
check jobs_per_s local:edu edu_workload --iters 10
check jobs_per_s local:accel accel_workload --qd 1 --iters 50
check jobs_per_s local:accel accel_workload --qd 32 --iters 200
# A config that is not the local baseline's is refused, not guessed.
if "$probe" /nonexistent.yaml mmio_read >/dev/null 2>&1; then echo "FAIL a bad spec was opened"; rc=1; fi
exit $rc
