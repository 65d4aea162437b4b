#!/usr/bin/env bash
# The two-host lab on one machine: namespaces ferry-cvm (CVM host: ferry-dataplane) and
# ferry-acc (accelerator host: ferry-device-node) joined by the veth pair ferry-cvm0 /
# ferry-acc0 on 198.18.0.0/15, hugepages when the transport needs them, a fresh PSK, YAML
# generated from config/templates/, both services started on pinned lcores (docs/layout.md).
#
#   lab.sh up [--transport T] [--security S] [--dp-lcore N] [--dn-lcore N]
#             [--idle spin|spin-then-yield|spin-then-sleep] [--spin-polls N]
#             [--faults FILE]   (a `faults:` YAML section appended to the data plane's file)
#             [--vm]            (the guest in a QEMU VM over ivshmem: scripts/vm.sh boots it,
#                               its example drivers run inside against the lab; it stays up)
#   lab.sh restart ferry-dataplane|ferry-device-node   (start it again, e.g. after kill -9)
#   lab.sh down
#   lab.sh status
#
# Everything it makes lives under $FERRY_LAB_STATE (default /run/ferry-lab) or is a named
# namespace / link; `down` removes all of it and is safe to run any number of times.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${FERRY_LAB_STATE:-/run/ferry-lab}
bin=${FERRY_BIN:-$root/build}  # the build folder
# service NAME: where the build puts that service binary.
service() {
  case $1 in
    ferry-dataplane) echo "$bin/dataplane/service/$1" ;;
    ferry-device-node) echo "$bin/device-node/service/$1" ;;
  esac
}
templates=$root/config/templates
ns_cvm=ferry-cvm ns_acc=ferry-acc
if_cvm=ferry-cvm0 if_acc=ferry-acc0
ip_cvm=198.18.0.1 ip_acc=198.18.0.2

