"""ASGI benchmarks (`meson test -C build --benchmark asgi-loop asgi-uvicorn asgi-handoff`,
or run directly: /usr/bin/python3 tests/bench/asgi.py [loop|uvicorn|handoff|all] [--pyab PATH]).

The app is scenarios/fastapi-inference (its fixed variant, so memory stays
flat: FastAPI, a numpy image decode and a two-layer model) and the requests
are that scenario's trace (/predict with PGM images, /health, /model).

- loop: pyab's ASGI path (closed loop, 4 users: four tasks in flight on the
  event loop) against a plain Python asyncio loop calling the same app with
  hand-built scopes (templates built before timing; per request a scope
  copy, a receive and a send, four tasks at once as well). The plain loop
  runs inside a pyab child, so both sides use the same interpreter with
  the same heap hooks.
- uvicorn: the same app served by uvicorn (1 worker, asyncio loop, h11,
  127.0.0.1) under wrk replaying the same requests over loopback for a few
  seconds (1 thread, 4 connections), against pyab with 4 users; the whole
  mix, then /model alone (the lightest route).
- handoff: what pyab's pacing costs an open loop. A no-op ASGI app, 20000
  requests, closed loop (no pacer, no wake-ups) against an open loop at
  10000 and at 40000 req/s (the C pacer sleeps to each due time and wakes
  the loop through an eventfd once per batch), under asyncio and uvloop:
  CPU of the whole child per request, and requests per wake-up.

Medians of PYAB_BENCH_REPS runs (default 3), interleaved; requests per CPU
second of the serving process are what to read on a busy machine. Ratios
are printed, nothing is asserted.
"""
import argparse
import json
import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
APP = ROOT / "scenarios" / "fastapi-inference"
TRACE = APP / "trace.jsonl"
REPS = int(os.environ.get("PYAB_BENCH_REPS", "3"))
REQUESTS = 6000
USERS = 4
ENV = {"INFER_FIXED": "1", "OPENBLAS_NUM_THREADS": "1"}

# A hand-written harness: one scope template per trace record built before
# timing, then USERS coroutines calling the app back to back.
PLAIN = r'''
import asyncio, json, os, sys, time
sys.path.insert(0, os.environ["APP"])
from app import app, load_model

def templates(path):
    out = []
    for line in open(path):
        r = json.loads(line)
        body = r.get("body")
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = [(b"host", b"localhost")]
        if data:
            headers += [(b"content-type", b"application/json"),
                        (b"content-length", str(len(data)).encode())]
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
                 "http_version": "1.1", "method": r["method"], "scheme": "http",
                 "path": r["route"], "raw_path": r["route"].encode(), "query_string": b"",
                 "root_path": "", "headers": headers, "server": ("localhost", 80),
                 "client": ("127.0.0.1", 50000)}
        out.append((scope, data))
    return out

async def one(scope, data):
    sent = False
    done = asyncio.get_running_loop().create_future()
    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}
        await done
        return {"type": "http.disconnect"}
    async def send(message):
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set_result(None)
    await app(dict(scope), receive, send)

async def main(n, users):
    await load_model()
    tpl = templates(os.environ["TRACE"])
    nxt = [0]
    async def user():
        while nxt[0] < n:
            i = nxt[0]
            nxt[0] += 1
            scope, data = tpl[i % len(tpl)]
            await one(scope, data)
    t, c = time.perf_counter(), time.process_time()
    await asyncio.gather(*[user() for _ in range(users)])
    return [n / (time.perf_counter() - t), n / (time.process_time() - c)]

done = False
def handle(req):  # run as a (synchronous) pyab handler: one call runs the whole loop
    global done
    if not done:
        done = True
        r = asyncio.run(main(int(os.environ["N"]), int(os.environ["USERS"])))
        with open(os.environ["BENCH_OUT"], "w") as f:
            f.write(repr(r))
'''

NOOP = r'''
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
'''

WRK_LUA = r'''
local reqs = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do
    local m, p, b = line:match("^(%S+)\t(%S+)\t(.*)$")
    local h = {}
    h["Host"] = "localhost"
    if b == "" then b = nil else h["Content-Type"] = "application/json" end
    reqs[#reqs + 1] = wrk.format(m, p, h, b)
  end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
'''


