#!/usr/bin/env python3
"""Checks two scrapes of `ferry stats` in the Prometheus text format (stats_export_test.sh):
every line is a # HELP, a # TYPE or a sample; every family has one HELP and one TYPE before
its samples; names are ferry_...; counters end in _total; each family keeps one label set;
histograms have ascending le buckets that never decrease and end in +Inf == _count; both
services are up with their link up and carry the health and NIC counters; and from the first
scrape to the second no counter went down while frames_tx went up.

  prometheus_check.py FIRST.txt SECOND.txt
"""
import re
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
NEEDED = ("ferry_up", "ferry_link_up", "ferry_peer_restarts_total", "ferry_duplicates_total",
          "ferry_bad_fcs_total", "ferry_malformed_total", "ferry_window_full_total",
          "ferry_nic_imissed_total", "ferry_nic_rx_nombuf_total", "ferry_frames_tx_total",
          "ferry_link_rtt_seconds", "ferry_queue_descriptors_total")


def labels_of(text):
    if not text:
        return ()
    pairs = LABEL.findall(text)
    if ",".join(f'{k}="{v}"' for k, v in pairs) != text:
        raise ValueError(f"label set not well formed: {{{text}}}")
    return tuple(pairs)


def parse(path, bad):
    """{family: (type, {(sample name, labels): value})}"""
    families, current = {}, None
    helps = set()
    for n, line in enumerate(open(path).read().splitlines(), 1):
        where = f"{path}:{n}"
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if name in helps:
                bad.append(f"{where}: second HELP for {name}")
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            if name in families:
                bad.append(f"{where}: second TYPE for {name}")
            if name not in helps:
                bad.append(f"{where}: TYPE of {name} before its HELP")
            if kind not in ("counter", "gauge", "histogram"):
                bad.append(f"{where}: type {kind}")
            if kind == "counter" and not name.endswith("_total"):
                bad.append(f"{where}: counter {name} does not end in _total")
            families[name] = (kind, {})
            current = name
            continue
        m = SAMPLE.match(line)
        if not m:
            bad.append(f"{where}: not a sample: {line!r}")
            continue
        name, _, label_text, value = m.groups()
        try:
            labels = labels_of(label_text)
            v = float(value)
        except ValueError as e:
            bad.append(f"{where}: {e}")
            continue
        if not name.startswith("ferry_"):
            bad.append(f"{where}: {name} is not named ferry_...")
        if current is None or not (name == current or (families[current][0] == "histogram" and
                                   name in (current + "_bucket", current + "_sum", current + "_count"))):
            bad.append(f"{where}: {name} outside its family's block (TYPE {current})")
            continue
        if (name, labels) in families[current][1]:
            bad.append(f"{where}: {name} twice with the same labels")
        families[current][1][(name, labels)] = v
    return families


def check_label_sets(families, bad):
    for fam, (kind, samples) in families.items():
        keys = {tuple(k for k, _ in labels if k != "le") for (_, labels) in samples}
        if len(keys) > 1:
            bad.append(f"{fam}: samples with different label names {sorted(keys)}")


def check_histograms(families, bad):
    for fam, (kind, samples) in families.items():
        if kind != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            rest = tuple(p for p in labels if p[0] != "le")
            series.setdefault(rest, {"buckets": []})
            if name.endswith("_bucket"):
                le = dict(labels)["le"]
                series[rest]["buckets"].append((float("inf") if le == "+Inf" else float(le), v))
            else:
                series[rest][name[len(fam) + 1:]] = v
        for rest, s in series.items():
            b = s["buckets"]
            if not b or b[-1][0] != float("inf"):
                bad.append(f"{fam}{dict(rest)}: no +Inf bucket last")
                continue
            if [le for le, _ in b] != sorted(le for le, _ in b):
                bad.append(f"{fam}{dict(rest)}: le not ascending")
            if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
                bad.append(f"{fam}{dict(rest)}: cumulative buckets decrease")
            if s.get("count") != b[-1][1] or "sum" not in s:
                bad.append(f"{fam}{dict(rest)}: +Inf {b[-1][1]} != _count {s.get('count')} or no _sum")


def main():
    bad = []
    first, second = parse(sys.argv[1], bad), parse(sys.argv[2], bad)
    for fams in (first, second):
        check_label_sets(fams, bad)
        check_histograms(fams, bad)
    for need in NEEDED:
        if need not in second:
            bad.append(f"no {need} family")
    for fam in ("ferry_up", "ferry_link_up"):
        roles = {dict(l).get("role"): v for (_, l), v in second.get(fam, ("", {}))[1].items()}
        if roles != {"dataplane": 1.0, "device-node": 1.0}:
            bad.append(f"{fam} is not 1 for both services: {roles}")
    went_down, grew = [], False
    for fam, (kind, samples) in first.items():
        if kind not in ("counter", "histogram"):
            continue
        for key, v in samples.items():
            after = second.get(fam, ("", {}))[1].get(key)
            if after is None:
                continue
            if after < v:
                went_down.append(f"{key[0]}{dict(key[1])}: {v} -> {after}")
            if fam == "ferry_frames_tx_total" and after > v:
                grew = True
    bad += [f"counter went down: {d}" for d in went_down]
    if not grew:
        bad.append("ferry_frames_tx_total did not grow between the scrapes (traffic ran between them)")
    for b in bad:
        print(b)
    n = sum(len(s) for _, s in second.values())
    print(f"{len(second)} families, {n} samples: " + ("ok" if not bad else f"{len(bad)} problems"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
