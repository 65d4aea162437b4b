#!/usr/bin/env bash
# libferry-guest.so exports exactly the C API of ferry/guest.h (every FERRY_API function, and
# nothing else: no proto/config/trap or C++ runtime symbol), each versioned FERRY_1.0.
#   exported_symbols_test.sh LIBRARY.so HEADER
set -euo pipefail
lib=$1
header=$2
want=$(sed -n 's/^FERRY_API[^(]*[ *]\(ferry_[a-z0-9_]*\)(.*/\1/p' "$header" | sort)
[ -n "$want" ] || { echo "no FERRY_API function found in $header"; exit 1; }
# objdump -T: ADDRESS FLAGS SECTION SIZE VERSION NAME; defined ones are not in *UND*.
defined=$(objdump -T "$lib" | awk '$0 ~ / DF | DO / && $0 !~ /\*UND\*/ {print $(NF-1), $NF}')
fail=0
while read -r version name; do
  [ -z "$name" ] && continue
  [ "$name" = FERRY_1.0 ] && [ "$version" = FERRY_1.0 ] && continue  # the version node itself
  if ! grep -qx "$name" <<<"$want"; then
    echo "exported but not in the public API: $name ($version)"; fail=1
  elif [ "$version" != FERRY_1.0 ]; then
    echo "not versioned FERRY_1.0: $name ($version)"; fail=1
  fi
done <<<"$defined"
for name in $want; do
  grep -q " $name\$" <<<"$defined" || { echo "public API function not exported: $name"; fail=1; }
done
n=$(wc -l <<<"$want")
[ "$fail" -eq 0 ] && echo "exported symbols: the $n public functions, all FERRY_1.0"
exit "$fail"
