#!/usr/bin/env python3
"""Query a running ferry service's DPDK telemetry, like usertools/dpdk-telemetry.py (which
Debian's dpdk package does not ship): connects to /var/run/dpdk/<prefix>/dpdk_telemetry.v2.

    scripts/telemetry.py -f ferry-lab-dp /ferry/stats      one command, JSON on stdout
    scripts/telemetry.py -f ferry-lab-dn                   lists the commands (/)
Commands: /ferry/info /ferry/stats /ferry/latency /ferry/channels /ferry/app
          /ferry/queues[,<channel>] (per guest queue and session)
"""
import argparse
import json
import socket
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-f", "--file-prefix", default="rte", help="the service's eal.file_prefix")
    ap.add_argument("command", nargs="*", default=["/"], help="telemetry command(s)")
    args = ap.parse_args()
    path = f"/var/run/dpdk/{args.file_prefix}/dpdk_telemetry.v2"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
    except OSError as e:
        sys.exit(f"telemetry.py: cannot connect to {path}: {e}")
    greeting = json.loads(s.recv(65536).decode())
    for cmd in args.command:
        s.send(cmd.encode())
        reply = s.recv(greeting.get("max_output_len", 65536)).decode()
        print(json.dumps(json.loads(reply), indent=2))
    s.close()


if __name__ == "__main__":
    main()
