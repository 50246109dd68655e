#!/usr/bin/python3
"""Writes a pyab results folder for the report tests (notes/layout.md).

    make_fixture.py small DIR   2 arms x 2 reps (plus a crashed rep), events,
                                verdicts, comparisons, ablation, and hostile
                                strings in arm, route, scenario and argv
    make_fixture.py large DIR   2 arms x 1 rep, an hour at 100 Hz each
                                (360,000 samples per arm), made at test time
    make_fixture.py broken DIR  12 arms x 1 rep of a run cut off by a kill:
                                a crashed, an over-limit and a timed-out rep,
                                a rep with garbage in samples.csv, one only in
                                .part files, no GC collections at all, a
                                start-up burst, native_other_bytes recorded

Only Debian's python3 standard library; deterministic (seeded).
"""
import json
import math
import os
import random
import sys

# Strings a trace or a service could carry. If the page ever parses one as
# markup, it runs and sets window.__pwned or the title; the browser test checks.
HOSTILE_ARM = "<script>alert(1)"  # arm names may not hold '/', '.' or spaces
HOSTILE_ROUTE = "<script>alert(1)</script>"
HOSTILE_ROUTE2 = "/items?<img src=x onerror=\"window.__pwned=1;document.title='PWNED'\">"
HOSTILE_TRACEBACK = ("Traceback (most recent call last):\n  File \"app.py\", line 12, in handle\n"
                     "    raise ValueError(msg)\nValueError: bad <img src=x onerror=\"window.__pwned=2\"> & more")
HOSTILE_SCENARIO = "leak-hunt <svg onload=\"window.__pwned=3\">"
HOSTILE_ARGV = "</script><script>window.__pwned=4;document.title='PWNED'</script>"

COLUMNS = ("t_s,requests,rss_bytes,pyheap_bytes,pymalloc_arena_bytes,native_heap_bytes,"
           "native_free_bytes,gc_count0,gc_count1,gc_count2,gc_collections,gc_pause_s,errors,"
           "latency_p50_ms,latency_p99_ms,phase")

MiB = 1024 * 1024


