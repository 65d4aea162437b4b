#!/bin/sh
# Tests mirror the source tree: every folder of tests/ other than the suites that cut across
# wings is named as the source folder it tests (tests/device-node for device-node/,
# tests/guest-shim/trap for guest-shim/trap/), so the tests of a wing are found by its name.
# A copy of the tree with a test folder that mirrors nothing must fail the check.
# usage: tests_mirror_test.sh SOURCE_ROOT
set -eu

# The suites of a concern rather than a folder (tests/README.md says what each covers).
concerns=" services faults attacks layout lab bench support "

check() {  # ROOT: prints each folder of ROOT/tests that mirrors nothing; fails if any
  bad=0
  for d in $(cd "$1/tests" && find . -type f | sed 's#^\./##' | xargs -n1 dirname | sort -u); do
    [ "$d" = . ] && continue
    case "$concerns" in *" ${d%%/*} "*) continue ;; esac
    if [ ! -d "$1/$d" ]; then
      echo "tests/$d mirrors no source folder ($d/ does not exist)"
      bad=1
    fi
  done
  return $bad
}

check "$1"
echo "every test folder mirrors a source folder or is one of:$concerns"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/device-node" "$tmp/tests/device-node" "$tmp/tests/device"
touch "$tmp/tests/device-node/a_test.cpp" "$tmp/tests/device/b_test.cpp"
if check "$tmp" >"$tmp/out"; then
  echo "FAIL: tests/device passed without a device/ source folder"
  exit 1
fi
grep -q '^tests/device mirrors no source folder' "$tmp/out" ||
  { echo "FAIL: the report does not name tests/device"; cat "$tmp/out"; exit 1; }
echo "refused as it should be: $(cat "$tmp/out")"
