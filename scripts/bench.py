#!/usr/bin/env python3
"""ferry bench: the measurement matrix of issue 7, its results, plots and report.

  bench.py [--quick] [--out DIR] [--configs DP.yaml DN.yaml GUEST...]
           [--transports T,...] [--securities S,...] [--scale F]
           [--dp-lcore N] [--dn-lcore N] [--guest-cpu N] [--idle MODE] [--spin-polls N]

Without --configs it brings the single-machine lab (scripts/lab.sh) up once per cell
(transport x security level), runs ferry-probe against it, and takes it down; the whole run
holds /tmp/ferry-lab.lock itself (and sees when the command that started it, e.g. `flock`, holds it).
With --configs it measures two real hosts whose services already run with DP.yaml and
DN.yaml, through the guest configs given (one cell; transport and security read from them).
Every run also measures the `local` baseline (ferry-probe-local: the same probe source over
the real device models in one process, no network, no crypto) and the crypto
microbenchmarks (build/bench/ferry-microbench).

Writes DIR/results.json, DIR/results.csv, DIR/plots/*.svg|png, DIR/report.md
(scripts/bench_plots.py and scripts/bench_report.py, which can be rerun on a results.json).
"""
import argparse
import atexit
import csv
import datetime
import fcntl
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import bench_plots  # noqa: E402
import bench_report  # noqa: E402

TRANSPORTS = ["kernel-tcp", "kernel-udp", "af_packet", "af_xdp", "memif"]
SECURITIES = ["none", "integrity", "confidential"]
DMA_SIZES = [4096, 16384, 65536, 262144, 1048576]
LAB_LOCK = "/tmp/ferry-lab.lock"
# The lab's layout (scripts/lab.sh defaults; docs/layout.md measures why): both services on
# lcore 0 yielding after one empty poll, the guest (ferry-probe) pinned alone to CPU 1.
LAYOUT_DEFAULTS = {"dp_lcore": 0, "dn_lcore": 0, "guest_cpu": 1 if (os.cpu_count() or 1) > 1
                   else None, "idle": "spin-then-yield", "spin_polls": 1}


