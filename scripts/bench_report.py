#!/usr/bin/env python3
"""report.md of a ferry bench run, from its results.json alone (every figure comes from it).

  bench_report.py OUT_DIR     (re)writes OUT_DIR/report.md from OUT_DIR/results.json
                              (and OUT_DIR/notes.md, a hand-written section, if present)
"""
import json
import os
import sys

TRANSPORT_ORDER = ["local", "kernel-tcp", "kernel-udp", "af_packet", "af_xdp", "memif"]
SEC_ORDER = ["none", "integrity", "confidential"]
HEADLINE = ("accel", 8)  # the register-size read the headline figures use
DMA_SIZES = [4096, 16384, 65536, 262144, 1048576]


def find(records, transport, security, op, size=None, device=None, qd=None):
    for r in records:
        if r["transport"] != transport or r["security"] != security or r["op"] != op:
            continue
        if size is not None and r.get("size") != size:
            continue
        if device is not None and r.get("device") != device:
            continue
        if qd is not None and r.get("qd") != qd:
            continue
        return r
    return None


def value(r):
    for k in ("p50_ns", "gbytes_per_s", "jobs_per_s", "writes_per_s"):
        if r is not None and k in r:
            return r[k]
    return None


def metric_key(r):
    qd = f" qd{r['qd']}" if r["op"] == "accel_workload" else ""
    return f"{r['op']} {r['device']} {r['size']}{qd}"


def security_ratios(records):
    """Each measurement at integrity/confidential against none, same transport, same run."""
    out = []
    for r in records:
        if r["security"] == "none":
            continue
        base = find(records, r["transport"], "none", r["op"], r["size"], r["device"],
                    r.get("qd") if r["op"] == "accel_workload" else None)
        a, b = value(r), value(base)
        if not a or not b:
            continue
        lower_better = "p50_ns" in r
        out.append({"transport": r["transport"], "security": r["security"],
                    "metric": metric_key(r), "field": "p50_ns" if lower_better else
                    next(k for k in ("gbytes_per_s", "jobs_per_s", "writes_per_s") if k in r),
                    "ratio": round(a / b, 3),
                    # >1 means slower than none for every metric
                    "slowdown": round(a / b if lower_better else b / a, 3)})
    return out


def transports_of(res):
    seen = {r["transport"] for r in res["records"]}
    return [t for t in TRANSPORT_ORDER if t in seen] + sorted(seen - set(TRANSPORT_ORDER))


def securities_of(res, t):
    seen = {r["security"] for r in res["records"] if r["transport"] == t}
    return [s for s in SEC_ORDER if s in seen]


def us(ns):
    return "n/a" if ns is None else f"{ns / 1000:.1f}"


def fx(v, digits=2):
    return "n/a" if v is None else f"{v:.{digits}f}"


def headline_p50(rec, t, s):
    r = find(rec, t, s, "mmio_read", HEADLINE[1], HEADLINE[0])
    return r["p50_ns"] if r else None


def target_rows(res):
    rec = res["records"]
    rows = []

    def add(name, measured, limit, ok, how):
        if measured is None:
            rows.append((name, "not measured", limit, "not measured in this run"))
        else:
            rows.append((name, measured, limit, ("met" if ok else "MISSED") + how))

    for sec in ("confidential", "none"):
        ku = headline_p50(rec, "kernel-udp", sec)
        for t, lim in (("memif", 0.35), ("af_packet", 0.8)):
            p = headline_p50(rec, t, sec)
            ratio = p / ku if p and ku else None
            add(f"{t} MMIO read p50 / kernel-udp p50 ({sec})",
                None if ratio is None else f"{ratio:.2f}x", f"<= {lim}x",
                ratio is not None and ratio <= lim,
                "" if ratio is None or ratio <= lim else f" by {ratio / lim:.2f}x "
                f"({ratio - lim:+.2f})")
    n, c = headline_p50(rec, "memif", "none"), headline_p50(rec, "memif", "confidential")
    ratio = c / n if c and n else None
    add("memif confidential MMIO read p50 / none", None if ratio is None else f"{ratio:.2f}x",
        "<= 1.10x", ratio is not None and ratio <= 1.10,
        "" if ratio is None or ratio <= 1.10 else f" by {(ratio - 1.10) * 100:.0f} points")
    for op in ("dma_to_device", "dma_from_device"):
        a = value(find(rec, "memif", "confidential", op, 262144))
        b = value(find(rec, "memif", "none", op, 262144))
        ratio = a / b if a and b else None
        add(f"memif {op} 256 KiB confidential / none", None if ratio is None else
            f"{ratio:.2f}x", ">= 0.80x (within 20%)", ratio is not None and ratio >= 0.8,
            "" if ratio is None or ratio >= 0.8 else f" by {(0.8 - ratio) * 100:.0f} points")
    for op in ("dma_to_device", "dma_from_device"):
        g = value(find(rec, "memif", "confidential", op, 1048576))
        add(f"memif {op} 1 MiB confidential", None if g is None else f"{g:.2f} GB/s",
            ">= 1.5 GB/s", g is not None and g >= 1.5,
            "" if g is None or g >= 1.5 else f" by {1.5 - g:.2f} GB/s ({g / 1.5:.0%} of it)")
    return rows


