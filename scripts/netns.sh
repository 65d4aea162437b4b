#!/usr/bin/env bash
# Lab plumbing for the engine tests (and for trying transports by hand): two network
# namespaces joined by a veth pair on 198.18.0.0/15, and 2 MiB hugepages.
#
#   netns.sh up NS_A NS_B IF_A IF_B IP_A IP_B [MTU]
#       IP "-" leaves that end without a kernel address: a DPDK port (af_packet, af_xdp)
#       owns it, and the kernel must not answer ARP or send ICMP for it. The other end then
#       gets TX checksum offload turned off, so the frames the DPDK port reads carry complete
#       UDP checksums (a veth otherwise passes them on unfinished).
#   netns.sh down NS_A NS_B         removes both namespaces (and so the veth); idempotent
#   netns.sh hugepages N [DIR]      reserves at least N 2 MiB pages; mounts hugetlbfs on DIR
#
# Needs root and iproute2; prints why and exits 1 otherwise.
set -euo pipefail

die() { printf 'netns.sh: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root"
command -v ip >/dev/null || die "needs iproute2"

up() {
  [ $# -ge 6 ] || die "usage: up NS_A NS_B IF_A IF_B IP_A IP_B [MTU]"
  local ns_a=$1 ns_b=$2 if_a=$3 if_b=$4 ip_a=$5 ip_b=$6 mtu=${7:-1500}
  down "$ns_a" "$ns_b"
  ip netns add "$ns_a"
  ip netns add "$ns_b"
  ip link add "$if_a" type veth peer name "$if_b"
  ip link set "$if_a" netns "$ns_a"
  ip link set "$if_b" netns "$ns_b"
  local pair
  for pair in "$ns_a $if_a $ip_a" "$ns_b $if_b $ip_b"; do
    set -- $pair
    ip -n "$1" link set lo up
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" || true
    ip -n "$1" link set "$2" mtu "$mtu" up
    if [ "$3" != - ]; then ip -n "$1" addr add "$3/15" dev "$2"; fi
  done
  if [ "$ip_a" = - ] || [ "$ip_b" = - ]; then
    for pair in "$ns_a $if_a" "$ns_b $if_b"; do
      set -- $pair
      ip netns exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
    done
  fi
}

down() {
  local ns
  for ns in "$@"; do
    if ip netns list | grep -qw -- "$ns"; then
      local pid
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

hugepages() {
  local want=${1:?usage: hugepages N [DIR]} dir=${2:-/dev/hugepages}
  local nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
  [ -w "$nr" ] || die "cannot reserve hugepages ($nr not writable)"
  [ "$(cat "$nr")" -ge "$want" ] || echo "$want" >"$nr"
  [ "$(cat "$nr")" -ge "$want" ] || die "only $(cat "$nr") hugepages could be reserved (wanted $want)"
  mkdir -p "$dir"
  mountpoint -q "$dir" || mount -t hugetlbfs -o pagesize=2M nodev "$dir"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) shift; down "$@" ;;
  hugepages) shift; hugepages "$@" ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
