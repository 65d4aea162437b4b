#!/usr/bin/env python3
"""Checks a ferry bench output folder: results.json has the shape issue 7 asks for, with
figures that are measurements (positive, ordered percentiles), results.csv holds the same
records, every plot exists in SVG and PNG, and report.md answers the five questions.

  check_results.py OUT_DIR TRANSPORT,... SECURITY,...   exit 0 or 1 with one line per problem
"""
import csv
import json
import os
import sys

LAT = ("p50_ns", "p90_ns", "p99_ns", "p999_ns", "samples")
RATE = {"mmio_write": "writes_per_s", "dma_to_device": "gbytes_per_s",
        "dma_from_device": "gbytes_per_s", "edu_workload": "jobs_per_s",
        "accel_workload": "jobs_per_s"}
OPS = ["mmio_read", "mmio_write", "dma_to_device", "dma_from_device", "edu_workload",
       "accel_workload"]
QUESTIONS = ["## Q1. End-to-end overhead", "## Q2. Register-size access (MMIO) latency",
             "## Q3. Bulk (DMA) throughput", "## Q4. Cost of encryption and authentication",
             "## Q5. How transports differ"]


def check(out, transports, securities):
    bad = []
    res = json.load(open(os.path.join(out, "results.json")))
    for key in ("machine", "config", "records"):
        if key not in res:
            bad.append(f"results.json has no '{key}'")
    m, c = res.get("machine", {}), res.get("config", {})
    for k in ("cpu_model", "cores", "kernel", "load_avg_before", "load_avg_after"):
        if not m.get(k):
            bad.append(f"machine.{k} missing or empty")
    for k in ("layout", "idle", "build_type", "git_commit"):
        if not c.get(k):
            bad.append(f"config.{k} missing or empty")
    if res.get("failures"):
        bad.append(f"failures recorded: {res['failures']}")
    recs = res.get("records", [])
    rounds = c.get("rounds", 1)
    for r in recs:
        if r.get("rounds") != rounds:
            bad.append(f"{r.get('transport')}/{r.get('op')}: {r.get('rounds')} rounds merged, "
                       f"not {rounds}")
            break
    cells = [("local", "none")] + [(t, s) for t in transports for s in securities]
    for t, s in cells:
        mine = [r for r in recs if r.get("transport") == t and r.get("security") == s]
        ops = {r["op"] for r in mine}
        for op in OPS + ["mmio_read_mapped"] * (t in ("local", "memif")):
            if op not in ops:
                bad.append(f"{t}/{s}: no {op} record")
        for r in mine:
            if r["op"].startswith("mmio_read"):
                vals = [r.get(k) for k in LAT]
                if any(not isinstance(v, int) or v <= 0 for v in vals):
                    bad.append(f"{t}/{s} {r['op']} {r.get('size')}: latency fields {vals}")
                elif not vals[0] <= vals[1] <= vals[2] <= vals[3]:
                    bad.append(f"{t}/{s} {r['op']}: percentiles out of order {vals}")
            elif r["op"] in RATE and not r.get(RATE[r["op"]], 0) > 0:
                bad.append(f"{t}/{s} {r['op']} {r.get('size')}: no positive {RATE[r['op']]}")
        sizes = {r["size"] for r in mine if r["op"] == "mmio_read"}
        if not {4, 8} <= sizes:
            bad.append(f"{t}/{s}: mmio_read sizes {sorted(sizes)}")
        if {r.get("qd") for r in mine if r["op"] == "accel_workload"} != {1, 32}:
            bad.append(f"{t}/{s}: accel_workload not at queue depths 1 and 32")
    if "none" in securities and len(securities) > 1:
        for t in transports:
            if not any(x["transport"] == t for x in res.get("ratios", [])):
                bad.append(f"{t}: no security ratios against none")
    with open(os.path.join(out, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(recs) or (rows and "p50_ns" not in rows[0]):
        bad.append(f"results.csv: {len(rows)} rows for {len(recs)} records")
    plots = ["mmio_bars", "dma_to_device", "dma_from_device", "overhead"] + \
        [f"cdf_{s}" for s in securities]
    for p in plots:
        for ext, magic in (("svg", b"<svg"), ("png", b"\x89PNG")):
            path = os.path.join(out, "plots", f"{p}.{ext}")
            data = open(path, "rb").read() if os.path.exists(path) else b""
            if len(data) < 1000 or magic not in data[:400]:
                bad.append(f"plot {p}.{ext} missing, empty or not a {ext.upper()}")
    report = open(os.path.join(out, "report.md")).read()
    for q in QUESTIONS + ["## Targets of issue 7", "## Cost of transparency",
                          "## Multiples of the local baseline", "Crypto microbenchmarks",
                          "openssl_reinit", "plots/cdf_", "plots/mmio_bars.svg"]:
        if q not in report:
            bad.append(f"report.md does not contain '{q}'")
    return bad


if __name__ == "__main__":
    problems = check(sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(","))
    for p in problems:
        print(f"FAIL {p}")
    print("ok: results.json, results.csv, plots and report.md" if not problems else
          f"{len(problems)} problem(s)")
    sys.exit(1 if problems else 0)
