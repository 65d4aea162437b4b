#!/usr/bin/env python3
"""The core layout / idle policy study behind the lab's defaults (docs/layout.md).

  bench_layout.py [--reads N] [--rounds N] [--out DIR]

On a machine with fewer cores than parties (guest, data plane, device node), where each one
runs decides the latency. For each layout (which lcore the data plane and the device node
poll on, which CPU the guest is pinned to) and idle policy, it brings the lab up on memif and
on kernel-udp (security confidential, the default), measures the accel 8-byte MMIO read
(ferry-probe, N reads after warm-up) and takes the lab down. Rounds repeat the whole sweep
in a different order, so slow drifts of a shared machine do not favour one layout; the table
gives the median of the rounds' p50 and p99. Holds /tmp/ferry-lab.lock for the whole run.
Writes DIR/layout.json and DIR/layout.md (the table).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import bench  # noqa: E402

# (name, dp lcore, dn lcore, guest cpu or None for unpinned)
LAYOUTS = [("dp0 dn1 guest-free", 0, 1, None),
           ("dp0 dn1 guest-with-dn", 0, 1, 1),
           ("dp0 dn1 guest-with-dp", 0, 1, 0),
           ("dp0 dn0 guest-alone", 0, 0, 1),
           ("dp0 dn0 guest-free", 0, 0, None)]
IDLES = [("spin-then-yield", 100), ("spin-then-yield", 20), ("spin-then-sleep", 100)]
TRANSPORTS = ["memif", "kernel-udp"]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, **kw)


def measure(build, transport, layout, idle, reads):
    _, dp, dn, guest = layout
    mode, polls = idle
    env = dict(os.environ, FERRY_BIN=build)
    lab = ["bash", os.path.join(ROOT, "scripts", "lab.sh")]
    run(lab + ["down"], env=env)
    up = run(lab + ["up", "--transport", transport, "--security", "confidential",
                    "--dp-lcore", str(dp), "--dn-lcore", str(dn), "--idle", mode,
                    "--spin-polls", str(polls)], env=env)
    try:
        if up.returncode != 0:
            return {"error": up.stderr.strip()[-300:]}
        state = os.environ.get("FERRY_LAB_STATE", "/run/ferry-lab")
        cmd = [os.path.join(build, "tools", "ferry-probe"), f"{state}/guest-accel.yaml",
               "mmio_read", "--size", "8", "--iters", str(reads), "--warmup", "500"]
        if guest is not None:
            cmd = ["taskset", "-c", str(guest)] + cmd
        p = run(cmd)
        if p.returncode != 0:
            return {"error": p.stderr.strip()[-300:]}
        return json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        run(lab + ["down"], env=env)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default="layout-results")
    ap.add_argument("--layouts", help="comma list of layout names to measure (default: all)")
    ap.add_argument("--idles", help="comma list of MODE:POLLS (default: all)")
    o = ap.parse_args(argv)
    build = os.path.join(ROOT, os.environ.get("FERRY_BUILD_DIR", "build"))
    os.makedirs(o.out, exist_ok=True)
    lays = [lay for lay in LAYOUTS if not o.layouts or lay[0] in o.layouts.split(",")]
    idles = IDLES if not o.idles else \
        [(m, int(p)) for m, p in (x.split(":") for x in o.idles.split(","))]
    combos = [(t, lay, idle) for t in TRANSPORTS for lay in lays for idle in idles]
    lock = bench.take_lab_lock()
    load_before = bench.loadavg()
    samples = {}
    t0 = time.monotonic()
    try:
        for rnd in range(o.rounds):
            order = combos if rnd % 2 == 0 else list(reversed(combos))
            for i, (t, lay, idle) in enumerate(order):
                bench.say(f"round {rnd + 1}/{o.rounds}, {i + 1}/{len(order)}: {t} {lay[0]} "
                          f"{idle[0]} {idle[1]} ({(time.monotonic() - t0) / 60:.1f} min)")
                r = measure(build, t, lay, idle, o.reads)
                samples.setdefault((t, lay[0], idle[0], idle[1]), []).append(r)
    finally:
        if lock is not None:
            lock.close()
    rows = []
    for (t, lay, mode, polls), rs in samples.items():
        ok = [r for r in rs if "p50_ns" in r]
        rows.append({"transport": t, "layout": lay, "idle": mode, "spin_polls": polls,
                     "rounds": len(ok), "errors": [r["error"] for r in rs if "error" in r],
                     "p50_ns": statistics.median(r["p50_ns"] for r in ok) if ok else None,
                     "p99_ns": statistics.median(r["p99_ns"] for r in ok) if ok else None,
                     "p50_rounds": [r["p50_ns"] for r in ok]})
    info = {"machine": bench.machine_info(), "load_avg_before": load_before,
            "load_avg_after": bench.loadavg(), "reads": o.reads, "rounds": o.rounds,
            "security": "confidential", "read": "accel 8-byte register", "rows": rows}
    with open(os.path.join(o.out, "layout.json"), "w") as f:
        json.dump(info, f, indent=1)
    lines = ["| transport | layout | idle | p50 us | p99 us | p50 per round (us) |",
             "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["transport"], r["p50_ns"] or 1e18)):
        f = lambda v: "fail" if v is None else f"{v / 1000:.1f}"  # noqa: E731
        lines.append(f"| {r['transport']} | {r['layout']} | {r['idle']} {r['spin_polls']} | "
                     f"{f(r['p50_ns'])} | {f(r['p99_ns'])} | "
                     f"{', '.join(f(v) for v in r['p50_rounds'])} |")
    with open(os.path.join(o.out, "layout.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
