#!/bin/sh
# Imports run one way (proto <- config <- engine <- guest-shim / dataplane / device-node <-
# tools): the source tree passes include_direction.py, and a copy of it with one lower wing
# including a higher one, or one layer-3 wing including a sibling, fails it, naming the line.
# usage: include_direction_test.sh SOURCE_ROOT
set -eu
src=$1
check="$src/tests/layout/include_direction.py"
python3 "$check" "$src"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The wings' sources as they are (not a git checkout: the check walks the copy).
(cd "$src" && git ls-files proto config engine guest-shim dataplane device-node tools |
  grep -E '\.(h|hpp|c|cc|cpp)$' | while read -r f; do
    mkdir -p "$tmp/$(dirname "$f")" && cp "$f" "$tmp/$f"
  done)
python3 "$check" "$tmp" >/dev/null || { echo "the unchanged copy should pass"; exit 1; }

expect_violation() {  # FILE LINE-TO-ADD WHAT-THE-REPORT-NAMES
  cp "$tmp/$1" "$tmp/$1.orig"
  printf '%s\n' "$2" >>"$tmp/$1"
  if python3 "$check" "$tmp" >"$tmp/out"; then
    echo "FAIL: $1 with '$2' passed the check"; exit 1
  fi
  grep -q "^$1:.*$3" "$tmp/out" || { echo "FAIL: report does not name $1: $3"; cat "$tmp/out"; exit 1; }
  mv "$tmp/$1.orig" "$tmp/$1"
  echo "refused as it should be: $(grep "^$1:" "$tmp/out")"
}
expect_violation proto/include/ferry/proto/idle.h '#include "ferry/engine/engine.h"' 'higher layer'
expect_violation config/src/roles.cpp '#include "ferry/device/model.h"' 'higher layer'
expect_violation engine/engine.cpp '#include "ferry/guest.h"' 'higher layer'
expect_violation dataplane/relay/host_relay.cpp '#include "ferry/device/device_node.h"' 'sibling layer'
expect_violation device-node/src/device_node.cpp '#include "../../tools/probe/probe_devices.h"' 'higher layer'