def say(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def loadavg():
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []


def machine_info():
    model = ""
    for line in sh("lscpu").splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    mem_kb = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {"hostname": platform.node(), "cpu_model": model, "cores": os.cpu_count(),
            "kernel": platform.release(), "memory_gib": round(mem_kb / 2**20, 1),
            "load_avg_before": loadavg()}


def build_info(build):
    btype = ""
    try:
        opts = json.loads(sh(f"meson introspect {build} --buildoptions"))
        btype = next(o["value"] for o in opts if o["name"] == "buildtype")
    except (ValueError, StopIteration):
        pass
    commit = sh(f"git -C {ROOT} rev-parse --short HEAD")
    dirty = sh(f"git -C {ROOT} status --porcelain --untracked-files=no")
    return btype, commit + ("-dirty" if dirty else "")


# --- the plan ------------------------------------------------------------------------------
class Job:
    """One ferry-probe run: a device (edu or accel), an op and its arguments."""

    def __init__(self, device, op, size, iters, warmup=0, qd=None, cdf=0, est_s=1.0):
        self.device, self.op, self.size, self.iters = device, op, size, iters
        self.warmup, self.qd, self.cdf, self.est_s = warmup, qd, cdf, est_s

    def args(self):
        a = [self.op, "--size", str(self.size), "--iters", str(self.iters)]
        if self.warmup:
            a += ["--warmup", str(self.warmup)]
        if self.qd:
            a += ["--qd", str(self.qd)]
        if self.cdf:
            a += ["--cdf", str(self.cdf)]
        return a

    def label(self):
        qd = f" qd {self.qd}" if self.qd else ""
        return f"{self.op} {self.device} {self.size} B{qd}"


def jobs_for(transport, scale, quick, lat_us):
    """What one cell measures. lat_us: a guess of one round trip, for the time estimate."""
    n = lambda v, lo=1: max(lo, int(v * scale))  # noqa: E731
    reads, warm = n(20000, 200), n(1000, 50)
    jobs = []
    sizes = [("accel", 8), ("edu", 4)] if quick else \
        [("accel", 1), ("accel", 2), ("accel", 4), ("accel", 8), ("edu", 4), ("edu", 8)]
    for dev, size in sizes:
        cdf = 200 if (dev, size) == ("accel", 8) else 0
        jobs.append(Job(dev, "mmio_read", size, reads, warm, cdf=cdf,
                        est_s=0.15 + (reads + warm) * lat_us * 1.3e-6))
    if transport in ("local", "memif"):
        jobs.append(Job("edu", "mmio_read_mapped", 4, reads, warm,
                        est_s=0.15 + (reads + warm) * (lat_us + 4) * 1.3e-6))
    writes = n(100000, 1000)
    jobs.append(Job("accel", "mmio_write", 8, writes, est_s=0.15 + writes * 2e-6))
    for size in ([65536, 262144, 1048576] if quick else DMA_SIZES):
        iters = n(max(20, min(400, (64 << 20) // size)), 5)
        per = 6 * lat_us * 1e-6 + size / 0.2e9  # a few round trips + the bytes at ~0.2 GB/s
        for op in ("dma_to_device", "dma_from_device"):
            jobs.append(Job("edu", op, size, iters, 2, est_s=0.15 + iters * per))
    edu = n(200, 10)
    jobs.append(Job("edu", "edu_workload", 4, edu, est_s=0.15 + edu * (100 + 4 * lat_us) * 1e-6))
    for qd, jobs_n in ((1, n(2000, 50)), (32, n(8000, 64))):
        jobs.append(Job("accel", "accel_workload", 4096, jobs_n, qd=qd,
                        est_s=0.15 + jobs_n * (8 * lat_us / qd + 20) * 1e-6))
    return jobs


# Mean round trips seen on the 2-core development machine, for the time estimate only.
LAT_GUESS_US = {"local": 0.3, "kernel-tcp": 150, "kernel-udp": 30, "af_packet": 30,
                "af_xdp": 30, "memif": 15}
LAB_UP_S = 2.0


# --- the binaries ----------------------------------------------------------------------------
# What a run executes, relative to the build folder. They are copied once at the start so the
# whole run measures one build even when the shared build folder is relinked meanwhile.
SNAPSHOT = ["tools/ferry-probe", "tools/ferry-probe-local", "guest-shim/libferry-guest.so.0",
            "dataplane/service/ferry-dataplane", "device-node/service/ferry-device-node",
            "bench/ferry-microbench"]


def snapshot_binaries(build):
    """A private copy of SNAPSHOT (ferry-probe finds the library through $ORIGIN/../guest-shim),
    checked by running the probes; retried while a relink leaves a file half written."""
    for attempt in range(6):
        d = tempfile.mkdtemp(prefix="ferry-bench-bin-")
        for rel in SNAPSHOT:
            src = os.path.join(build, rel)
            if os.path.exists(src):
                os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
                shutil.copy2(src, os.path.join(d, rel))
        probe = subprocess.run([os.path.join(d, "tools", "ferry-probe")], capture_output=True,
                               text=True)
        local = subprocess.run([os.path.join(d, "tools", "ferry-probe-local"), "local:accel",
                                "mmio_read", "--size", "8", "--iters", "10"],
                               capture_output=True, text=True)
        if probe.returncode == 2 and "usage" in probe.stderr and local.returncode == 0:
            return d
        shutil.rmtree(d, ignore_errors=True)
        say(f"the build's binaries do not run yet (being relinked?), retrying "
            f"({(probe.stderr or local.stderr).strip()[-120:]})")
        time.sleep(5)
    sys.exit(f"bench: the binaries in {build} do not run (./ferry build)")


# --- running -------------------------------------------------------------------------------
class Runner:
    def __init__(self, opts):
        self.opts = opts
        self.build = os.path.join(ROOT, os.environ.get("FERRY_BUILD_DIR", "build"))
        self.bin = self.build  # snapshot_binaries() replaces it for the run
        self.records, self.cdf, self.failures, self.cell_s = [], {}, [], {}
        self.done_s, self.total_s, self.t0 = 0.0, 1.0, time.monotonic()

    def progress(self, what, est):
        el = time.monotonic() - self.t0
        left = max(0.0, self.total_s - self.done_s)
        pct = min(100, int(100 * self.done_s / self.total_s))
        say(f"[{pct:3d}% | {el / 60:4.1f} min elapsed, ~{left / 60:4.1f} min left] {what}")
        self.done_s += est

    def probe(self, transport, security, job, guest):
        exe = "ferry-probe-local" if transport == "local" else "ferry-probe"
        cmd = [os.path.join(self.bin, "tools", exe), guest] + job.args()
        if self.opts.guest_cpu is not None:
            cmd = ["taskset", "-c", str(self.opts.guest_cpu)] + cmd
        self.progress(f"{transport}/{security}: {job.label()}", job.est_s)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=max(120, 10 * job.est_s))
            out, err, rc = p.stdout, p.stderr, p.returncode
        except subprocess.TimeoutExpired:
            out, err, rc = "", "timed out", -1
        rec = None
        if rc == 0:
            try:
                rec = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                rec = None
        if rec is None:
            self.failures.append({"transport": transport, "security": security,
                                  "what": job.label(), "error": (err or out).strip()[-400:]})
            say(f"  FAILED: {(err or out).strip()[-200:]}")
            return
        cdf = rec.pop("cdf_ns", None)
        if cdf:
            self.cdf[f"{transport}/{security}"] = cdf
        out_rec = {"transport": transport, "security": security, "device": job.device}
        out_rec.update(rec)
        if job.op not in ("accel_workload",):
            out_rec.pop("qd", None)
        self.records.append(out_rec)

    def cell(self, transport, security, guests):
        t0 = time.monotonic()
        for job in self.plan[(transport, security)]:
            if job.device not in guests:
                self.failures.append({"transport": transport, "security": security,
                                      "what": job.label(), "error": f"no {job.device} guest"})
                continue
            self.probe(transport, security, job, guests[job.device])
        key = f"{transport}/{security}"
        self.cell_s[key] = round(self.cell_s.get(key, 0) + time.monotonic() - t0, 1)

    def lab(self, *args):
        env = dict(os.environ)
        env["FERRY_BIN"] = self.bin
        return subprocess.run(["bash", os.path.join(ROOT, "scripts", "lab.sh")] + list(args),
                              capture_output=True, text=True, env=env, timeout=120)

    def lab_cell(self, transport, security):
        o = self.opts
        self.progress(f"{transport}/{security}: lab up", LAB_UP_S)
        self.lab("down")
        up = ["up", "--transport", transport, "--security", security,
              "--dp-lcore", str(o.dp_lcore), "--dn-lcore", str(o.dn_lcore),
              "--idle", o.idle, "--spin-polls", str(o.spin_polls)]
        p = self.lab(*up)
        if p.returncode != 0:
            self.failures.append({"transport": transport, "security": security,
                                  "what": "lab up", "error": p.stderr.strip()[-400:]})
            say(f"  lab up FAILED: {p.stderr.strip()[-300:]}")
            self.done_s += sum(j.est_s for j in self.plan[(transport, security)])
            self.lab("down")
            return
        state = os.environ.get("FERRY_LAB_STATE", "/run/ferry-lab")
        try:
            self.cell(transport, security, {"edu": f"{state}/guest-edu.yaml",
                                            "accel": f"{state}/guest-accel.yaml"})
        finally:
            self.lab("down")


def read_yaml(path):
    try:
        import yaml  # only the --configs mode needs it
    except ImportError:
        sys.exit("bench: --configs reads YAML with PyYAML: apt-get install python3-yaml")
    with open(path) as f:
        return yaml.safe_load(f) or {}


def configs_cell(dp_yaml, dn_yaml, guests):
    """(transport, security, {device: guest yaml}) of two real hosts' configs."""
    dp, dn = read_yaml(dp_yaml), read_yaml(dn_yaml)
    t = dp.get("transport", {})
    transport = t.get("kind", "?")
    if transport == "dpdk":
        port = str(t.get("port", ""))
        transport = next((k for k in ("af_packet", "af_xdp", "memif") if k in port), port)
    models = {d.get("id"): d.get("model") for d in dn.get("devices", [])}
    out, security = {}, None
    for g in guests:
        gy = read_yaml(g)
        security = gy.get("security", "confidential")
        model = models.get(gy.get("device_id"))
        if model in ("edu", "accel"):
            out[model] = g
    return transport, security, out


def crypto_microbench(build, quick):
    exe = os.path.join(build, "bench", "ferry-microbench")
    if not os.access(exe, os.X_OK):
        return {"error": f"{exe} not built"}
    flt = "BM_Seal/|BM_Open/|BM_RawGcm|BM_DescriptorSealOpen"
    cmd = [exe, f"--benchmark_filter={flt}", "--benchmark_format=json",
           f"--benchmark_min_time={0.02 if quick else 0.1}"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        data = json.loads(p.stdout)
    except (subprocess.SubprocessError, ValueError) as e:
        return {"error": str(e)}
    rows = []
    for b in data.get("benchmarks", []):
        rows.append({"name": b["name"], "ns_per_op": round(b.get("real_time", 0), 1),
                     "time_unit": b.get("time_unit", "ns"),
                     "gbytes_per_s": round(b.get("bytes_per_second", 0) / 1e9, 3)})
    return {"benchmarks": rows}


def merge_rounds(records):
    """One record per measurement: the median over the rounds of each figure (samples add
    up). A record measured in one round only is kept as it is."""
    groups = {}
    for rec in records:
        key = (rec["transport"], rec["security"], rec["device"], rec["op"], rec.get("size"),
               rec.get("qd"))
        groups.setdefault(key, []).append(rec)
    out = []
    for recs in groups.values():
        m = dict(recs[0])
        for k, v in recs[0].items():
            if k == "samples":
                m[k] = sum(x[k] for x in recs)
            elif k.endswith("_ns") or k.endswith("_per_s"):
                vals = [x[k] for x in recs if k in x]
                med = statistics.median(vals)
                m[k] = int(med) if isinstance(v, int) else round(med, 4)
        m["rounds"] = len(recs)
        out.append(m)
    return out


def write_csv(path, records):
    cols = ["transport", "security", "device", "op", "size", "qd", "p50_ns", "p90_ns",
            "p99_ns", "p999_ns", "gbytes_per_s", "writes_per_s", "jobs_per_s", "samples",
            "rounds"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in records:
            w.writerow(r)


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="ferry bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="reduced matrix, under 5 minutes")
    ap.add_argument("--out", default=None, help="output folder (default build/bench-results/<time>)")
    ap.add_argument("--configs", nargs="+", metavar="YAML",
                    help="DP.yaml DN.yaml GUEST.yaml...: two real hosts, services running")
    ap.add_argument("--transports", help="comma list (default: all five)")
    ap.add_argument("--securities", help="comma list (default: all three)")
    ap.add_argument("--scale", type=float, default=None, help="iteration count factor")
    ap.add_argument("--rounds", type=int, default=None,
                    help="measure every cell this many times, every other round in reverse "
                         "order; records are the medians (default: 1 quick, 3 full)")
    ap.add_argument("--dp-lcore", type=int, default=LAYOUT_DEFAULTS["dp_lcore"])
    ap.add_argument("--dn-lcore", type=int, default=LAYOUT_DEFAULTS["dn_lcore"])
    ap.add_argument("--guest-cpu", type=int, default=LAYOUT_DEFAULTS["guest_cpu"])
    ap.add_argument("--idle", default=LAYOUT_DEFAULTS["idle"])
    ap.add_argument("--spin-polls", type=int, default=LAYOUT_DEFAULTS["spin_polls"])
    ap.add_argument("--no-local", action="store_true", help=argparse.SUPPRESS)
    o = ap.parse_args(argv)
    if o.configs is not None and len(o.configs) < 3:
        ap.error("--configs needs DP.yaml DN.yaml and at least one guest YAML")
    o.transports = o.transports.split(",") if o.transports else \
        TRANSPORTS
    o.securities = o.securities.split(",") if o.securities else SECURITIES
    for t in o.transports:
        if t not in TRANSPORTS:
            ap.error(f"unknown transport {t}")
    for s in o.securities:
        if s not in SECURITIES:
            ap.error(f"unknown security level {s}")
    if o.scale is None:
        o.scale = 0.25 if o.quick else 1.0
    if o.rounds is None:
        o.rounds = 1 if o.quick else 3
    if o.rounds < 1:
        ap.error("--rounds must be at least 1")
    if o.out is None:
        o.out = os.path.join(ROOT, os.environ.get("FERRY_BUILD_DIR", "build"), "bench-results",
                             datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    return o


def lock_held_by_ancestor(path):
    """True when a process above us (e.g. `flock /tmp/ferry-lab.lock ./ferry bench`) holds
    the flock on path: then the lab is ours already and waiting for it would never end."""
    try:
        ino = os.stat(path).st_ino
        holders = set()
        for line in open("/proc/locks"):
            f = line.split()
            if len(f) >= 6 and f[1] == "FLOCK" and f[5].split(":")[-1] == str(ino):
                holders.add(int(f[4]))
    except (OSError, ValueError):
        return False
    pid = os.getppid()
    while pid > 1:
        if pid in holders:
            return True
        try:
            pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def take_lab_lock():
    """Holds /tmp/ferry-lab.lock for the whole run (other users of the shared lab wait)."""
    f = open(LAB_LOCK, "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        if lock_held_by_ancestor(LAB_LOCK):
            say(f"{LAB_LOCK} is held by the command that started this bench: using the lab")
            f.close()
            return None
        say(f"waiting for {LAB_LOCK} (another user of the lab)")
        fcntl.flock(f, fcntl.LOCK_EX)
    return f


def main(argv):
    o = parse_args(argv)
    r = Runner(o)
    os.makedirs(o.out, exist_ok=True)
    machine = machine_info()
    btype, commit = build_info(r.build)
    real = o.configs is not None
    cells, guests_real = [], None
    if real:
        transport, security, guests_real = configs_cell(o.configs[0], o.configs[1], o.configs[2:])
        cells = [(transport, security)]
    else:
        cells = [(t, s) for t in o.transports for s in o.securities]
    r.plan = {}
    if not o.no_local:
        r.plan[("local", "none")] = jobs_for("local", o.scale, o.quick, LAT_GUESS_US["local"])
    for t, s in cells:
        r.plan[(t, s)] = jobs_for(t, o.scale, o.quick, LAT_GUESS_US.get(t, 60))
    r.total_s = o.rounds * (sum(j.est_s for js in r.plan.values() for j in js) +
                            (0 if real else LAB_UP_S * len(cells))) + (8 if o.quick else 40)
    say(f"{len(cells)} cells ({', '.join(f'{t}/{s}' for t, s in cells)}) + local baseline, "
        f"{o.rounds} round(s); "
        f"expected time about {r.total_s / 60:.1f} minutes; results in {o.out}")
    lock = None if real else take_lab_lock()
    r.bin = snapshot_binaries(r.build)
    atexit.register(shutil.rmtree, r.bin, True)
    r.t0 = time.monotonic()
    try:
        for rnd in range(o.rounds):
            order = ([("local", "none")] if not o.no_local else []) + cells
            if rnd % 2 == 1:
                order.reverse()
            for t, s in order:
                if t == "local":
                    r.cell("local", "none", {"edu": "local:edu", "accel": "local:accel"})
                elif real:
                    r.cell(t, s, guests_real)
                else:
                    r.lab_cell(t, s)
    finally:
        if lock is not None:
            lock.close()
    r.records = merge_rounds(r.records)
    r.progress("crypto microbenchmarks (ipsec-mb, OpenSSL)", 0)
    crypto = crypto_microbench(r.bin, o.quick)
    shutil.rmtree(r.bin, ignore_errors=True)
    machine["load_avg_after"] = loadavg()
    config = {"mode": "real hosts" if real else "lab", "quick": o.quick, "scale": o.scale,
              "rounds": o.rounds,
              "layout": {"dp_lcore": o.dp_lcore, "dn_lcore": o.dn_lcore,
                         "guest_cpu": o.guest_cpu if o.guest_cpu is not None else "unpinned"},
              "idle": {"mode": o.idle, "spin_polls": o.spin_polls},
              "build_type": btype, "git_commit": commit,
              "binaries": "copied from the build folder at the start of the run",
              "transports": sorted({t for t, _ in cells}, key=lambda t: (t not in TRANSPORTS,
                                   TRANSPORTS.index(t) if t in TRANSPORTS else 0)),
              "securities": [s for s in SECURITIES if s in {s2 for _, s2 in cells}],
              "mmio_read_headline": "accel 8-byte register read",
              "date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
              "duration_s": round(time.monotonic() - r.t0, 1), "cell_s": r.cell_s}
    if real:
        config["configs"] = o.configs
    results = {"machine": machine, "config": config, "records": r.records,
               "ratios": bench_report.security_ratios(r.records), "cdf_ns": r.cdf,
               "crypto": crypto, "failures": r.failures}
    with open(os.path.join(o.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    write_csv(os.path.join(o.out, "results.csv"), r.records)
    r.progress("plots (gnuplot)", 0)
    bench_plots.make(results, o.out)
    bench_report.write(results, o.out)
    say(f"done in {(time.monotonic() - r.t0) / 60:.1f} min: {o.out}/report.md "
        f"({len(r.records)} records, {len(r.failures)} failures)")
    return 0 if r.records and not r.failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
