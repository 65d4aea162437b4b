#!/usr/bin/env bash
# ferry bench end to end, tiny: the local baseline and memif at none and confidential with
# small iteration counts and two rounds merged, into a temporary folder, through the real lab
# and services; then check_results.py checks results.json/csv, the plots and report.md. Uses
# the shared lab: scripts/bench.py holds /tmp/ferry-lab.lock while it runs.
#   bench_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
if [ "$(id -u)" -ne 0 ]; then
  if [ "${CI:-}" = true ]; then echo "the bench test needs root (CI=true: failing, not skipping)"; exit 1; fi
  echo "the bench test needs root (network namespaces): skipped"; exit 77
fi
command -v gnuplot >/dev/null || { echo "gnuplot missing (./ferry installs gnuplot-nox)"; exit 1; }
out=$(mktemp -d /tmp/ferry-bench-test.XXXXXX)
trap 'rm -rf "$out"' EXIT
FERRY_BUILD_DIR=$build FERRY_BIN=$build \
  python3 "$src/scripts/bench.py" --quick --transports memif --securities none,confidential \
  --scale 0.02 --rounds 2 --out "$out"
rc=$?
[ $rc -eq 0 ] || echo "FAIL bench.py exited $rc"
[ ! -e "${FERRY_LAB_STATE:-/run/ferry-lab}" ] || { echo "FAIL the lab was left up"; rc=1; }
python3 "$src/tests/bench/check_results.py" "$out" memif none,confidential || rc=1
exit $rc
