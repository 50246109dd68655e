"""What native sampling (where.native, pyab-native.so) costs, and how close
its estimate comes, as ratios against the same arm without it, measured in
the same run (`meson test -C build --benchmark native --verbose`, or
/usr/bin/python3 tests/bench/native.py [--pyab PATH] [--reps N]).

Three workloads, each run with native sampling off and on, interleaved,
medians of the reps: the default scenario's service (scenarios/default,
one rep of its open loop), an allocation-heavy handler (an allocator call
every few tens of nanoseconds, all freed) and a native-heavy one (numpy
arrays and cv2 images made and dropped, one in 16 kept). Figures: the
child's CPU per request (rep.json's cpu_s), its peak RSS, and the samples
taken. Then, on the native-heavy handler, the mean interval swept
(16 KiB to 1 MiB): cost, samples and the estimate of the kept bytes
against the native heap's slope. Nothing is asserted.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]

ALLOC = r'''
def handle(req):
    xs = [str(i) * 3 for i in range(200)]
    d = {i: (i, i + 1) for i in range(100)}
    b = [bytes(600) for _ in range(5)]
    return len(xs) + len(d) + len(b)
'''

NATIVE = r'''
import cv2
import numpy as np
kept = []
n = 0
img = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
PNG = np.frombuffer(cv2.imencode(".png", img)[1].tobytes(), np.uint8)
def handle(req):
    global n
    n += 1
    a = np.ones(2000)
    m = cv2.imdecode(PNG, cv2.IMREAD_COLOR)
    if n % 16 == 0:
        kept.append((a, m))
    return "ok"
'''


def run(pyab, path, tmp):
    out = tmp / ("out-%d" % time.monotonic_ns())
    r = subprocess.run([pyab, "run", str(path), "--out", str(out), "--quiet", "--no-report",
                        "--no-history"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("pyab failed: %s" % r.stderr[-2000:])
    summary = json.load(open(out / "summary.json"))
    rep = json.load(open(out / "arms" / "base" / "rep-1" / "rep.json"))
    where = json.load(open(out / "arms" / "base" / "rep-1" / "where.json")).get("native")
    arm = summary["arms"]["base"]
    return {"cpu_us": rep["cpu_s"] / rep["requests"] * 1e6, "rss": rep["peak_rss_bytes"],
            "slope": arm["slopes"]["native"]["bytes_per_request"],
            "taken": where["sampler"]["taken"] if where else 0,
            "estimate": where["total"]["bytes"] / where["requests"] if where else None,
            "table": where["sampler"]["table_bytes"] if where else 0}


def write_scenario(tmp, name, base, native, sample_bytes=None):
    sc = dict(base)
    sc["name"] = name
    sc["where"] = {"native": native}
    if sample_bytes:
        sc["where"]["native_sample_bytes"] = sample_bytes
    path = tmp / (name + ".json")
    path.write_text(json.dumps(sc))
    return path


def workloads(tmp):
    (tmp / "alloc.py").write_text(ALLOC)
    (tmp / "native.py").write_text(NATIVE)
    with open(tmp / "trace.jsonl", "w") as f:
        for i in range(1000):
            f.write('{"t": %.6f, "route": "/r"}\n' % (i * 1e-4))
    default = json.loads((ROOT / "scenarios" / "default" / "scenario.json").read_text())
    default.update({"reps": 1, "trace": str(ROOT / "scenarios" / "default" / "trace.jsonl"),
                    "app": {"path": str(ROOT / "scenarios" / "default" / "service.py"),
                            "handler": "handle"}})
    closed = {"trace": str(tmp / "trace.jsonl"), "workers": 1,
              "sample": {"interval_ms": 100}, "warmup": {"requests": 2000}}
    alloc = dict(closed, app={"path": str(tmp / "alloc.py")},
                 load={"model": "closed", "users": 1, "requests": 30000})
    native = dict(closed, app={"path": str(tmp / "native.py")},
                  load={"model": "closed", "users": 1, "requests": 20000})
    return [("default scenario", default), ("alloc-heavy", alloc), ("native-heavy", native)]


def compare(pyab, tmp, reps):
    print("native sampling on vs off (medians of %d interleaved runs; CPU per request "
          "of the child, peak RSS)" % reps)
    for label, base in workloads(tmp):
        paths = {on: write_scenario(tmp, "%s-%s" % (label.split()[0], on), base, on)
                 for on in (False, True)}
        figs = {False: [], True: []}
        for _ in range(reps):
            for on in (False, True):
                figs[on].append(run(pyab, paths[on], tmp))
        off_cpu = statistics.median(f["cpu_us"] for f in figs[False])
        on_cpu = statistics.median(f["cpu_us"] for f in figs[True])
        off_rss = statistics.median(f["rss"] for f in figs[False])
        on_rss = statistics.median(f["rss"] for f in figs[True])
        print("  %-17s CPU %7.2f -> %7.2f us/request: %+.1f%% (target <= 3%%); peak RSS "
              "%.1f -> %.1f MB: %+.1f%% (target <= 2%%); %d samples, tables %.1f MB mapped"
              % (label, off_cpu, on_cpu, (on_cpu / off_cpu - 1) * 100, off_rss / 1e6,
                 on_rss / 1e6, (on_rss / off_rss - 1) * 100,
                 statistics.median(f["taken"] for f in figs[True]),
                 figs[True][0]["table"] / 1e6))


def sweep(pyab, tmp, reps):
    label, base = workloads(tmp)[2]
    print("native-heavy handler, the mean interval swept (medians of %d runs): CPU vs off, "
          "samples, estimate of the kept bytes vs the native heap's slope" % reps)
    off = write_scenario(tmp, "sweep-off", base, False)
    sizes = [16384, 65536, 262144, 1048576]
    paths = {s: write_scenario(tmp, "sweep-%d" % s, base, True, s) for s in sizes}
    figs = {s: [] for s in ["off"] + sizes}
    for _ in range(reps):
        figs["off"].append(run(pyab, off, tmp))
        for s in sizes:
            figs[s].append(run(pyab, paths[s], tmp))
    off_cpu = statistics.median(f["cpu_us"] for f in figs["off"])
    for s in sizes:
        cpu = statistics.median(f["cpu_us"] for f in figs[s])
        errs = [abs(f["estimate"] / f["slope"] - 1) * 100 for f in figs[s] if f["slope"] > 0]
        print("  %5d KiB  CPU %+.1f%%  %6d samples  estimate off by %.1f%% (median), %.1f%% "
              "(worst of %d)" % (s // 1024, (cpu / off_cpu - 1) * 100,
                                 statistics.median(f["taken"] for f in figs[s]),
                                 statistics.median(errs), max(errs), len(errs)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", nargs="?", default="all", choices=["all", "compare", "sweep"])
    ap.add_argument("--pyab", default=str(ROOT / "build" / "harness" / "pyab"))
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        if args.which in ("all", "compare"):
            compare(args.pyab, tmp, args.reps)
        if args.which in ("all", "sweep"):
            sweep(args.pyab, tmp, args.reps)


if __name__ == "__main__":
    main()
