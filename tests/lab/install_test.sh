#!/usr/bin/env bash
# `meson install` into a temporary prefix installs the services, `ferry-stats` (it answers
# --help from there), the guest library with its pkg-config file and headers, the example
# drivers, the man pages (they render), the systemd units and the example configurations;
# the installed library exports only the public API, versioned; a C driver builds against the
# installed library through pkg-config alone.
#   install_test.sh BUILD_DIR
set -euo pipefail
build=$1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
root=$dest$prefix
fail=0
need() { [ -e "$root/$1" ] || { echo "missing after install: $prefix/$1"; fail=1; }; }
need bin/ferry-dataplane
need bin/ferry-device-node
need bin/ferry-probe
need bin/ferry-stats
need bin/ferry-edu-example
need bin/ferry-accel-example
need bin/ferry-edu-mapped-example
need include/ferry/guest.h
need include/ferry/guest.hpp
need lib/systemd/system/ferry-dataplane.service
need lib/systemd/system/ferry-device-node.service
need share/ferry/examples/cvm-host-dataplane.yaml
need share/ferry/examples/accel-host-device-node.yaml
need share/ferry/examples/cvm-guest.yaml
need share/doc/ferry/deploy.md
mandir=$(meson introspect "$build" --buildoptions | python3 -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="mandir"))')
for page in man8/ferry-dataplane.8 man8/ferry-device-node.8 man1/ferry-probe.1 \
    man1/ferry-edu-example.1 man1/ferry-accel-example.1 man1/ferry-edu-mapped-example.1; do
  need "$mandir/$page"
  [ -e "$root/$mandir/$page" ] || continue
  # Renders without a warning, with its NAME section and the installed version.
  out=$(LC_ALL=C groff -man -Tascii -ww -P-cbou "$root/$mandir/$page" 2>"$dest/groff.err") ||
    { echo "$page: groff failed"; fail=1; }
  if [ -s "$dest/groff.err" ]; then echo "$page: groff warns:"; cat "$dest/groff.err"; fail=1; fi
  name=$(basename "$page"); name=${name%.*}
  grep -q "^NAME" <<<"$out" && grep -Eq "^ +$name +- " <<<"$out" ||
    { echo "$page: no NAME section for $name"; fail=1; }
  grep -q "ferry $(meson introspect "$build" --projectinfo | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["version"])')" <<<"$out" ||
    { echo "$page: does not carry the project version"; fail=1; }
done
pc=$(find "$root" -name ferry-guest.pc | head -n 1)
[ -n "$pc" ] || { echo "missing after install: ferry-guest.pc"; fail=1; }
lib=$(find "$root" -name 'libferry-guest.so*' | head -n 1)
[ -n "$lib" ] || { echo "missing after install: libferry-guest.so"; fail=1; }
[ ! -x "$root/bin/ferry-stats" ] || "$root/bin/ferry-stats" --help | grep -q -- "--prometheus" ||
  { echo "the installed ferry-stats does not answer --help"; fail=1; }
if [ -n "$lib" ]; then
  "$(dirname "$0")/../guest-shim/exported_symbols_test.sh" "$(find "$root" -name 'libferry-guest.so.*.*.*' | head -n 1)" \
    "$root/include/ferry/guest.h" || fail=1
fi
grep -q "ExecStart=$prefix/bin/ferry-dataplane /etc/ferry/dataplane.yaml" \
  "$root/lib/systemd/system/ferry-dataplane.service" || { echo "unit does not start the installed binary"; fail=1; }
if [ "$fail" -eq 0 ]; then
  # A driver that includes only ferry/guest.h builds with the installed pkg-config file.
  printf '#include <ferry/guest.h>\nint main(void){ferry_dev*d=ferry_open("/nonexistent");return d!=0;}\n' >"$dest/drv.c"
  export PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_PATH=$(dirname "$pc")
  cc "$dest/drv.c" -o "$dest/drv" $(pkg-config --cflags --libs ferry-guest) ||
    { echo "a driver does not build against the installed library"; fail=1; }
fi
[ "$fail" -eq 0 ] && echo "install: 1 passed, 0 failed" || echo "install: 0 passed, 1 failed"
exit "$fail"
