"""pyab's benchmarks (`meson test -C build --benchmark`, or run directly:
/usr/bin/python3 tests/bench/bench.py [dispatch|sample|heap|all] [--pyab PATH]).

Every figure is a ratio against a baseline measured in the same run, on
the same machine, with medians over a few repetitions: the machine is
shared and noisy, and absolute times would mean little. Nothing here
asserts a timing; it prints.

- dispatch: no-op handler, 200k-request trace, closed loop; pyab with 1
  worker against a plain-Python replayer (read the lines, json.loads each,
  call the handler), and 4 workers against a 4-thread plain replayer.
- sample: one full sample (RSS, Python heap, arenas, mallinfo2, GC counts,
  CSV row) with 1M live objects, against one type census over
  gc.get_objects(), in the same process.
- heap: an allocation-heavy handler with the heap hooks off, on (blocks,
  the default), on (requested sizes), and under tracemalloc.
- gctimer: a collection-heavy handler with no pause timer, pyab's C timer,
  and the C timer plus a Python gc.callbacks function.
- stream: samples streamed to the parent at 1 Hz against 100 Hz.
- verdict: requests and seconds of run time to a confident verdict on a
  256 B/request Python leak.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
PY = "/usr/bin/python3"
REPS = int(os.environ.get("PYAB_BENCH_REPS", "3"))


def write(path, text):
    path.write_text(text)
    return path


def make_trace(path, n):
    with open(path, "w") as f:
        for i in range(n):
            f.write('{"t": %.6f, "route": "/r%d", "body": {"i": %d, "x": "abc"}}\n'
                    % (i * 1e-5, i % 8, i))
    return path


def pyab_run(pyab, scenario, tmp):
    out = tmp / ("out-%d" % time.monotonic_ns())
    r = subprocess.run([pyab, "run", str(scenario), "--out", str(out), "--quiet", "--no-report"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("pyab failed: %s" % r.stderr[-2000:])
    rep = json.load(open(out / "arms" / "base" / "rep-1" / "rep.json"))
    return rep


def scenario(tmp, name, service, trace, workers, requests, extra=None):
    sc = {"name": name, "app": {"path": str(service), "handler": "handle"},
          "trace": str(trace), "load": {"model": "closed", "users": workers,
                                        "requests": requests},
          "workers": workers, "sample": {"interval_ms": 100}}
    sc.update(extra or {})
    return write(tmp / (name + ".json"), json.dumps(sc))


PLAIN = r'''
import json, sys, threading, time
path, nthreads = sys.argv[1], int(sys.argv[2])
def handle(req):
    return None
lines = open(path).read().splitlines()
def run(part):
    for line in part:
        handle(json.loads(line))
parts = [lines[i::nthreads] for i in range(nthreads)]
start = time.perf_counter()
threads = [threading.Thread(target=run, args=(p,)) for p in parts]
for t in threads: t.start()
for t in threads: t.join()
print(len(lines) / (time.perf_counter() - start))
'''


def bench_dispatch(pyab, tmp):
    trace = make_trace(tmp / "trace200k.jsonl", 200_000)
    service = write(tmp / "noop.py", "def handle(req):\n    return None\n")
    plain = write(tmp / "plain.py", PLAIN)
    print("dispatch: no-op handler, 200k-request trace, closed loop")
    for workers in (1, 4):
        sc = scenario(tmp, "dispatch%d" % workers, service, trace, workers, 200_000)
        ours = [pyab_run(pyab, sc, tmp)["throughput_rps"] for _ in range(REPS)]
        base = [float(subprocess.run([PY, str(plain), str(trace), str(workers)],
                                     capture_output=True, text=True, check=True).stdout)
                for _ in range(REPS)]
        o, b = statistics.median(ours), statistics.median(base)
        print("  %d worker(s): pyab %.0f req/s, plain Python %d-thread replayer %.0f req/s: "
              "ratio %.2fx%s" % (workers, o, workers, b, o / b,
                                 " (target >= 2x)" if workers == 1 else ""))


SAMPLE_SERVICE = r'''
import gc, json, os, time, collections
import pyab
live = [[i] for i in range(1_000_000)]  # 1M gc-tracked lists (and 1M ints)
done = False
def handle(req):
    global done
    if done:
        return
    done = True
    gc.collect()
    sample_ns = pyab.bench_sample(2000)
    census = []
    for _ in range(3):
        t = time.perf_counter_ns()
        collections.Counter(type(o).__name__ for o in gc.get_objects())
        census.append(time.perf_counter_ns() - t)
    census.sort()
    with open(os.environ["BENCH_OUT"], "w") as f:
        json.dump({"sample_ns": sample_ns, "census_ns": census[1],
                   "objects": len(gc.get_objects())}, f)
'''


def bench_sample(pyab, tmp):
    trace = make_trace(tmp / "trace10.jsonl", 10)
    service = write(tmp / "objects.py", SAMPLE_SERVICE)
    out = tmp / "sample-figures.json"
    sc = scenario(tmp, "sample", service, trace, 1, 1, {"env": {"BENCH_OUT": str(out)}})
    figures = []
    for _ in range(REPS):
        pyab_run(pyab, sc, tmp)
        figures.append(json.load(open(out)))
    s = statistics.median(f["sample_ns"] for f in figures)
    c = statistics.median(f["census_ns"] for f in figures)
    print("sample: one full sample with %d gc-tracked objects: %.1f us (target <= 50 us); "
          "a type census over gc.get_objects(): %.1f ms; census/sample = %.0fx"
          % (figures[0]["objects"], s / 1e3, c / 1e6, c / s))


HEAP_SERVICE = r'''
import os, tracemalloc
if os.environ.get("BENCH_TRACEMALLOC"):
    tracemalloc.start()
def handle(req):
    # allocation-heavy: many small and a few large objects, all freed
    xs = [str(i) * 3 for i in range(200)]
    d = {i: (i, i + 1) for i in range(100)}
    b = [bytes(600) for _ in range(5)]
    return len(xs) + len(d) + len(b)
'''


def bench_heap(pyab, tmp):
    trace = make_trace(tmp / "trace1k.jsonl", 1000)
    service = write(tmp / "alloc.py", HEAP_SERVICE)
    # The hooks alone: allocation-site sampling (bench where) is off here.
    off = {"where": {"mode": "off"}}
    arms = [("off", dict(off, sample={"interval_ms": 100, "pyheap": "off"})),
            ("blocks", dict(off, sample={"interval_ms": 100, "pyheap": "blocks"})),
            ("requested", dict(off, sample={"interval_ms": 100, "pyheap": "requested"})),
            ("tracemalloc", dict(off, sample={"interval_ms": 100, "pyheap": "off"},
                                 env={"BENCH_TRACEMALLOC": "1"}))]
    cpu = {}
    n = 30_000
    for name, extra in arms:
        scenario(tmp, "heap-" + name, service, trace, 1, n, extra)
        cpu[name] = []
    # Interleaved, so drift hits every arm alike; CPU seconds of the child,
    # less sensitive than wall time to other work on a shared machine.
    for _ in range(max(REPS, 5)):
        for name, extra in arms:
            rep = pyab_run(pyab, tmp / ("heap-%s.json" % name), tmp)
            cpu[name].append(rep["cpu_s"] / rep["requests"] * 1e6)
    off = statistics.median(cpu["off"])
    print("heap: allocation-heavy handler, %d requests, 1 worker (median CPU us/request)" % n)
    for name, _ in arms:
        c = statistics.median(cpu[name])
        print("  %-11s %7.2f us/request  slowdown vs hooks off: %+.1f%%%s"
              % (name, c, (c / off - 1) * 100,
                 "  (target <= 10%)" if name == "blocks" else ""))


def bench_where(pyab, tmp):
    """Allocation-site sampling (where.mode "sampled", the default) against
    the heap hooks alone (where.mode "off"), on the allocation-heavy handler
    and on the default scenario's service; tracemalloc's exact mode beside."""
    trace = make_trace(tmp / "trace1k.jsonl", 1000)
    heavy = write(tmp / "alloc.py", HEAP_SERVICE)
    default = ROOT / "scenarios" / "default"
    arms = [("hooks-only", {"where": {"mode": "off"}}),
            ("sampled", {}),
            ("sampled-16k", {"where": {"sample_bytes": 16384}}),
            ("exact", {"where": {"mode": "exact"}})]
    for label, service, strace, n in (
            ("allocation-heavy handler", heavy, trace, 30_000),
            ("default scenario's service", default / "service.py", default / "trace.jsonl", 20_000)):
        for name, extra in arms:
            extra = dict(extra, warmup={"requests": 1000}, sample={"interval_ms": 100})
            scenario(tmp, "where-" + name, service, strace, 1, n, extra)
        cpu = {name: [] for name, _ in arms}
        rss = {name: [] for name, _ in arms}
        for _ in range(max(REPS, 5)):
            for name, _ in arms:
                rep = pyab_run(pyab, tmp / ("where-%s.json" % name), tmp)
                cpu[name].append(rep["cpu_s"] / rep["requests"] * 1e6)
                rss[name].append(rep["peak_rss_bytes"])
        base_cpu = statistics.median(cpu["hooks-only"])
        base_rss = statistics.median(rss["hooks-only"])
        print("where: %s, %d requests, 1 worker (median CPU us/request, median peak RSS)"
              % (label, n))
        for name, _ in arms:
            c, m = statistics.median(cpu[name]), statistics.median(rss[name])
            print("  %-11s %7.2f us/request  CPU vs hooks only: %+.1f%%  peak RSS: %+.1f%%%s"
                  % (name, c, (c / base_cpu - 1) * 100, (m / base_rss - 1) * 100,
                     "  (target <= 3% CPU, <= 2% RSS)" if name == "sampled" else ""))


GC_SERVICE = r'''
import gc, os, time
class Node:
    def __init__(self):
        self.me = self
if os.environ.get("BENCH_PY_CALLBACK"):
    started = [0.0]
    pauses = []
    def on_gc(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started[0])
    gc.callbacks.append(on_gc)
gc.set_threshold(100, 10, 10)
def handle(req):
    for _ in range(50):
        Node()
'''


def cpu_per_request(pyab, tmp, arms, n, reps):
    """Median child CPU microseconds per request for each arm, run interleaved."""
    cpu = {name: [] for name, _ in arms}
    for _ in range(reps):
        for name, _ in arms:
            rep = pyab_run(pyab, tmp / ("%s.json" % name), tmp)
            cpu[name].append(rep["cpu_s"] / rep["requests"] * 1e6)
    return {name: statistics.median(v) for name, v in cpu.items()}


def bench_gctimer(pyab, tmp):
    trace = make_trace(tmp / "trace1k.jsonl", 1000)
    service = write(tmp / "cycles.py", GC_SERVICE)
    arms = [("gc-none", {"env": {"PYAB_BENCH_NO_GC_TIMER": "1"}}),
            ("gc-c", {}),
            ("gc-c+py", {"env": {"BENCH_PY_CALLBACK": "1"}})]
    n = 60_000
    for name, extra in arms:
        scenario(tmp, name, service, trace, 1, n, extra)
    cpu = cpu_per_request(pyab, tmp, arms, n, max(REPS, 5))
    base = cpu["gc-none"]
    print("gctimer: collection-heavy handler (50 cyclic objects/request, threshold 100), "
          "%d requests (median CPU us/request)" % n)
    print("  no callback at all             %7.2f us/request" % base)
    print("  pyab's C timer                 %7.2f us/request  %+.1f%% vs none (CPython builds the "
          "info dict for any callback)" % (cpu["gc-c"], (cpu["gc-c"] / base - 1) * 100))
    print("  C timer + Python gc.callbacks  %7.2f us/request  %+.1f%% more than the C timer alone"
          % (cpu["gc-c+py"], (cpu["gc-c+py"] / cpu["gc-c"] - 1) * 100))


def bench_stream(pyab, tmp):
    trace = make_trace(tmp / "trace1k.jsonl", 1000)
    service = write(tmp / "small.py", "def handle(req):\n    return [str(i) for i in range(20)]\n")
    arms = [("stream-1hz", {"sample": {"interval_ms": 1000}}),
            ("stream-100hz", {"sample": {"interval_ms": 10}})]
    n = 300_000
    for name, extra in arms:
        scenario(tmp, name, service, trace, 1, n, extra)
    cpu = cpu_per_request(pyab, tmp, arms, n, max(REPS, 5))
    print("stream: samples streamed to the parent at 1 Hz vs 100 Hz, %d requests "
          "(median CPU us/request)" % n)
    print("  1 Hz   %7.3f us/request" % cpu["stream-1hz"])
    print("  100 Hz %7.3f us/request  %+.1f%% (target: no measurable change)"
          % (cpu["stream-100hz"], (cpu["stream-100hz"] / cpu["stream-1hz"] - 1) * 100))


LEAK256 = r'''
kept = []
def handle(req):
    sum(range(1500))              # some work, as a real handler does (tens of us)
    kept.append(bytearray(190))   # sys.getsizeof = 247 -> a 256-byte block, + an 8-byte slot
    return 200
'''


def bench_verdict(pyab, tmp):
    """How many requests and seconds of run time pyab needs for a confident
    verdict on a 256 B/request Python leak (3 reps, closed loop)."""
    trace = make_trace(tmp / "trace1k.jsonl", 1000)
    service = write(tmp / "leak256.py", LEAK256)
    print("verdict: a 256 B/request Python leak, 3 reps, 1 worker, samples every 5 ms")
    for n in (1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000):
        sc = json.loads(scenario(tmp, "v%d" % n, service, trace, 1, n).read_text())
        sc["reps"] = 3
        sc["sample"] = {"interval_ms": 5}
        write(tmp / ("v%d.json" % n), json.dumps(sc))
        out = tmp / ("verdict-%d" % n)
        r = subprocess.run([pyab, "run", str(tmp / ("v%d.json" % n)), "--out", str(out),
                            "--quiet", "--no-report"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("pyab failed: %s" % r.stderr[-2000:])
        arm = json.load(open(out / "summary.json"))["arms"]["base"]
        run_s = sum(rep["duration_s"] for rep in arm["reps"])
        slope = arm["slopes"]["pyheap"]
        print("  %6d requests/rep: %-12s %-12s pyheap %s B/request CI %s, run time %.2f s (3 reps)"
              % (n, arm["verdict"], arm.get("attribution"), slope.get("bytes_per_request"),
                 slope.get("ci"), run_s))
        if arm["verdict"] == "leak":
            print("  -> first confident verdict at %d requests per rep, %.2f s of run time"
                  % (n, run_s))
            break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", nargs="?", default="all")
    ap.add_argument("--pyab", default=str(ROOT / "build" / "harness" / "pyab"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        for name, fn in (("dispatch", bench_dispatch), ("sample", bench_sample),
                         ("heap", bench_heap), ("where", bench_where),
                         ("gctimer", bench_gctimer),
                         ("stream", bench_stream), ("verdict", bench_verdict)):
            if args.which in (name, "all"):
                fn(args.pyab, tmp)


if __name__ == "__main__":
    main()
