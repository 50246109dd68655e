"""WSGI benchmarks (`meson test -C build --benchmark wsgi`, or run directly:
/usr/bin/python3 tests/bench/wsgi.py [loop|gunicorn|all] [--pyab PATH]).

The app is scenarios/flask-shop (its fixed variant, so memory stays flat)
and the requests are that scenario's trace (a HAR capture: product pages,
searches, JSON cart and checkout posts, orders, health; 6 routes).

- loop: pyab's WSGI path (closed loop, 1 worker) against a plain Python
  loop calling the same app with hand-built environs (templates built
  before timing; per request a dict copy and a fresh BytesIO). The plain
  loop runs inside a pyab child, so both sides use the same interpreter
  (Debian's shared libpython, which pyab embeds) with the same heap hooks;
  the same loop under /usr/bin/python3 (a statically linked interpreter,
  faster by itself) is printed too, for scale.
- gunicorn: the same app served by gunicorn (1 sync worker, 127.0.0.1)
  under wrk replaying the same request mix over loopback for a few
  seconds, against pyab with 1 worker.

Medians of PYAB_BENCH_REPS runs (default 3); ratios are printed, nothing
is asserted.
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
SHOP = ROOT / "scenarios" / "flask-shop"
TRACE = SHOP / "trace.jsonl"
PY = "/usr/bin/python3"
REPS = int(os.environ.get("PYAB_BENCH_REPS", "3"))
REQUESTS = 20000

# Builds one environ template per trace record the way a hand-written
# harness would (no adapter code), then times N calls.
PLAIN = r'''
import io, json, os, sys, time
sys.path.insert(0, os.environ["SHOP"])
os.environ["PYAB_SHOP_FIXED"] = "1"
from shop import app
from urllib.parse import unquote

def templates(path):
    out = []
    for line in open(path):
        r = json.loads(line)
        body = r.get("body")
        data = b"" if body is None else json.dumps(body).encode()
        env = {"REQUEST_METHOD": r["method"], "SCRIPT_NAME": "", "PATH_INFO": unquote(r["path"]),
               "QUERY_STRING": r.get("query", ""), "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
               "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False}
        for k, v in r.get("headers", {}).items():
            k = k.upper().replace("-", "_")
            env[k if k == "CONTENT_TYPE" else "HTTP_" + k] = v
        if data:
            env["CONTENT_LENGTH"] = str(len(data))
        out.append((env, data))
    return out

def start_response(status, headers, exc_info=None):
    return None

def run(n):
    tpl = templates(os.environ["TRACE"])
    BytesIO = io.BytesIO
    t, c = time.perf_counter(), time.process_time()
    for i in range(n):
        env, data = tpl[i % len(tpl)]
        env = dict(env)
        env["wsgi.input"] = BytesIO(data)
        result = app(env, start_response)
        try:
            for _ in result:
                pass
        finally:
            result.close()
    return [n / (time.perf_counter() - t), n / (time.process_time() - c)]

done = False
def handle(req):  # run as a pyab handler: one call runs the whole loop
    global done
    if not done:
        done = True
        with open(os.environ["BENCH_OUT"], "w") as f:
            f.write(repr(run(int(os.environ["N"]))))

if __name__ == "__main__":
    print(run(int(os.environ["N"])))
'''

WRK_LUA = r'''
local reqs = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do
    local m, p, b, ct = line:match("^(%S+)\t(%S+)\t(.*)\t(.*)$")
    local h = {}
    h["Host"] = "localhost"
    if ct ~= "" then h["Content-Type"] = ct end
    if b == "" then b = nil end
    reqs[#reqs + 1] = wrk.format(m, p, h, b)
  end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
'''


def pyab_rps(pyab, tmp, extra_load=None):
    sc = {"name": "wsgi-bench", "app": {"wsgi": "shop:app"}, "python": {"path": [str(SHOP)]},
          "trace": str(TRACE), "env": {"PYAB_SHOP_FIXED": "1"},
          "load": {"model": "closed", "users": 1, "requests": REQUESTS, **(extra_load or {})},
          "workers": 1, "sample": {"interval_ms": 100}}
    rep = run_pyab(pyab, tmp, sc)
    return [rep["throughput_rps"], rep["requests"] / rep["cpu_s"]]


def run_pyab(pyab, tmp, sc):
    path = tmp / "bench-scenario.json"
    path.write_text(json.dumps(sc))
    out = tmp / ("out-%d" % time.monotonic_ns())
    r = subprocess.run([pyab, "run", str(path), "--out", str(out), "--quiet", "--no-report"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("pyab failed: %s" % r.stderr[-2000:])
    rep = json.load(open(out / "arms" / "base" / "rep-1" / "rep.json"))
    shutil.rmtree(out, ignore_errors=True)
    return rep


def plain_in_pyab(pyab, tmp, plain):
    out = tmp / "plain-rps.txt"
    sc = {"name": "wsgi-plain", "app": {"path": str(plain), "handler": "handle"},
          "trace": str(TRACE), "load": {"model": "closed", "users": 1, "requests": 1},
          "workers": 1, "sample": {"interval_ms": 100},
          "env": {"SHOP": str(SHOP), "TRACE": str(TRACE), "N": str(REQUESTS),
                  "BENCH_OUT": str(out), "PYAB_SHOP_FIXED": "1"}}
    run_pyab(pyab, tmp, sc)
    return eval(out.read_text())


def plain_static(plain):
    env = dict(os.environ, SHOP=str(SHOP), TRACE=str(TRACE), N=str(REQUESTS))
    return eval(subprocess.run([PY, str(plain)], env=env, capture_output=True, text=True,
                               check=True).stdout)


def bench_loop(pyab, tmp):
    plain = tmp / "plain_loop.py"
    plain.write_text(PLAIN)
    ours, base, static = [], [], []
    for _ in range(REPS):  # interleaved, so drifts in machine load hit all three alike
        ours.append(pyab_rps(pyab, tmp))
        base.append(plain_in_pyab(pyab, tmp, plain))
        static.append(plain_static(plain))
    print("wsgi loop: flask-shop app, its trace's request mix, %d requests, 1 worker; "
          "req/s by wall clock, and per CPU second (robust when the machine is busy)" % REQUESTS)
    for k, unit in ((0, "req/s"), (1, "req/CPU-s")):
        o, b, s = (statistics.median(x[k] for x in runs) for runs in (ours, base, static))
        print("  pyab WSGI path %.0f %s; plain loop, hand-built environs, same interpreter "
              "%.0f: ratio %.2f (target >= 0.90); plain loop under /usr/bin/python3 (static "
              "build) %.0f: pyab/static %.2f" % (o, unit, b, o / b, s, o / s))


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
            target = r["path"] + ("?" + r["query"] if r.get("query") else "")
            body = json.dumps(r["body"], separators=(",", ":")) if "body" in r else ""
            ct = "application/json" if body else ""
            f.write("%s\t%s\t%s\t%s\n" % (r["method"], target, body, ct))
    return path


def proc_cpu(pid):
    """CPU seconds of a process and its children (gunicorn's master and worker)."""
    total = 0.0
    try:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        kids = open("/proc/%d/task/%d/children" % (pid, pid)).read().split()
    except OSError:
        return total
    return total + sum(proc_cpu(int(k)) for k in kids)


def gunicorn_rps(tmp, seconds, route=None):
    port = free_port()
    env = dict(os.environ, PYAB_SHOP_FIXED="1")
    g = subprocess.Popen(["gunicorn", "--workers", "1", "--bind", "127.0.0.1:%d" % port,
                          "--chdir", str(SHOP), "--log-level", "warning", "shop:app"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):  # up to 10 s for the worker to listen
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("gunicorn did not start: %s" % g.stderr.read().decode()[-2000:])
        lua = tmp / "mix.lua"
        lua.write_text(WRK_LUA)
        reqs = wrk_requests(tmp / "mix.tsv", route)
        cpu0 = proc_cpu(g.pid)
        r = subprocess.run(["wrk", "-t1", "-c4", "-d%ds" % seconds, "-s", str(lua),
                            "http://127.0.0.1:%d/" % port, "--", str(reqs)],
                           capture_output=True, text=True, timeout=seconds + 30)
        cpu = proc_cpu(g.pid) - cpu0
        done = [int(x.split()[0]) for x in r.stdout.splitlines() if " requests in " in x]
        for line in r.stdout.splitlines():
            if line.startswith("Requests/sec:") and done:
                return [float(line.split()[1]), done[0] / cpu]
        sys.exit("wrk printed no rate: %s %s" % (r.stdout, r.stderr))
    finally:
        g.send_signal(signal.SIGTERM)
        g.wait(timeout=30)


def bench_gunicorn(pyab, tmp):
    if not (shutil.which("gunicorn") and shutil.which("wrk")):
        print("gunicorn: skipped (apt-get install gunicorn wrk)")
        return
    print("wsgi gunicorn: same app and requests; gunicorn 1 sync worker under wrk "
          "(1 thread, 4 connections, 5 s, loopback) against pyab with 1 worker")
    # The whole mix, then the lightest route alone (load.routes), where the
    # server's own per-request cost weighs most against the app's.
    for label, route in (("request mix", None), ("/health only", "/health")):
        ours, theirs = [], []
        for _ in range(REPS):
            ours.append(pyab_rps(pyab, tmp, {"routes": [route]} if route else None))
            theirs.append(gunicorn_rps(tmp, 5, route))
            time.sleep(0.5)  # let gunicorn's exit settle before the next pyab run
        o, t = (statistics.median(x[0] for x in v) for v in (ours, theirs))
        oc, tc = (statistics.median(x[1] for x in v) for v in (ours, theirs))
        print("  %-12s pyab %.0f req/s, gunicorn %.0f req/s: ratio %.1fx (target >= 10x); "
              "per server CPU second: pyab %.0f, gunicorn %.0f: ratio %.1fx"
              % (label, o, t, o / t, oc, tc, oc / tc))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", nargs="?", default="all", choices=["loop", "gunicorn", "all"])
    ap.add_argument("--pyab", default=str(ROOT / "build" / "harness" / "pyab"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        if args.which in ("loop", "all"):
            bench_loop(args.pyab, tmp)
        if args.which in ("gunicorn", "all"):
            bench_gunicorn(args.pyab, tmp)


if __name__ == "__main__":
    main()
