#!/usr/bin/env bash
# The installed systemd files are what systemd accepts: `meson install` into a temporary root,
# then systemd's own tools on that root. systemd-analyze verify reports nothing for either unit
# (it resolves ExecStart= and the other paths inside the root); systemd-sysusers creates the
# `ferry` user there; systemd-tmpfiles then creates /run/dpdk owned by that group; the sysctl.d
# file sets a key the kernel has.
#   units_test.sh BUILD_DIR
set -euo pipefail
build=$1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
# verify --root resolves every unit inside the root, systemd's own targets too.
mkdir -p "$dest/usr/lib/systemd"
cp -a "$(readlink -f /usr/lib/systemd/system)" "$dest/usr/lib/systemd/system"
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c \
  'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
lib=$dest$prefix/lib
fail=0
bad() { echo "FAIL: $*"; fail=1; }

for u in ferry-dataplane.service ferry-device-node.service; do
  unit=$lib/systemd/system/$u
  [ -f "$unit" ] || { bad "$u not installed"; continue; }
  grep -q '^Type=notify$' "$unit" || bad "$u is not Type=notify"
  for ref in $(sed -n 's#^Documentation=##p' "$unit"); do
    case $ref in
      file://*) [ -f "$dest${ref#file://}" ] || bad "$u: Documentation= names $ref, which is not installed" ;;
      man:*) page=${ref#man:} name=${page%%(*} sect=${page#*(}; sect=${sect%)}
        ls "$dest$prefix/share/man/man$sect/$name.$sect"* >/dev/null 2>&1 ||
          bad "$u: Documentation= names $ref, which is not installed" ;;
      *) bad "$u: Documentation= $ref is neither man: nor file://" ;;
    esac
  done
  # verify's exit status ignores warnings: any output is a finding. --man=no: it would look
  # for the pages on this host; they were checked in the installed tree above.
  out=$(systemd-analyze verify --root="$dest" --man=no "${unit#"$dest"}" 2>&1) || bad "$u: verify failed"
  [ -z "$out" ] || bad "$u: systemd-analyze verify says: $out"
done

sysusers=$lib/sysusers.d/ferry.conf
tmpfiles=$lib/tmpfiles.d/ferry.conf
[ -f "$sysusers" ] && [ -f "$tmpfiles" ] || bad "sysusers.d/tmpfiles.d files not installed"
if [ "$fail" -eq 0 ]; then
  mkdir -p "$dest/etc"
  # By name, as systemd finds them at boot (the prefix's lib/ must be in its search path).
  systemd-sysusers --root="$dest" ferry.conf || bad "systemd-sysusers rejected $sysusers"
  grep -q '^ferry:' "$dest/etc/passwd" || bad "systemd-sysusers did not create the ferry user"
  systemd-tmpfiles --root="$dest" --create ferry.conf || bad "systemd-tmpfiles rejected $tmpfiles"
  gid=$(awk -F: '$1=="ferry"{print $3}' "$dest/etc/group")
  [ "$(stat -c '%g %a' "$dest/run/dpdk" 2>/dev/null)" = "$gid 775" ] ||
    bad "/run/dpdk is not group ferry, mode 775 ($(stat -c '%g %a' "$dest/run/dpdk" 2>&1))"
fi

sysctl=$lib/sysctl.d/60-ferry-hugepages.conf
if [ -f "$sysctl" ]; then
  while read -r key _ value; do
    case $key in '#'* | '') continue ;; esac
    [ -e "/proc/sys/${key//.//}" ] || bad "sysctl.d: the kernel has no $key"
    [[ $value =~ ^[0-9]+$ ]] || bad "sysctl.d: $key = $value is not a page count"
  done <"$sysctl"
else
  bad "sysctl.d/60-ferry-hugepages.conf not installed"
fi

[ "$fail" -eq 0 ] && echo "units: 1 passed, 0 failed" || echo "units: 0 passed, 1 failed"
exit "$fail"