def run_pyab(pyab, tmp, sc):
    path = tmp / "bench-scenario.json"
    path.write_text(json.dumps(sc))
    out = tmp / ("out-%d" % time.monotonic_ns())
    r = subprocess.run([pyab, "run", str(path), "--out", str(out), "--quiet", "--no-report",
                        "--no-history"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("pyab failed: %s" % r.stderr[-2000:])
    rep = json.load(open(out / "arms" / "base" / "rep-1" / "rep.json"))
    shutil.rmtree(out, ignore_errors=True)
    return rep


# A framework-free ASGI app: what is left is the serving path itself (pyab's
# hand-off, or uvicorn's HTTP parsing and sockets), not FastAPI's.
RAW_APP = r'''
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif m["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
'''


def pyab_rps(pyab, tmp, loop="asyncio", route=None, appdir=APP):
    load = {"model": "closed", "users": USERS, "requests": REQUESTS}
    if route:
        load["routes"] = [route]
    sc = {"name": "asgi-bench", "app": {"asgi": "app:app"}, "python": {"path": [str(appdir)]},
          "trace": str(TRACE), "env": ENV, "asgi": {"loop": loop}, "load": load,
          "sample": {"interval_ms": 100}}
    rep = run_pyab(pyab, tmp, sc)
    if rep["errors"]:
        sys.exit("pyab: %d requests raised: %s" % (rep["errors"], rep["first_error"]))
    return [rep["throughput_rps"], rep["requests"] / rep["cpu_s"]]


def plain_in_pyab(pyab, tmp, plain):
    out = tmp / "plain-rps.txt"
    sc = {"name": "asgi-plain", "app": {"path": str(plain), "handler": "handle"},
          "trace": str(TRACE), "load": {"model": "closed", "users": 1, "requests": 1},
          "workers": 1, "sample": {"interval_ms": 100},
          "env": dict(ENV, APP=str(APP), TRACE=str(TRACE), N=str(REQUESTS), USERS=str(USERS),
                      BENCH_OUT=str(out))}
    run_pyab(pyab, tmp, sc)
    return eval(out.read_text())


def bench_loop(pyab, tmp):
    plain = tmp / "plain_loop.py"
    plain.write_text(PLAIN)
    ours, base = [], []
    for _ in range(REPS):  # interleaved, so drifts in machine load hit both alike
        ours.append(pyab_rps(pyab, tmp))
        base.append(plain_in_pyab(pyab, tmp, plain))
    print("asgi loop: fastapi-inference app (fixed), its trace's request mix, %d requests, "
          "%d in flight; req/s by wall clock, and per CPU second" % (REQUESTS, USERS))
    for k, unit in ((0, "req/s"), (1, "req/CPU-s")):
        o, b = (statistics.median(x[k] for x in runs) for runs in (ours, base))
        print("  pyab ASGI path %.0f %s; plain asyncio loop, hand-built scopes, same "
              "interpreter %.0f: ratio %.2f (target >= 0.90)" % (o, unit, b, o / b))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk_requests(path, route=None):
    with open(path, "w") as f:
        for line in open(TRACE):
            r = json.loads(line)
            if route and r["route"] != route:
                continue
            body = json.dumps(r["body"], separators=(",", ":")) if "body" in r else ""
            f.write("%s\t%s\t%s\n" % (r["method"], r["route"], body))
    return path


def proc_cpu(pid):
    """CPU seconds of a process and its children."""
    total = 0.0
    try:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
    except OSError:
        return total
    return total + sum(proc_cpu(int(k)) for k in kids)


def uvicorn_rps(tmp, seconds, route=None, appdir=APP):
    port = free_port()
    env = dict(os.environ, **ENV)
    u = subprocess.Popen(["/usr/bin/python3", "-m", "uvicorn", "--port", str(port),
                          "--host", "127.0.0.1", "--loop", "asyncio", "--http", "h11",
                          "--log-level", "warning", "--no-access-log", "app:app"],
                         cwd=str(appdir), env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        for _ in range(100):  # up to 10 s to listen
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("uvicorn did not start: %s" % u.stderr.read().decode()[-2000:])
        lua = tmp / "mix.lua"
        lua.write_text(WRK_LUA)
        reqs = wrk_requests(tmp / "mix.tsv", route)
        cpu0 = proc_cpu(u.pid)
        r = subprocess.run(["wrk", "-t1", "-c%d" % USERS, "-d%ds" % seconds, "-s", str(lua),
                            "http://127.0.0.1:%d/" % port, "--", str(reqs)],
                           capture_output=True, text=True, timeout=seconds + 30)
        cpu = proc_cpu(u.pid) - cpu0
        done = [int(x.split()[0]) for x in r.stdout.splitlines() if " requests in " in x]
        if "Non-2xx" in r.stdout and "Socket errors" in r.stdout:
            print("  (wrk: %s)" % r.stdout.replace("\n", " | "))
        for line in r.stdout.splitlines():
            if line.startswith("Requests/sec:") and done:
                return [float(line.split()[1]), done[0] / cpu]
        sys.exit("wrk printed no rate: %s %s" % (r.stdout, r.stderr))
    finally:
        u.send_signal(signal.SIGTERM)
        u.wait(timeout=30)


def bench_uvicorn(pyab, tmp):
    have = shutil.which("wrk") and subprocess.run(
        ["/usr/bin/python3", "-c", "import uvicorn"], capture_output=True).returncode == 0
    if not have:
        print("asgi uvicorn: skipped (apt-get install python3-uvicorn wrk)")
        return
    print("asgi uvicorn: same app and requests; uvicorn 1 worker (asyncio, h11) under wrk "
          "(1 thread, %d connections, 5 s, loopback) against pyab with %d users" % (USERS, USERS))
    # The whole mix, then the lightest route alone (/model: an async endpoint
    # answering a small dict), where the server's own cost weighs most; then a
    # framework-free app, where only the serving path is left to compare.
    raw = tmp / "rawapp"
    raw.mkdir(exist_ok=True)
    (raw / "app.py").write_text(RAW_APP)
    for label, route, appdir in (("request mix", None, APP), ("/model only", "/model", APP),
                                 ("raw ASGI app", None, raw)):
        ours, theirs = [], []
        for _ in range(REPS):
            ours.append(pyab_rps(pyab, tmp, route=route, appdir=appdir))
            theirs.append(uvicorn_rps(tmp, 5, route, appdir=appdir))
            time.sleep(0.5)
        o, t = (statistics.median(x[0] for x in v) for v in (ours, theirs))
        oc, tc = (statistics.median(x[1] for x in v) for v in (ours, theirs))
        print("  %-12s by wall clock: pyab %.0f req/s, uvicorn %.0f req/s: ratio %.1fx; per "
              "server CPU second: pyab %.0f, uvicorn %.0f: ratio %.1fx (target >= 3x)"
              % (label, o, t, o / t, oc, tc, oc / tc))


def bench_handoff(pyab, tmp):
    (tmp / "noop.py").write_text(NOOP)
    (tmp / "noop.jsonl").write_text("".join('{"t": %g, "route": "/n"}\n' % (i * 1e-4)
                                            for i in range(1000)))
    n = 20000
    loads = []
    for loop in ("asyncio", "uvloop"):
        loads += [("%s: closed loop, 1 user" % loop, loop,
                   {"model": "closed", "users": 1, "requests": n}),
                  ("%s: open loop, 10000 req/s" % loop, loop,
                   {"model": "open", "rate": 10000, "loops": n // 1000}),
                  ("%s: open loop, 40000 req/s" % loop, loop,
                   {"model": "open", "rate": 40000, "loops": n // 1000})]
    runs = {label: [] for label, _, _ in loads}
    for _ in range(REPS):
        for label, loop, load in loads:
            sc = {"name": "handoff", "app": {"asgi": "noop:app"}, "python": {"path": [str(tmp)]},
                  "trace": str(tmp / "noop.jsonl"), "load": load, "max_in_flight": 100000,
                  "asgi": {"loop": loop}, "sample": {"interval_ms": 100}}
            rep = run_pyab(pyab, tmp, sc)
            ev = rep["event_loop"]
            runs[label].append((rep["cpu_s"] / rep["requests"] * 1e6,
                                rep["requests"] / max(ev["batches"], 1), rep["late"],
                                rep["throughput_rps"]))
    print("asgi handoff: a no-op ASGI app, %d requests; CPU of the whole child per request" % n)
    for label, loop, _ in loads:
        base = statistics.median(x[0] for x in runs["%s: closed loop, 1 user" % loop])
        us = statistics.median(x[0] for x in runs[label])
        per = statistics.median(x[1] for x in runs[label])
        rps = statistics.median(x[3] for x in runs[label])
        print("  %-34s %.1f us/request (%.2fx the closed loop), %.0f req/s, %s" % (
            label, us, us / base, rps,
            "%.1f requests per wake-up" % per if "open" in label else "no wake-ups"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", nargs="?", default="all",
                    choices=["loop", "uvicorn", "handoff", "all"])
    ap.add_argument("--pyab", default=str(ROOT / "build" / "harness" / "pyab"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        if args.which in ("loop", "all"):
            bench_loop(args.pyab, tmp)
        if args.which in ("uvicorn", "all"):
            bench_uvicorn(args.pyab, tmp)
        if args.which in ("handoff", "all"):
            bench_handoff(args.pyab, tmp)


if __name__ == "__main__":
    main()