say() { printf 'lab: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

require_root() {
  [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, veth, hugepages): run as root"
  command -v ip >/dev/null || die "needs iproute2 (ip): apt-get install iproute2"
  ip netns list >/dev/null 2>&1 || die "this kernel or container does not allow network namespaces"
}

# A service is alive while its pid exists and is not a zombie (nobody may reap it here).
alive() {
  [ -f "$1" ] || return 1
  local st
  st=$(awk '{print $3}' "/proc/$(cat "$1")/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

stop_service() {  # stop_service NAME
  local pidf=$state/$1.pid
  [ -f "$pidf" ] || return 0
  local pid; pid=$(cat "$pidf")
  if alive "$pidf"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do alive "$pidf" || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidf"
}

lab_down() {
  require_root
  bash "$root/scripts/vm.sh" stop "$state"
  stop_service ferry-dataplane
  stop_service ferry-device-node
  # Processes of ours still inside the namespaces (e.g. after a crash of this script).
  for ns in $ns_cvm $ns_acc; do
    if ip netns list | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  ip link del "$if_cvm" 2>/dev/null || true
  if mountpoint -q "$state/huge" 2>/dev/null; then umount "$state/huge" || umount -l "$state/huge"; fi
  rm -rf "$state" /var/run/dpdk/ferry-lab-dp /var/run/dpdk/ferry-lab-dn
  say "down: no namespace, link, process, mount or file of the lab is left"
}

lab_status() {
  if [ ! -d "$state" ]; then echo "lab: down"; return 0; fi
  local t s
  t=$(sed -n 's/^transport=//p' "$state/lab.env" 2>/dev/null)
  s=$(sed -n 's/^security=//p' "$state/lab.env" 2>/dev/null)
  echo "lab: up (transport ${t:-?}, security ${s:-?}), state in $state"
  for svc in ferry-device-node ferry-dataplane; do
    if alive "$state/$svc.pid"; then echo "  $svc: running (pid $(cat "$state/$svc.pid"))"
    else echo "  $svc: NOT running (log: $state/$svc.log)"; fi
  done
  for ns in $ns_cvm $ns_acc; do
    ip netns list | grep -qw "$ns" && echo "  namespace $ns: present" || echo "  namespace $ns: missing"
  done
  echo "  guest configs: $state/guest-edu.yaml $state/guest-accel.yaml"
  local r
  for r in "$state"/huge/region-*; do
    [ -f "$r" ] && echo "  region $r: $(stat -c %s "$r") bytes (the guest's ivshmem BAR: a power of two)"
  done
  if [ -f "$state/vm.pid" ]; then
    if kill -0 "$(cat "$state/vm.pid")" 2>/dev/null; then
      echo "  vm: running (pid $(cat "$state/vm.pid"), console $state/vm.log)$(grep -a '^ferry-vm: done' "$state/vm.log" | tr -d '\r' | sed 's/^ferry-vm: done/; its drivers:/')"
    else echo "  vm: NOT running (console $state/vm.log)"; fi
  fi
}

render() {  # render TEMPLATE OUT: replaces every @NAME@ with the value of shell variable NAME
  local text; text=$(cat "$1")
  local var
  for var in $(grep -o '@[A-Z_]*@' "$1" | sort -u | tr -d @); do
    [ -n "${!var+x}" ] || die "template $1 uses @$var@, which the lab does not set"
    text=${text//@$var@/${!var}}
  done
  printf '%s\n' "$text" >"$2"
}

lab_up() {
  local transport=kernel-udp security=confidential faults= vm=0
  # Defaults from the layout study (docs/layout.md): on 2 cores both services poll on lcore 0
  # and yield after one empty poll, which leaves core 1 to the guest (ferry bench pins it
  # there); with --idle spin give each service its own lcore.
  DP_LCORE=${FERRY_DP_LCORE:-0} DN_LCORE=${FERRY_DN_LCORE:-0}
  IDLE_MODE=spin-then-yield IDLE_SPIN=1
  while [ $# -gt 0 ]; do
    case "$1" in
      --transport) transport=${2:?}; shift 2 ;;
      --security) security=${2:?}; shift 2 ;;
      --dp-lcore) DP_LCORE=${2:?}; shift 2 ;;
      --dn-lcore) DN_LCORE=${2:?}; shift 2 ;;
      --idle) IDLE_MODE=${2:?}; shift 2 ;;
      --spin-polls) IDLE_SPIN=${2:?}; shift 2 ;;
      --faults) faults=${2:?}; shift 2 ;;
      --vm) vm=1; shift ;;
      *) die "unknown option $1 (see: ./ferry lab --help)" ;;
    esac
  done
  case "$security" in none|integrity|confidential) ;; *) die "--security must be none, integrity or confidential" ;; esac
  require_root
  if [ -d "$state" ]; then
    if alive "$state/ferry-dataplane.pid" || alive "$state/ferry-device-node.pid"; then
      die "a lab is already up ($(tr '\n' ' ' <"$state/lab.env" 2>/dev/null)); run './ferry lab down' first"
    fi
    say "cleaning up what a previous lab left behind"
    lab_down
  elif ip netns list | grep -qwE "$ns_cvm|$ns_acc" || ip link show "$if_cvm" >/dev/null 2>&1; then
    say "removing namespaces and links a crashed lab left behind"
    lab_down
  fi
  [ -x "$(service ferry-dataplane)" ] && [ -x "$(service ferry-device-node)" ] || die "services not built in $bin (./ferry build)"

  # af_packet and af_xdp ports take standard frames (1518 B); the others carry 9000-byte ones.
  # af_packet and memif run DPDK on hugepages so that its tools attach (dpdk-dumpcap, ...).
  MTU=9000 NO_HUGE=true MEMORY_MB=64 DP_VDEVS= DN_VDEVS= DP_PORT= DN_PORT= DP_EXTRA= DN_EXTRA=
  KIND=$transport
  case "$transport" in
    kernel-udp|kernel-tcp) ;;
    af_packet)
      KIND=dpdk DP_PORT=net_af_packet0 DN_PORT=net_af_packet0 MTU=1500 NO_HUGE=false MEMORY_MB=128
      DP_VDEVS="'net_af_packet0,iface=$if_cvm'"
      DN_VDEVS="'net_af_packet0,iface=$if_acc'" ;;
    af_xdp)
      KIND=dpdk DP_PORT=net_af_xdp0 DN_PORT=net_af_xdp0 MTU=1500
      DP_VDEVS="'net_af_xdp0,iface=$if_cvm,start_queue=0,queue_count=1'"
      DN_VDEVS="'net_af_xdp0,iface=$if_acc,start_queue=0,queue_count=1'" ;;
    memif)
      KIND=dpdk DP_PORT=net_memif0 DN_PORT=net_memif0 NO_HUGE=false MEMORY_MB=256
      DN_VDEVS="'net_memif0,role=server,socket=$state/memif.sock,socket-abstract=no,bsize=10240'"
      DP_VDEVS="'net_memif0,role=client,socket=$state/memif.sock,socket-abstract=no,bsize=10240'" ;;
    *) die "--transport must be kernel-udp, kernel-tcp, af_packet, af_xdp or memif" ;;
  esac

  mkdir -p "$state/huge"
  STATE=$state STATE_HUGE=$state/huge SECURITY=$security
  printf 'transport=%s\nsecurity=%s\n' "$transport" "$security" >"$state/lab.env"
  trap 'rc=$?; if [ $rc -ne 0 ]; then say "failed; tearing down"; lab_down; fi' EXIT

  # Hugepages: the guest regions always live in them; DPDK uses them for memif.
  local nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
  [ -w "$nr" ] || die "cannot reserve 2 MiB hugepages ($nr not writable)"
  [ "$(cat "$nr")" -ge 512 ] || echo 512 >"$nr"
  [ "$(cat "$nr")" -ge 256 ] || die "could reserve only $(cat "$nr") hugepages (need 256)"
  mount -t hugetlbfs -o pagesize=2M nodev "$state/huge"
  DP_EXTRA="'--huge-dir', '$state/huge'" DN_EXTRA="'--huge-dir', '$state/huge'"

  ip netns add $ns_cvm
  ip netns add $ns_acc
  ip link add $if_cvm type veth peer name $if_acc
  ip link set $if_cvm netns $ns_cvm
  ip link set $if_acc netns $ns_acc
  ip -n $ns_cvm addr add $ip_cvm/15 dev $if_cvm
  ip -n $ns_acc addr add $ip_acc/15 dev $if_acc
  for pair in "$ns_cvm $if_cvm" "$ns_acc $if_acc"; do
    set -- $pair
    ip -n "$1" link set "$2" mtu "$MTU" up
    ip -n "$1" link set lo up
  done

  # One key per guest (the edu guest is guest 1, the accel guest guest 2).
  "$root/ferry" keygen "$state/psk-guest1" 2>/dev/null
  "$root/ferry" keygen "$state/psk-guest2" 2>/dev/null
  render "$templates/dataplane.yaml" "$state/dataplane.yaml"
  [ -z "$faults" ] || cat "$faults" >>"$state/dataplane.yaml"
  render "$templates/device-node.yaml" "$state/device-node.yaml"
  REGION=$state/huge/region-edu DEVICE_ID=1 GUEST_ID=1 render "$templates/guest.yaml" "$state/guest-edu.yaml"
  REGION=$state/huge/region-accel DEVICE_ID=2 GUEST_ID=2 render "$templates/guest.yaml" "$state/guest-accel.yaml"

  start_service $ns_acc ferry-device-node "$state/device-node.yaml"
  wait_ready ferry-device-node "$state/device-node.ready"
  start_service $ns_cvm ferry-dataplane "$state/dataplane.yaml"
  wait_ready ferry-dataplane "$state/dataplane.ready"
  if [ "$vm" = 1 ]; then
    FERRY_VM_KEEP=1 bash "$root/scripts/vm.sh" start "$state" "$bin" "$state/guest-edu.yaml" "$state/guest-accel.yaml"
    bash "$root/scripts/vm.sh" wait "$state" "${FERRY_VM_TIMEOUT:-900}" || die "the drivers in the VM failed (console: $state/vm.log)"
  fi
  trap - EXIT
  say "up: $transport, security $security, data plane on lcore $DP_LCORE, device node on lcore $DN_LCORE$([ "$vm" = 1 ] && echo ", guest in a VM")"
  echo "guest-config: $state/guest-edu.yaml"
}

