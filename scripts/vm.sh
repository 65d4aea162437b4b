#!/usr/bin/env bash
# The guest inside a real VM: QEMU (TCG where there is no KVM) boots a Debian kernel with a
# small initramfs (busybox, the example drivers and ferry-probe with the libraries they link),
# each guest region is given to it as an ivshmem-plain device, and inside the VM the drivers
# run with `region: /sys/bus/pci/devices/<bdf>/resource2` (scripts/vm/init).
#
#   vm.sh start STATE BUILD GUEST_YAML...   boot in the background (pid STATE/vm.pid, serial
#                                           console STATE/vm.log); guest i's region becomes the
#                                           ivshmem device at 0000:00:1i.0
#   vm.sh wait STATE [SECONDS]              until the VM has run its jobs; exit 0 if all passed
#   vm.sh stop STATE
#   vm.sh kernel                            prints the kernel it boots (fetched once)
#
# The jobs (STATE/vm/root/ferry/jobs): for each guest config, the example driver its device
# runs (edu or accel, by device_id: 1 edu, 2 accel, as the lab numbers them), then ferry-probe's
# MMIO read latency against the edu device. FERRY_VM_KERNEL overrides the kernel;
# FERRY_VM_KEEP=1 keeps the VM up after its jobs (the lab's `up --vm`); FERRY_VM_JOBS=FILE
# replaces the jobs (lines `LABEL COMMAND...`, configs at /ferry/guest0.yaml, ...) and
# FERRY_VM_EXTRA="BINARY..." adds binaries to /ferry (the restart test's workload).
set -euo pipefail

say() { printf 'vm: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

cache=${FERRY_VM_CACHE:-/var/cache/ferry/vm}

# A Debian kernel: the vmlinuz of linux-image-amd64's current version, extracted from its .deb
# (not installed: nothing on the host changes) into the cache.
vm_kernel() {
  if [ -n "${FERRY_VM_KERNEL:-}" ]; then echo "$FERRY_VM_KERNEL"; return; fi
  local k; k=$(ls "$cache"/vmlinuz-* 2>/dev/null | head -n 1 || true)
  if [ -n "$k" ]; then echo "$k"; return; fi
  mkdir -p "$cache"
  local pkg tmp
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
  if [ -z "$pkg" ]; then apt-get update -qq; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}'); fi
  [ -n "$pkg" ] || die "cannot find Debian's linux-image-amd64 (apt sources?)"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq "$pkg" 2>/dev/null) || (apt-get update -qq && cd "$tmp" && apt-get download -qq "$pkg" 2>/dev/null) ||
    { rm -rf "$tmp"; die "cannot download $pkg"; }
  dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" ./boot
  cp "$tmp"/boot/vmlinuz-* "$cache"/
  rm -rf "$tmp"
  ls "$cache"/vmlinuz-* | head -n 1
}

yaml_value() { sed -n "s/^$2:[[:space:]]*//p" "$1" | head -n 1; }

