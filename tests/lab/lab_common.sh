# Sourced by the lab tests that drive the running lab with ferry-probe (bash; set -u safe),
# after they set src (the source tree) and build (the build folder):
#   lab ARGS...             scripts/lab.sh with this build's services; state: the lab's folder
#   stats ARGS...           ferry stats (scripts/stats.py)
#   lab_require_root WHAT   exits 77 (skip) without root, 1 under CI=true (FERRY_REQUIRE's rule)
#   lab_probe BUILD_DIR     sets probe= to the built ferry-probe, or fails the test
export FERRY_BIN=$build FERRY_BUILD_DIR=$build
state=${FERRY_LAB_STATE:-/run/ferry-lab}
lab() { bash "$src/scripts/lab.sh" "$@"; }
stats() { python3 "$src/scripts/stats.py" "$@"; }
lab_require_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  if [ "${CI:-}" = true ]; then echo "$1 needs root (CI=true: failing, not skipping)"; exit 1; fi
  echo "$1 needs root: skipped"; exit 77
}
lab_probe() {
  probe=$1/tools/ferry-probe
  [ -x "$probe" ] || { echo "ferry-probe not built ($probe)"; exit 1; }
}