def trap_rows(res):
    """(transport, security, accessor p50, trapped p50, added) per mmio_read_mapped record:
    the accessor figure is the one measured interleaved with the trapped reads."""
    rows = []
    for r in res["records"]:
        if r["op"] != "mmio_read_mapped":
            continue
        acc = r.get("accessor_p50_ns")
        if acc is None:
            a = find(res["records"], r["transport"], r["security"], "mmio_read", 4, "edu")
            acc = a["p50_ns"] if a else None
        if acc is not None:
            rows.append((r["transport"], r["security"], acc, r["p50_ns"], r["p50_ns"] - acc))
    return rows


def answers(res):
    """One paragraph per question, each sentence from this run's figures."""
    rec = res["records"]
    ts = [t for t in transports_of(res) if t != "local"]
    local = headline_p50(rec, "local", "none")
    q = {}
    # Q1 end to end
    parts = []
    for t in ts:
        for s in securities_of(res, t):
            e = value(find(rec, t, s, "edu_workload"))
            a32 = value(find(rec, t, s, "accel_workload", qd=32))
            parts.append((t, s, e, a32))
    le = value(find(rec, "local", "none", "edu_workload"))
    la32 = value(find(rec, "local", "none", "accel_workload", qd=32))
    la1 = value(find(rec, "local", "none", "accel_workload", qd=1))
    best = max((p for p in parts if p[3]), key=lambda p: p[3], default=None)
    worst = min((p for p in parts if p[3]), key=lambda p: p[3], default=None)
    txt = (f"The edu workload (factorials, each waited for by interrupt) runs at "
           f"{fx(le, 0)} jobs/s in the local baseline; ")
    if best and la32:
        txt += (f"the accelerator (4 KiB CRC32C+copy, queue depth 32) at {fx(la32, 0)} jobs/s "
                f"locally ({fx(la1, 0)} at depth 1) against {fx(best[3], 0)} jobs/s at best "
                f"over the network ({best[0]}/{best[1]}, {la32 / best[3]:.1f}x fewer) and "
                f"{fx(worst[3], 0)} at worst ({worst[0]}/{worst[1]}). ")
    cc = [(t, value(find(rec, t, "confidential", "edu_workload"))) for t in ts]
    cc = [(t, v) for t, v in cc if v]
    if cc and le:
        txt += ("End to end at `confidential`, the edu workload keeps " +
                ", ".join(f"{v / le:.0%} ({t})" for t, v in cc) + " of the local rate. ")
    q[1] = txt
    # Q2 MMIO latency
    rows = []
    for t in ts:
        for s in securities_of(res, t):
            p = headline_p50(rec, t, s)
            r = find(rec, t, s, "mmio_read", HEADLINE[1], HEADLINE[0])
            if p:
                rows.append((t, s, p, r["p99_ns"]))
    if rows and local:
        lo = min(rows, key=lambda x: x[2])
        hi = max(rows, key=lambda x: x[2])
        q[2] = (f"An 8-byte register read costs {local:.0f} ns in the local baseline (a function "
                f"call into the model). Over the lab it costs between {us(lo[2])} us p50 "
                f"({lo[0]}/{lo[1]}, p99 {us(lo[3])} us, {lo[2] / local:.0f}x local) and "
                f"{us(hi[2])} us p50 ({hi[0]}/{hi[1]}, p99 {us(hi[3])} us, {hi[2] / local:.0f}x "
                f"local). ")
        spreads = []
        for t in ts:
            for s in securities_of(res, t):
                ps = [r["p50_ns"] for r in rec if r["transport"] == t and r["security"] == s
                      and r["op"] == "mmio_read" and r["device"] == "accel"]
                if len(ps) > 1:
                    spreads.append(max(ps) / min(ps))
        if spreads:
            q[2] += (f"Across the 1, 2, 4 and 8-byte accel reads of one cell, p50 differs by "
                     f"{(min(spreads) - 1) * 100:.0f}% to {(max(spreads) - 1) * 100:.0f}%: "
                     f"the access size is not what the time is spent on. ")
        tails = [(r["p99_ns"] / r["p50_ns"],
                  f"{r['transport']}/{r['security']} {r['device']} {r['size']} B") for r in rec
                 if r["op"] == "mmio_read" and r["transport"] != "local" and r["p50_ns"]]
        if tails:
            lo_t, hi_t = min(tails), max(tails)
            q[2] += (f"p99 is {lo_t[0]:.0f}x ({lo_t[1]}) to {hi_t[0]:.0f}x ({hi_t[1]}) p50; "
                     f"tails of milliseconds are scheduler time slices: when each of the "
                     f"three parties sharing the cores gets one.")
    else:
        q[2] = "Not measured in this run."
    # Q3 DMA
    best = {}
    for op in ("dma_to_device", "dma_from_device"):
        cands = [r for r in rec if r["op"] == op and r["size"] == 1048576 and
                 r["transport"] != "local"]
        if cands:
            b = max(cands, key=lambda r: r["gbytes_per_s"])
            w = min(cands, key=lambda r: r["gbytes_per_s"])
            best[op] = (b, w)
    txt = ""
    for op, (b, w) in best.items():
        loc = value(find(rec, "local", "none", op, 1048576))
        txt += (f"{op.replace('_', ' ')} at 1 MiB: {b['gbytes_per_s']:.2f} GB/s at best "
                f"({b['transport']}/{b['security']}), {w['gbytes_per_s']:.2f} GB/s at worst "
                f"({w['transport']}/{w['security']}); the local memcpy baseline does "
                f"{fx(loc)} GB/s. ")
    small = [r for r in rec if r["op"] == "dma_to_device" and r["size"] == 4096 and
             r["transport"] != "local"]
    if small:
        b = max(small, key=lambda r: r["gbytes_per_s"])
        per_us = 4096 / b["gbytes_per_s"] / 1000
        rt = find(rec, b["transport"], b["security"], "mmio_read", 8, "edu")
        txt += (f"A 4 KiB transfer moves at most {b['gbytes_per_s']:.2f} GB/s "
                f"({b['transport']}/{b['security']}): {per_us:.0f} us per transfer"
                + (f", {per_us * 1000 / rt['p50_ns']:.1f} register round trips (p50) of that "
                   f"cell; small transfers pay the programming and polling of the DMA "
                   f"registers, not the bytes." if rt else "."))
    q[3] = txt or "Not measured in this run."
    # Q4 crypto
    ratios = [x for x in res.get("ratios", []) if x["metric"] == "mmio_read accel 8"]
    dma = [x for x in res.get("ratios", []) if x["metric"].startswith("dma_") and
           " 262144" in x["metric"]]
    txt = ""
    if ratios:
        txt += ("MMIO read p50 against `none` on the same transport: " +
                "; ".join(f"{x['transport']} {x['security']} {x['ratio']:.2f}x"
                          for x in ratios) + ". ")
    if dma:
        txt += ("DMA 256 KiB throughput against `none`: " +
                "; ".join(f"{x['transport']} {x['security']} "
                          f"{x['metric'].split()[0].replace('dma_', '')} {x['ratio']:.2f}x"
                          for x in dma) + ". ")
    for sec in ("integrity", "confidential"):
        m = sorted(x["ratio"] for x in ratios if x["security"] == sec)
        d = sorted(x["ratio"] for x in dma if x["security"] == sec)
        if m:
            txt += (f"Median over transports at `{sec}`: MMIO p50 {m[len(m) // 2]:.2f}x `none`"
                    + (f", DMA 256 KiB throughput {d[len(d) // 2]:.2f}x `none`" if d else "")
                    + ". ")
    desc = {b["name"]: b["ns_per_op"] for b in res.get("crypto", {}).get("benchmarks", [])}
    ip, rei = desc.get("BM_DescriptorSealOpen/ipsecmb"), desc.get("BM_DescriptorSealOpen/openssl_reinit")
    ku = headline_p50(rec, "kernel-udp", "none") or headline_p50(rec, "memif", "none")
    if ip:
        txt += (f"Sealing and opening one 64-byte descriptor costs {ip:.0f} ns with ipsec-mb"
                + (f" ({rei:.0f} ns with OpenSSL re-initialised per message)" if rei else "")
                + (f", {100 * 2 * ip / ku:.1f}% of a `none` round trip here (a read is two "
                   f"descriptors, each sealed at one end and opened at the other)" if ku else "") + ". ")
    q[4] = txt if (ratios or dma) else "Needs `none` and another level on one transport."
    # Q5 transports
    txt = ""
    for sec in ("confidential", "none"):
        ku = headline_p50(rec, "kernel-udp", sec)
        if not ku:
            continue
        others = [(t, headline_p50(rec, t, sec)) for t in ts if t != "kernel-udp"]
        others = [(t, p) for t, p in others if p]
        if others:
            txt += (f"At `{sec}`, against kernel-udp's {us(ku)} us MMIO p50: " +
                    ", ".join(f"{t} {p / ku:.2f}x" for t, p in others) + ". ")
    bypass = [(t, headline_p50(rec, t, "confidential")) for t in ("af_packet", "af_xdp", "memif")]
    kern = [(t, headline_p50(rec, t, "confidential")) for t in ("kernel-udp", "kernel-tcp")]
    bypass = [(t, p) for t, p in bypass if p]
    kern = [(t, p) for t, p in kern if p]
    if bypass and kern:
        bb, bk = min(bypass, key=lambda x: x[1]), min(kern, key=lambda x: x[1])
        txt += (f"Fastest kernel-bypass transport at `confidential`: {bb[0]} ({us(bb[1])} us "
                f"p50); fastest kernel-stack one: {bk[0]} ({us(bk[1])} us), so bypass "
                f"{'saves' if bb[1] < bk[1] else 'does not save'} "
                f"{abs(1 - bb[1] / bk[1]) * 100:.0f}% of the round trip on this machine. ")
    q[5] = txt
    return q


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def write(res, out_dir):
    rec, m, c = res["records"], res["machine"], res["config"]
    ts = transports_of(res)
    local = headline_p50(rec, "local", "none")
    lines = [f"# ferry bench report ({c.get('date_utc', '')})", ""]
    la_b, la_a = m.get("load_avg_before", []), m.get("load_avg_after", [])
    shared = any(x > 1.5 for x in la_b[:1] + la_a[:1])
    lines += [f"Machine: {m.get('cpu_model')} ({m.get('cores')} cores, {m.get('memory_gib')} "
              f"GiB), Linux {m.get('kernel')}, host `{m.get('hostname')}`. Load average "
              f"before {la_b}, after {la_a}.", ""]
    if shared:
        lines += ["**The machine was shared** (load average above 1.5 on 2 cores: parallel "
                  "builds and tests of other work ran during this run). Absolute figures are "
                  "noisy; compare ratios within this run.", ""]
    lay = c.get("layout", {})
    lines += [f"Configuration: {c.get('mode')}, {'quick' if c.get('quick') else 'full'} matrix "
              f"(iteration scale {c.get('scale')}, {c.get('rounds', 1)} round(s), each figure the "
              f"median over the rounds), data plane on lcore {lay.get('dp_lcore')}, "
              f"device node on lcore {lay.get('dn_lcore')}, guest {lay.get('guest_cpu')}, "
              f"idle {c.get('idle', {}).get('mode')} ({c.get('idle', {}).get('spin_polls')} "
              f"polls), build {c.get('build_type')}, commit {c.get('git_commit')}, run took "
              f"{c.get('duration_s', 0) / 60:.1f} min. The headline MMIO figure is the "
              f"{c.get('mmio_read_headline')}. `local` is the same probe and driver code over "
              f"the real device model in one process (no network, no crypto).", ""]
    if res.get("failures"):
        lines += ["Failures in this run:", ""]
        lines += [f"- {f['transport']}/{f['security']} {f['what']}: `{f['error'][-200:]}`"
                  for f in res["failures"]]
        lines += [""]
    q = answers(res)
    titles = {1: "End-to-end overhead", 2: "Register-size access (MMIO) latency",
              3: "Bulk (DMA) throughput", 4: "Cost of encryption and authentication",
              5: "How transports differ: kernel stack against kernel bypass"}
    # Q1
    lines += [f"## Q1. {titles[1]}", "", q[1], ""]
    rows = []
    for t in ts:
        for s in securities_of(res, t):
            rows.append((t, s, fx(value(find(rec, t, s, "edu_workload")), 0),
                         fx(value(find(rec, t, s, "accel_workload", qd=1)), 0),
                         fx(value(find(rec, t, s, "accel_workload", qd=32)), 0),
                         fx(value(find(rec, t, s, "mmio_write")), 0)))
    lines += [table(["transport", "security", "edu jobs/s", "accel jobs/s qd 1",
                     "accel jobs/s qd 32", "posted writes/s"], rows), ""]
    # Q2
    lines += [f"## Q2. {titles[2]}", "", q[2], ""]
    rows = []
    for t in ts:
        for s in securities_of(res, t):
            for dev, size in (("accel", 1), ("accel", 2), ("accel", 4), ("accel", 8),
                              ("edu", 4), ("edu", 8)):
                r = find(rec, t, s, "mmio_read", size, dev)
                if r:
                    mult = f"{r['p50_ns'] / local:.0f}x" if local and t != "local" else "1x" \
                        if t == "local" else "n/a"
                    rows.append((t, s, f"{dev} {size}", us(r["p50_ns"]), us(r["p90_ns"]),
                                 us(r["p99_ns"]), us(r["p999_ns"]), r["samples"], mult))
    lines += [table(["transport", "security", "read", "p50 us", "p90 us", "p99 us",
                     "p99.9 us", "samples", "p50 / local"], rows), ""]
    for s in SEC_ORDER:
        if os.path.exists(os.path.join(out_dir, "plots", f"cdf_{s}.svg")):
            lines += [f"![latency CDF, {s}](plots/cdf_{s}.svg)", ""]
    lines += ["![MMIO read p50/p99](plots/mmio_bars.svg)", ""]
    # Q3
    lines += [f"## Q3. {titles[3]}", "", q[3], ""]
    rows = []
    for t in ts:
        for s in securities_of(res, t):
            for op in ("dma_to_device", "dma_from_device"):
                vals = [value(find(rec, t, s, op, size)) for size in DMA_SIZES]
                if any(vals):
                    rows.append([t, s, op.replace("dma_", "")] + [fx(v) for v in vals])
    lines += [table(["transport", "security", "direction"] +
                    [f"{sz // 1024} KiB GB/s" for sz in DMA_SIZES], rows), ""]
    lines += ["![DMA to device](plots/dma_to_device.svg)", "",
              "![DMA from device](plots/dma_from_device.svg)", ""]
    # Q4
    lines += [f"## Q4. {titles[4]}", "", q[4], ""]
    rows = [(x["transport"], x["security"], x["metric"], x["field"], f"{x['ratio']:.2f}",
             f"{x['slowdown']:.2f}") for x in res.get("ratios", [])
            if x["metric"] in ("mmio_read accel 8", "mmio_read edu 4", "dma_to_device edu 262144",
                               "dma_from_device edu 262144", "dma_to_device edu 1048576",
                               "dma_from_device edu 1048576", "accel_workload accel 4096 qd32",
                               "edu_workload edu 4")]
    lines += ["Ratios against `none` on the same transport in this run (slowdown > 1: slower; "
              "all ratios are in results.json):", "",
              table(["transport", "security", "measurement", "field", "ratio", "slowdown"],
                    rows), "", "![overhead ratios](plots/overhead.svg)", ""]
    crypto = res.get("crypto", {})
    lines += ["### Crypto microbenchmarks (ipsec-mb against OpenSSL)", "",
              "`build/bench/ferry-microbench`: ferry's sealing path with ipsec-mb and with "
              "OpenSSL, the original prototype's way (`openssl_reinit`: an EVP context and key "
              "set up again for every message), and the bare ipsec-mb GCM call.", ""]
    if crypto.get("benchmarks"):
        keep = ("/64", "/4096", "/65536", "DescriptorSealOpen")
        lines += [table(["benchmark", "time per op (ns)", "GB/s"],
                        [(b["name"], b["ns_per_op"], b["gbytes_per_s"] or "")
                         for b in crypto["benchmarks"] if b["name"].endswith(keep) or
                         "DescriptorSealOpen" in b["name"]]), "",
                  "(every size: results.json, `crypto`)", ""]
        lines += crypto_summary(crypto["benchmarks"]) + [""]
    else:
        lines += [f"Not run: {crypto.get('error', 'no data')}", ""]
    # Q5
    lines += [f"## Q5. {titles[5]}", "", q[5], ""]
    # targets, trap, local
    lines += ["## Targets of issue 7", "",
              table(["target", "measured", "limit", "verdict"], target_rows(res)), ""]
    lines += ["## Cost of transparency (trap-and-emulate, issue 9)", "",
              "`mmio_read_mapped` is the 4-byte edu id read as a plain load from the BAR "
              "`ferry_map_bar` maps (SIGSEGV, decode, accessor call, resume); `mmio_read` is "
              "the same read through `ferry_ioread32`, the two alternating in one loop so both "
              "see the same moments of the machine.", ""]
    tr = trap_rows(res)
    lines += [table(["transport", "security", "accessor p50 ns", "trapped p50 ns",
                     "added p50 ns"], [(a, b, c2, d, e) for a, b, c2, d, e in tr])
              if tr else "Not measured in this run.", ""]
    lines += ["## Multiples of the local baseline (MMIO read p50, accel 8 B)", ""]
    rows = [(t, s, us(headline_p50(rec, t, s)),
             f"{headline_p50(rec, t, s) / local:.0f}x" if local and headline_p50(rec, t, s)
             else "n/a") for t in ts if t != "local" for s in securities_of(res, t)]
    lines += [f"Local baseline: {local} ns." if local else "Local baseline not measured.", "",
              table(["transport", "security", "p50 us", "multiple of local"], rows), ""]
    notes = os.path.join(out_dir, "notes.md")
    if os.path.exists(notes):  # written by hand after the run (profiles, causes)
        lines += ["## Notes on this run (written after it, not generated)", "",
                  open(notes).read().strip(), ""]
    lines += ["Raw data: `results.json` (records, ratios, CDF quantiles, crypto, failures), "
              "`results.csv`; plots regenerated by `scripts/bench_plots.py`, this report by "
              "`scripts/bench_report.py`.", ""]
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(lines))


def crypto_summary(bench):
    by = {b["name"]: b for b in bench}
    out = []
    for size in (64, 1024, 4096, 65536):
        ip = by.get(f"BM_Seal/ipsecmb/{size}")
        re = by.get(f"BM_Seal/openssl_reinit/{size}")
        os_ = by.get(f"BM_Seal/openssl/{size}")
        if ip and re:
            out.append(f"- seal {size} B: ipsec-mb {ip['ns_per_op']} ns, OpenSSL re-initialised "
                       f"per message {re['ns_per_op']} ns ({re['ns_per_op'] / ip['ns_per_op']:.1f}x)"
                       + (f", OpenSSL with a kept context {os_['ns_per_op']} ns" if os_ else ""))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with open(os.path.join(sys.argv[1], "results.json")) as f:
        write(json.load(f), sys.argv[1])