start_service() {  # start_service NS NAME CONFIG
  ip netns exec "$1" setsid "$(service "$2")" "$3" >"$state/$2.log" 2>&1 </dev/null &
  echo $! >"$state/$2.pid"
}

wait_ready() {  # wait_ready NAME READY_FILE: until the service says it serves, or it died
  for _ in $(seq 600); do
    [ -f "$2" ] && return 0
    alive "$state/$1.pid" || { tail -n 20 "$state/$1.log" >&2; die "$1 exited before it was ready"; }
    sleep 0.05
  done
  tail -n 20 "$state/$1.log" >&2
  die "$1 not ready after 30 s"
}

# Starts one of the lab's services again with its config (stopping it first if it still
# runs) and waits until it serves: what a unit's Restart= does.
lab_restart() {  # lab_restart NAME
  require_root
  [ -f "$state/lab.env" ] || die "no lab is up"
  local ns short
  case "${1:-}" in
    ferry-dataplane) ns=$ns_cvm short=dataplane ;;
    ferry-device-node) ns=$ns_acc short=device-node ;;
    *) die "restart: name ferry-dataplane or ferry-device-node" ;;
  esac
  stop_service "$1"
  rm -f "$state/$short.ready"  # a killed service leaves its ready file behind
  start_service "$ns" "$1" "$state/$short.yaml"
  wait_ready "$1" "$state/$short.ready"
  say "restarted $1"
}

case "${1:-}" in
  up) shift; lab_up "$@" ;;
  restart) shift; lab_restart "$@" ;;
  down) lab_down ;;
  status) lab_status ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
