#!/usr/bin/env bash
# DPDK's own tools attach to a running lab's data plane as secondary processes (the services'
# default, eal.secondary_processes): dpdk-dumpcap captures the ferry frames the port carries
# while a guest reads registers, tshark reads them back from the pcapng file (UDP to port 7000
# between the lab's addresses, payload starting with the frame magic "FRY1"), dpdk-proc-info
# prints the port's counters and dpdk-telemetry.py answers /ferry/stats.
#   dpdk_tools_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
. "$src/tests/lab/lab_common.sh"  # lab, state, lab_require_root, lab_probe
prefix=ferry-lab-dp port=net_af_packet0 frames=40

lab_require_root "the DPDK tools lab test"
# ./ferry installs these (dpdk-dev, tshark); a missing one is a failure, not a skip.
for tool in dpdk-dumpcap dpdk-proc-info dpdk-telemetry.py tshark; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (./ferry installs it: dpdk-dev, tshark)"; exit 1; }
done
lab_probe "$build"

tmp=$(mktemp -d)
dumpcap_pid=
cleanup() {
  [ -z "$dumpcap_pid" ] || kill "$dumpcap_pid" 2>/dev/null
  lab down >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
lab down >/dev/null 2>&1
out=$(lab up --transport af_packet 2>&1) || { echo "$out" | tail -n 15; exit 1; }

# dpdk-dumpcap: a secondary process of the data plane; it asks the primary (rte_pdump) to copy
# the port's packets to it and stops after `frames` of them.
timeout 120 dpdk-dumpcap --file-prefix "$prefix" -i "$port" -p -c "$frames" -w "$tmp/lab.pcapng" \
  >"$tmp/dumpcap.log" 2>&1 &
dumpcap_pid=$!
for _ in $(seq 100); do
  grep -q "Packets captured:" "$tmp/dumpcap.log" && break  # its progress line: capture is on
  kill -0 "$dumpcap_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q "Packets captured:" "$tmp/dumpcap.log" ||
  { echo "dpdk-dumpcap did not attach to $prefix:"; cat "$tmp/dumpcap.log"; exit 1; }

# Traffic: register reads of the lab's edu guest, each a frame each way on the data plane's port.
timeout 120 "$probe" "$state/guest-edu.yaml" mmio_read --iters 200 --warmup 0 --size 4 >"$tmp/probe.log" 2>&1 ||
  { echo "ferry-probe failed:"; tail -n 5 "$tmp/probe.log"; exit 1; }
wait "$dumpcap_pid"
rc=$?
dumpcap_pid=
[ "$rc" -eq 0 ] || { echo "dpdk-dumpcap exited $rc:"; cat "$tmp/dumpcap.log"; exit 1; }

fail=0
total=$(tshark -r "$tmp/lab.pcapng" 2>"$tmp/tshark.err" | wc -l)
# dpdk-dumpcap checks its count per burst of packets, so it may write a few more.
[ "$total" -ge "$frames" ] || { echo "tshark read $total frames from the capture, dpdk-dumpcap was asked for $frames"; cat "$tmp/tshark.err"; fail=1; }
# The ferry frames both ways: UDP 198.18.0.1:7000 <-> 198.18.0.2:7000, payload "FRY1"... (not
# the ICMP errors that quote them: the kernel beside the af_packet port has no socket on 7000)
count() {  # count SRC DST: ferry frames from SRC to DST in the capture
  tshark -r "$tmp/lab.pcapng" -Y "!icmp && ip.src == $1 && ip.dst == $2 && udp.srcport == 7000 && udp.dstport == 7000 && udp.payload[0:4] == 46:52:59:31" \
    -T fields -e frame.number 2>/dev/null | wc -l
}
out_frames=$(count 198.18.0.1 198.18.0.2) in_frames=$(count 198.18.0.2 198.18.0.1)
echo "captured $total frames: $out_frames ferry frames out, $in_frames in"
[ "$out_frames" -gt 0 ] || { echo "no ferry frame from the data plane in the capture:"; tshark -r "$tmp/lab.pcapng" | head -n 20; fail=1; }
[ "$in_frames" -gt 0 ] || { echo "no ferry frame from the device node in the capture:"; tshark -r "$tmp/lab.pcapng" | head -n 20; fail=1; }

# dpdk-proc-info: the port's counters, read from the primary's shared memory.
timeout 60 dpdk-proc-info --file-prefix "$prefix" -- --stats >"$tmp/proc-info.log" 2>&1 ||
  { echo "dpdk-proc-info failed:"; tail -n 20 "$tmp/proc-info.log"; fail=1; }
rx=$(sed -n 's/^ *RX-packets: *\([0-9]*\) .*/\1/p' "$tmp/proc-info.log" | head -n 1)
tx=$(sed -n 's/^ *TX-packets: *\([0-9]*\) .*/\1/p' "$tmp/proc-info.log" | head -n 1)
grep -q "NIC statistics for port 0" "$tmp/proc-info.log" && [ "${rx:-0}" -ge "$in_frames" ] && [ "${tx:-0}" -ge "$out_frames" ] ||
  { echo "dpdk-proc-info shows no port statistics with the captured traffic (RX $rx, TX $tx):"; head -n 30 "$tmp/proc-info.log"; fail=1; }

# dpdk-telemetry.py: the operator's client for the engine's /ferry/ commands.
reply=$(echo /ferry/stats | timeout 30 dpdk-telemetry.py -f "$prefix" 2>&1)
python3 -c 'import json,sys; d=json.loads(sys.argv[1].splitlines()[-1]); assert d["/ferry/stats"]["frames_tx"] > 0' "$reply" ||
  { echo "dpdk-telemetry.py /ferry/stats did not answer with frames_tx:"; echo "$reply"; fail=1; }
exit $fail