def write_rep(repdir, rng, n, hz, rps, leak_per_req, warmup_s, events_hz, spike_at=None):
    """One rep's samples.csv and events.jsonl; returns its summary entry."""
    os.makedirs(repdir, exist_ok=True)
    lines = [COLUMNS]
    pause = 0.0
    gc_t = []
    t_gc = 0.0
    while t_gc < n / hz:
        t_gc += rng.expovariate(events_hz)
        gc_t.append(t_gc)
    rss0, py0, nat0 = 60 * MiB, 18 * MiB, 30 * MiB
    requests = 0
    warm_req = None
    for i in range(n):
        t = i / hz
        requests = int(t * rps)
        noise = rng.gauss(0, 0.15 * MiB)
        growth = leak_per_req * requests
        rss = rss0 + growth + 6 * MiB * (1 - math.exp(-t / 20)) + noise
        if spike_at is not None and i == spike_at:
            rss += 80 * MiB  # one-sample spike: must survive downsampling
        py = py0 + 0.6 * growth + rng.gauss(0, 0.05 * MiB)
        nat = nat0 + 0.3 * growth + rng.gauss(0, 0.05 * MiB)
        free = 2 * MiB + 1.5 * MiB * math.sin(t / 7) ** 2
        pause += 0.0004 / hz * events_hz
        p50 = "%.3f" % (4 + rng.random()) if i else ""
        p99 = "%.3f" % (18 + 10 * rng.random() + (40 if rng.random() < 0.01 else 0)) if i else ""
        if t < warmup_s:
            phase = "warmup"
        elif warm_req is None:
            phase, warm_req = "warmup_end", requests
        else:
            phase = "run"
        if i == n - 1:
            phase = "end"
        lines.append("%.2f,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%.4f,%d,%s,%s,%s" % (
            t, requests, rss, py, py * 0.8, nat, free, i % 700, i % 10, i // 1000, i // 50,
            pause, requests // 997, p50, p99, phase))
    end_t = (n - 1) / hz
    for k, drop in enumerate((0.9, 0.85)):
        lines.append("%.2f,%d,%d,%d,%d,%d,%d,0,0,0,0,%.4f,0,,,quiesce" % (
            end_t + 1 + k, requests, rss * drop, py * drop, py * 0.7, nat * drop, free * 3, pause))
    with open(os.path.join(repdir, "samples.csv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(repdir, "events.jsonl"), "w") as f:
        for t in gc_t:
            gen = 2 if rng.random() < 0.02 else (1 if rng.random() < 0.1 else 0)
            dur = {0: 0.0003, 1: 0.002, 2: 0.04}[gen] * rng.lognormvariate(0, 0.5)
            f.write(json.dumps({"gen": gen, "t_s": round(t, 4), "duration_s": dur,
                                "collected": rng.randrange(100), "uncollectable": 0}) + "\n")
    return {"requests": requests, "duration_s": end_t, "throughput_rps": rps,
            "warmup_end_s": warmup_s, "warmup_end_requests": warm_req,
            "latency_ms": {"p50": 4.5, "p90": 12.0, "p99": 25.1, "p999": 60.2, "max": 88.0},
            "peak_rss_bytes": int(rss0 + leak_per_req * requests + 86 * MiB)}


def slopes(leak):
    out = {}
    for metric, share in (("rss", 1.0), ("pyheap", 0.6), ("native", 0.3), ("native_free", 0.0)):
        bpr = leak * share
        out[metric] = {"bytes_per_request": bpr, "mb_per_hour": bpr * 50 * 3600 / 1e6,
                       "ci": [bpr * 0.8 - 3, bpr * 1.2 + 3]}
    return out


def make(kind, out):
    rng = random.Random(6)
    if kind == "small":
        arms = {"baseline": 0.0, HOSTILE_ARM: 420.0}
        nreps, n, hz, warmup_s = 2, 600, 2.0, 30.0
    else:
        arms = {"control": 0.0, "freeze": 35.0}
        nreps, n, hz, warmup_s = 1, 360_000, 100.0, 120.0
    summary = {"scenario": HOSTILE_SCENARIO if kind == "small" else "hour-at-100hz",
               "status": "complete", "control": next(iter(arms)), "arms": {}}
    for a, (arm, leak) in enumerate(arms.items()):
        reps = []
        for k in range(1, nreps + 1):
            repdir = os.path.join(out, "arms", arm, "rep-%d" % k)
            entry = write_rep(repdir, rng, n, hz, 50.0, leak, warmup_s, 4.0 if kind == "small" else 10.0,
                              spike_at=n // 2 + 7 if a == 0 else None)
            entry.update({"rep": k, "outcome": "ok", "reason": None, "errors": 3 * k,
                          "errors_by_route": {
                              HOSTILE_ROUTE: {"count": 2 * k, "first": {"type": "ValueError", "traceback": HOSTILE_TRACEBACK}},
                              HOSTILE_ROUTE2: {"count": k, "first": {"type": "KeyError <b>", "traceback": "KeyError: 'x'"}},
                          } if kind == "small" else {}})
            with open(os.path.join(repdir, "rep.json"), "w") as f:
                json.dump(entry, f)
            reps.append(entry)
        if kind == "small" and a == 1:
            reps.append({"rep": 3, "outcome": "crashed", "reason": "SIGSEGV in <native>", "requests": 12, "errors": 0})
        summary["arms"][arm] = {
            "reps": reps, "throughput_rps": 50.0, "peak_rss_bytes": max(r.get("peak_rss_bytes", 0) for r in reps),
            "latency_ms": {"p50": 4.5, "p90": 12.0, "p99": 25.1, "p999": 60.2, "max": 88.0},
            "errors": sum(r["errors"] for r in reps), "slopes": slopes(leak),
            "verdict": "no leak" if leak == 0 else {"verdict": "leak", "confidence": 0.97, "why": "RSS slope CI excludes 0 <i>"},
            "attribution": None if leak == 0 else {"pyheap": 0.6, "native": 0.3, "unattributed": 0.1},
        }
    # As analyze writes them: per-figure means, difference, CI (null ends when untested), p.
    summary["comparisons"] = [{"arm": list(arms)[1], "control": list(arms)[0], "reps": [nreps, nreps],
                               "statement": "%d vs %d ok reps: differences are judged on per-rep values." % (nreps, nreps),
                               "figures": {
                                   "pyheap_slope": {"control_mean": 0.123456789012, "arm_mean": 420.987654321,
                                                    "diff": 420.864197531988, "ratio": 3410.0,
                                                    "ci": [401.33333333333337, 440.39506172839507],
                                                    "p": 0.0079365079365, "significant": True, "reps": [nreps, nreps]},
                                   "peak_rss_bytes": {"control_mean": 48390123.0, "arm_mean": 52428800.0,
                                                      "diff": 4038677.0, "ratio": 1.083, "ci": [None, None],
                                                      "p": None, "significant": False, "reps": [nreps, nreps]},
                                   "latency_p99_ms": {"control_mean": 25.1, "arm_mean": 24.7, "diff": -0.4,
                                                      "control_pooled": 26.25, "arm_pooled": 24.5,
                                                      "ratio": 0.98, "ci": [-1.2, 0.5], "p": 0.69,
                                                      "significant": False, "reps": [nreps, nreps]},
                                   "gc_time_share": {"control_mean": 0.0123, "arm_mean": 0.0, "diff": -0.0123,
                                                     "ratio": 0.0, "ci": [-0.02, -0.004], "p": 0.03,
                                                     "significant": True, "reps": [nreps, nreps]}}}]
    if kind == "small":  # the large run has none: the page must do without
        summary["ablation"] = {"ranking": [
            {"suspect": "mock:" + HOSTILE_ROUTE, "growth_removed": 0.71, "ci": [0.6, 0.8]},
            {"suspect": "gc.freeze", "growth_removed": 0.12, "ci": [-0.05, 0.3]}]}
    manifest = {"versions": {"pyab": "0.1.0", "python": "3.11.2", "python_hexversion": 51053296,
                             "libuv": "1.44.2", "jansson": "2.14"},
                "scenario_path": "/work/scenarios/leak.json",
                "scenario": {"name": summary["scenario"], "app": {"path": "app.py"}, "reps": nreps,
                             "arms": {arm: {} for arm in arms}},
                "arms": {arm: {"settings": {"gc": {"threshold": [700, 10, 10]}}, "readback": {"gc_threshold": [700, 10, 10]}} for arm in arms},
                "host": {"cpus": 8, "hostname": "ci-runner"}, "git_revision": "f109329", "started_utc": "2025-01-01T00:00:00Z",
                "argv": ["pyab", "run", "leak.json", HOSTILE_ARGV]}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


BROKEN_ARMS = ["a%02d" % i for i in range(12)]
CRASH_REASON = 'killed by signal 11 (SIGSEGV) at File "service.py", line 5 in handle'
OVER_LIMIT_REASON = "RSS 466.6 MB passed limits.rss_mb 300"
TIMEOUT_REASON = 'still running after limits.run_seconds 3.0 s at File "service.py", line 9 in handle'
BURST_RPS = 5000.0


def write_broken_rep(repdir, rng, n, name="samples.csv"):
    """A short rep with native_other_bytes, a start-up burst and no GC events."""
    os.makedirs(repdir, exist_ok=True)
    lines = [COLUMNS + ",native_other_bytes,pyheap_malloc_bytes"]
    requests = 0
    for i in range(n):
        t = i * 0.5
        requests += int(BURST_RPS * 0.5) if i == 1 else 25  # a backlog served at once, then 50/s
        nat = 30 * MiB + 200 * requests
        py_malloc = 2 * MiB + 100 * requests
        lines.append("%.2f,%d,%d,%d,%d,%d,%d,0,0,0,0,0.0,0,%s,%s,%s,%d,%d" % (
            t, requests, 60 * MiB + 300 * requests + rng.gauss(0, 1e4), 18 * MiB + 120 * requests,
            14 * MiB, nat, 2 * MiB, "4.0" if i else "", "9.0" if i else "",
            "run" if i < n - 1 else "end", nat - py_malloc, py_malloc))
    with open(os.path.join(repdir, name), "w") as f:
        f.write("\n".join(lines) + "\n")
    return requests


def make_broken(out):
    rng = random.Random(13)
    summary = {"scenario": "cut-off-run", "status": "cut-off", "control": BROKEN_ARMS[0], "arms": {},
               "status_note": "the run was cut off: summary.json still said \"running\", but no process has "
                              "the folder open and nothing in it was written for 3600 s (pyab was killed?)."}
    for i, arm in enumerate(BROKEN_ARMS):
        repdir = os.path.join(out, "arms", arm, "rep-1")
        entry = {"rep": 1, "outcome": "ok", "reason": None, "errors": 0, "throughput_rps": 50.0,
                 "latency_ms": {"p50": 4.0, "p99": 9.0}}
        if i == len(BROKEN_ARMS) - 1:
            write_broken_rep(repdir, rng, 40, "samples.csv.part")  # running when pyab was killed
            with open(os.path.join(repdir, "samples.csv.part"), "a") as f:
                f.write("20.00,99")
            summary["arms"][arm] = {"reps": []}
            continue
        entry["requests"] = write_broken_rep(repdir, rng, 60)
        open(os.path.join(repdir, "events.jsonl"), "w").close()
        if i == 1:
            entry.update(outcome="crashed", reason=CRASH_REASON)
        elif i == 2:
            entry.update(outcome="over-limit", reason=OVER_LIMIT_REASON)
        elif i == 3:
            entry.update(outcome="timeout", reason=TIMEOUT_REASON)
        elif i == 4:
            with open(os.path.join(repdir, "samples.csv"), "w") as f:
                f.write("t_s,requests,phase\n0,0,run\n\x00garbage\n")
            entry["analysis_skipped"] = os.path.join(repdir, "samples.csv") + ":3: 1 fields, the header has 3"
        ok = entry["outcome"] == "ok" and i != 4
        summary["arms"][arm] = {
            "reps": [entry], "reps_ok": 1 if ok else 0,
            "verdict": "no-leak" if ok else "inconclusive",
            "evidence": {} if ok else {"next": "reps that finish ok: none did"},
        }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("small", "large", "broken"):
        sys.exit("usage: make_fixture.py small|large|broken DIR")
    if sys.argv[1] == "broken":
        make_broken(sys.argv[2])
    else:
        make(sys.argv[1], sys.argv[2])
