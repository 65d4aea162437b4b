#!/usr/bin/env bash
# `./ferry SUBCOMMAND --help` answers at once, exit 0, with that subcommand's usage, and
# installs, builds and starts nothing: run from a copy of the entry point and its scripts with
# no build folder, PATH without apt-get/meson/ninja, and nothing may appear beside them.
#   cli_help_test.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tree" "$tmp/bin"
cp "$src/ferry" "$tmp/tree/"
cp -r "$src/scripts" "$tmp/tree/"
to=$(command -v timeout)
for t in bash sed cat od tr printf dirname; do
  p=$(command -v "$t") && ln -s "$p" "$tmp/bin/$t"
done
# Debian's interpreter (a pyenv shim would need the rest of PATH).
ln -s "$([ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)" "$tmp/bin/python3"
before=$(cd "$tmp/tree" && find . | sort)
fail=0
# Every subcommand the entry point dispatches (its last `case`: "  NAME) shift; ..."), so one
# added later is checked too.
subs=$(sed -n 's/^  \([a-z][a-z-]*\)) shift;.*/\1/p' "$src/ferry")
[ "$(wc -w <<<"$subs")" -ge 7 ] || { echo "found only these subcommands in ferry: $subs"; exit 1; }
general=$(cd "$tmp/tree" && PATH=$tmp/bin ./ferry --help 2>&1)
for sub in $subs; do
  out=$(cd "$tmp/tree" && PATH=$tmp/bin FERRY_BUILD_DIR=$tmp/tree/build "$to" 20 ./ferry "$sub" --help 2>&1) ||
    { echo "ferry $sub --help: exit $?"; echo "$out"; fail=1; continue; }
  grep -qi "usage\|lab.sh up" <<<"$out" || { echo "ferry $sub --help: no usage in: $out"; fail=1; }
  # Its own usage, not the entry point's general one.
  [ "$out" != "$general" ] || { echo "ferry $sub --help printed the general usage"; fail=1; }
  grep -q "^ferry: \(installing\|building\|configuring\)" <<<"$out" &&
    { echo "ferry $sub --help installed or built something"; fail=1; }
done
after=$(cd "$tmp/tree" && find . | grep -v '__pycache__' | sort)
[ "$before" = "$after" ] || { echo "--help left files behind:"; diff <(echo "$before") <(echo "$after"); fail=1; }
# An unknown subcommand is still an error.
(cd "$tmp/tree" && PATH=$tmp/bin ./ferry frobnicate >/dev/null 2>&1) && { echo "unknown subcommand exited 0"; fail=1; }
[ $fail -eq 0 ] && echo "every subcommand's --help answered without installing or building"
exit $fail