# The initramfs: busybox, the binaries with every library they load, the guest configs (their
# region rewritten to the BAR, their key copied in) and the jobs.
build_initramfs() {  # build_initramfs STATE BUILD GUEST_YAML...
  local state=$1 build=$2; shift 2
  local root=$state/vm/root
  rm -rf "$state/vm"
  mkdir -p "$root"/{bin,proc,sys,dev,tmp,ferry}
  cp "$(command -v busybox)" "$root/bin/busybox"
  cp "$(dirname "${BASH_SOURCE[0]}")/vm/init" "$root/init"
  chmod 755 "$root/init"
  local b
  for b in guest-shim/examples/ferry-edu-example guest-shim/examples/ferry-accel-example tools/ferry-probe; do
    [ -x "$build/$b" ] || die "$build/$b not built"
    cp "$build/$b" "$root/ferry/"
  done
  for b in ${FERRY_VM_EXTRA:-}; do
    [ -x "$b" ] || die "$b: not an executable"
    cp "$b" "$root/ferry/"
  done
  local lib
  for lib in $(LD_LIBRARY_PATH=$build/guest-shim ldd "$root"/ferry/* | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}' | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  # libferry-guest from the build folder: where the VM's loader looks.
  cp -L "$build"/guest-shim/libferry-guest.so.* "$root/lib/x86_64-linux-gnu/" 2>/dev/null || true
  local i=0 cfg dev id guest bdf
  : >"$root/ferry/jobs"
  for cfg in "$@"; do
    bdf=$(printf '0000:00:%02x.0' $((0x10 + i)))
    id=$(yaml_value "$cfg" device_id) guest=$(yaml_value "$cfg" guest_id)
    dev=guest$i
    cp "$(yaml_value "$cfg" psk_file)" "$root/ferry/psk-$dev"
    sed -e "s#^region:.*#region: /sys/bus/pci/devices/$bdf/resource2#" \
        -e "s#^psk_file:.*#psk_file: /ferry/psk-$dev#" "$cfg" >"$root/ferry/$dev.yaml"
    case $id in
      1) echo "edu ferry-edu-example /ferry/$dev.yaml" >>"$root/ferry/jobs"
         echo "mmio-latency ferry-probe /ferry/$dev.yaml mmio_read --size 4 --iters 500" >>"$root/ferry/jobs" ;;
      2) echo "accel ferry-accel-example /ferry/$dev.yaml" >>"$root/ferry/jobs" ;;
      *) die "$cfg: device_id $id has no example driver in the VM" ;;
    esac
    i=$((i + 1))
  done
  [ -z "${FERRY_VM_JOBS:-}" ] || cp "$FERRY_VM_JOBS" "$root/ferry/jobs"
  (cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$state/vm/initrd.gz"
}

vm_start() {  # vm_start STATE BUILD GUEST_YAML...
  local state=$1 build=$2; shift 2
  [ $# -ge 1 ] || die "start: no guest config"
  command -v qemu-system-x86_64 >/dev/null || die "needs QEMU: apt-get install qemu-system-x86"
  command -v busybox >/dev/null || die "needs busybox: apt-get install busybox-static"
  local kernel; kernel=$(vm_kernel)
  build_initramfs "$state" "$build" "$@"
  local accel=tcg cpu=max append="console=ttyS0 quiet panic=-1 no_timer_check"
  if [ -w /dev/kvm ]; then accel=kvm cpu=host; fi
  [ "${FERRY_VM_KEEP:-0}" = 1 ] && append="$append ferry.keep"
  local args=() i=0 cfg region size
  for cfg in "$@"; do
    region=$(yaml_value "$cfg" region)
    [ -f "$region" ] || die "$region: no region (is the data plane up?)"
    size=$(stat -c %s "$region")
    (( (size & (size - 1)) == 0 )) || die "$region: $size bytes, not a power of two (a PCI BAR must be)"
    args+=(-object "memory-backend-file,id=region$i,share=on,mem-path=$region,size=$size"
           -device "ivshmem-plain,memdev=region$i,addr=$(printf '0x%02x' $((0x10 + i)))")
    i=$((i + 1))
  done
  say "booting $(basename "$kernel") under QEMU ($accel) with $i ivshmem region(s); console: $state/vm.log"
  setsid qemu-system-x86_64 -machine q35 -accel "$accel" -cpu "$cpu" -smp 1 -m 512 \
    -nographic -nic none -no-reboot -kernel "$kernel" -initrd "$state/vm/initrd.gz" \
    -append "$append" "${args[@]}" </dev/null >"$state/vm.log" 2>&1 &
  echo $! >"$state/vm.pid"
}

vm_wait() {  # vm_wait STATE [SECONDS]
  local state=$1 limit=${2:-600} t=0
  while ! grep -q '^ferry-vm: done' "$state/vm.log" 2>/dev/null; do
    if ! kill -0 "$(cat "$state/vm.pid" 2>/dev/null)" 2>/dev/null; then
      tail -n 30 "$state/vm.log" >&2; die "QEMU exited before the VM ran its jobs"
    fi
    [ "$t" -lt "$limit" ] || { tail -n 30 "$state/vm.log" >&2; die "the VM did not finish its jobs in $limit s"; }
    sleep 1; t=$((t + 1))
  done
  grep '^ferry-vm: \(ok\|FAIL\|done\)' "$state/vm.log" | tr -d '\r' >&2
  grep -q '^ferry-vm: done, [0-9]* passed, 0 failed' "$state/vm.log"
}

vm_stop() {  # vm_stop STATE
  local pidf=$1/vm.pid
  [ -f "$pidf" ] || return 0
  local pid; pid=$(cat "$pidf")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidf"
}

case "${1:-}" in
  start) shift; vm_start "$@" ;;
  wait) shift; vm_wait "$@" ;;
  stop) shift; vm_stop "$@" ;;
  kernel) vm_kernel ;;
  *) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 2 ;;
esac
