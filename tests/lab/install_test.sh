#!/usr/bin/env bash
# `meson install` into a temporary prefix installs the services, `ferry-stats` (it answers
# --help from there), the guest library with its
# pkg-config file and headers, the systemd units and the example configurations; a C driver
# builds against the installed library through pkg-config alone.
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
need include/ferry/guest.h
need include/ferry/guest.hpp
need lib/systemd/system/ferry-dataplane.service
need lib/systemd/system/ferry-device-node.service
need share/ferry/examples/cvm-host-dataplane.yaml
need share/ferry/examples/accel-host-device-node.yaml
need share/ferry/examples/cvm-guest.yaml
need share/doc/ferry/deploy.md
pc=$(find "$root" -name ferry-guest.pc | head -n 1)
[ -n "$pc" ] || { echo "missing after install: ferry-guest.pc"; fail=1; }
lib=$(find "$root" -name 'libferry-guest.so*' | head -n 1)
[ -n "$lib" ] || { echo "missing after install: libferry-guest.so"; fail=1; }
[ ! -x "$root/bin/ferry-stats" ] || "$root/bin/ferry-stats" --help | grep -q -- "--prometheus" ||
  { echo "the installed ferry-stats does not answer --help"; fail=1; }
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
