"""ASGI and `async def` services, end to end through the pyab binary.

- scope: an app echoes each http scope and the messages receive() gives it;
  method, path (percent-decoded) and raw_path, query_string (string and
  object queries), headers (lower-cased bytes, content-length of the body
  actually sent, a default host), server/client, root_path, and a body
  split into chunk_bytes pieces with more_body set on all but the last.
- loops: the same app under "asyncio" and "uvloop"; the app reports the
  class of its running loop (skipped, with the reason, when uvloop is not
  installed).
- lifespan: "auto" with an app that does not speak it (a warning, the run
  goes on), "on" with the same app (exit 2), "off" (never called).
- bad keys: asgi.loop, asgi.root_path, app.asgi without ":", a handler
  next to app.asgi: exit 2 naming the key, nothing written.
- the closed loop and the stop: `users` coroutines at once.
"""
import importlib.util
import json

import pytest

from conftest import load_json, run_pyab


def write_trace(path, records):
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return path


def run_scenario(pyab, tmp, sc, expect_exit=0, name="scenario.json"):
    scp = tmp / name
    scp.write_text(json.dumps(sc))
    out = tmp / ("out-" + name.split(".")[0])
    r = run_pyab(pyab, ["run", str(scp), "--out", str(out), "--quiet", "--no-report",
                        "--no-history"], cwd=tmp, timeout=120)
    assert r.returncode == expect_exit, r.stderr[-3000:]
    return (load_json(out / "summary.json") if expect_exit == 0 else None), r, out


def scenario(tmp, trace, **extra):
    sc = {"name": "t", "app": {"asgi": "echo:app"}, "python": {"path": [str(tmp)]},
          "trace": str(trace), "load": {"model": "open", "speed": 1},
          "sample": {"interval_ms": 50}, "env": {"OUT": str(tmp / "calls.jsonl")}}
    sc.update(extra)
    return sc


ECHO = r'''
import asyncio, json, os
OUT = os.environ["OUT"]

def plain(v):
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v

async def app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan here")  # as many small apps do
    messages = []
    while True:
        m = await receive()
        messages.append(plain(m))
        if not m.get("more_body"):
            break
    rec = {k: plain(v) for k, v in scope.items() if k != "state"}
    rec["messages"] = messages
    rec["loop"] = type(asyncio.get_running_loop()).__module__
    with open(OUT, "a") as f:
        f.write(json.dumps(rec) + "\n")
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"x" * 10})
'''

RECORDS = [
    {"t": 0, "route": "/search", "method": "GET", "path": "/search", "query": "q=red+lamp&n=5",
     "headers": {"User-Agent": "ua/1", "X-Trace-Id": "abc", "Host": "shop.example.com:8443"}},
    {"t": 0.001, "route": "/search", "path": "/search", "query": {"q": "a b", "tag": ["x", "y"]}},
    {"t": 0.002, "route": "/cart", "method": "post", "path": "/cart",
     "body": {"items": [1, 2], "note": "caf\u00e9"}},
    {"t": 0.003, "route": "/form", "method": "PUT", "path": "/form", "body": "a=1&b=2" * 10,
     "headers": {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "999"}},
    {"t": 0.004, "route": "/files/{id}", "path": "/files/r%C3%A9sum%C3%A9%20v2", "query": "?x=1"},
]


def echo_run(pyab, tmp, **extra):
    (tmp / "echo.py").write_text(ECHO)
    trace = write_trace(tmp / "trace.jsonl", RECORDS)
    summary, r, out = run_scenario(pyab, tmp, scenario(tmp, trace, **extra))
    calls = [json.loads(line) for line in (tmp / "calls.jsonl").read_text().splitlines()]
    return summary, r, sorted(calls, key=lambda c: c["raw_path"]), out


def test_scope_and_body(pyab, tmp_path):
    summary, r, calls, _ = echo_run(pyab, tmp_path,
                                    asgi={"chunk_bytes": 16, "root_path": "/api"})
    by = {c["path"]: c for c in calls}
    assert len(calls) == 5
    searches = [c for c in calls if c["path"] == "/search"]
    s = next(c for c in searches if c["query_string"] == "q=red+lamp&n=5")
    assert s["type"] == "http" and s["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert s["http_version"] == "1.1" and s["scheme"] == "http"
    assert s["server"] == ["localhost", 80] and s["client"][0] == "127.0.0.1"
    assert s["root_path"] == "/api"
    assert s["raw_path"] == "/search"
    # Lower-cased names; the record's Host kept, no second one added.
    assert s["headers"] == [["user-agent", "ua/1"], ["x-trace-id", "abc"],
                            ["host", "shop.example.com:8443"]]
    assert s["messages"] == [{"type": "http.request", "body": "", "more_body": False}]
    q = next(c for c in searches if c is not s)
    assert q["method"] == "GET" and q["query_string"] == "q=a+b&tag=x&tag=y"
    assert ["host", "localhost"] in q["headers"]
    cart = by["/cart"]
    body = json.dumps(RECORDS[2]["body"], separators=(",", ":"), ensure_ascii=False).encode()
    assert cart["method"] == "POST"
    assert ["content-type", "application/json"] in cart["headers"]
    assert ["content-length", str(len(body))] in cart["headers"]
    got = "".join(m["body"] for m in cart["messages"]).encode("latin-1")
    assert got == body
    # chunk_bytes 16: more_body on every message but the last.
    assert [len(m["body"].encode("latin-1")) for m in cart["messages"]][:-1] == \
        [16] * (len(cart["messages"]) - 1)
    assert [m["more_body"] for m in cart["messages"]] == \
        [True] * (len(cart["messages"]) - 1) + [False]
    form = by["/form"]
    assert ["content-length", "70"] in form["headers"]  # the recorded 999 is not sent
    assert ["content-type", "application/x-www-form-urlencoded"] in form["headers"]
    assert "".join(m["body"] for m in form["messages"]) == "a=1&b=2" * 10
    f = next(c for c in calls if c["raw_path"].startswith("/files"))
    assert f["path"] == "/files/r\u00e9sum\u00e9 v2"
    assert f["raw_path"] == "/files/r%C3%A9sum%C3%A9%20v2"
    assert f["query_string"] == "x=1"
    base = summary["arms"]["base"]
    assert base["status_by_route"]["/cart"] == {"2xx": 1}
    assert base["reps"][0]["event_loop"]["lifespan"] == "unsupported"
    assert "does not support the lifespan protocol" in \
        (tmp_path / "out-scenario/arms/base/rep-1/stderr.log").read_text()


HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_event_loops(pyab, tmp_path, loop):
    if loop == "uvloop" and not HAVE_UVLOOP:
        pytest.skip("uvloop is not installed (Debian: python3-uvloop)")
    summary, r, calls, _ = echo_run(pyab, tmp_path, asgi={"loop": loop})
    want = "uvloop" if loop == "uvloop" else "asyncio.unix_events"
    assert {c["loop"] for c in calls} == {want}
    rep = summary["arms"]["base"]["reps"][0]
    assert rep["event_loop"]["loop"] == loop
    assert summary["arms"]["base"]["status_by_route"]["/search"] == {"2xx": 2}
    assert rep["errors"] == 0


def test_lifespan_modes(pyab, tmp_path):
    (tmp_path / "echo.py").write_text(ECHO)
    trace = write_trace(tmp_path / "trace.jsonl", RECORDS)
    # "on": the app raising on the lifespan scope is a startup failure.
    _, r, out = run_scenario(pyab, tmp_path, scenario(tmp_path, trace, asgi={"lifespan": "on"}),
                             expect_exit=2, name="on.json")
    assert "the ASGI lifespan startup failed" in r.stderr
    assert "RuntimeError: no lifespan here" in r.stderr
    # "off": the app never sees a lifespan scope.
    summary, r, out = run_scenario(pyab, tmp_path,
                                   scenario(tmp_path, trace, asgi={"lifespan": "off"}),
                                   name="off.json")
    rep = summary["arms"]["base"]["reps"][0]
    assert rep["event_loop"]["lifespan"] == "off" and rep["errors"] == 0
    assert "lifespan" not in (out / "arms/base/rep-1/stderr.log").read_text()


@pytest.mark.parametrize("asgi, app, key, words", [
    ({"loop": "trio"}, {"asgi": "echo:app"}, "asgi.loop", "must be one of"),
    ({"root_path": "api/"}, {"asgi": "echo:app"}, "asgi.root_path", "a leading"),
    ({"chunk_bytes": 0}, {"asgi": "echo:app"}, "asgi.chunk_bytes", ""),
    ({"lifespan": True}, {"asgi": "echo:app"}, "asgi.lifespan", ""),
    ({"loops": "x"}, {"asgi": "echo:app"}, "asgi.loops", "unknown key"),
    ({}, {"asgi": "echo"}, "app.asgi", "module:attribute"),
    ({}, {"asgi": "echo:app", "handler": "h"}, "app.handler", "does not go with \"asgi\""),
])
def test_bad_keys(pyab, tmp_path, asgi, app, key, words):
    (tmp_path / "echo.py").write_text(ECHO)
    trace = write_trace(tmp_path / "trace.jsonl", RECORDS)
    sc = scenario(tmp_path, trace, app=app)
    if asgi:
        sc["asgi"] = asgi
    _, r, out = run_scenario(pyab, tmp_path, sc, expect_exit=2)
    assert f'key "{key}"' in r.stderr and words in r.stderr, r.stderr
    assert "scenario.json" in r.stderr
    assert not out.exists()


def test_uvloop_missing_is_bad_input(pyab, tmp_path):
    """A uvloop that cannot be imported names the key and the package."""
    (tmp_path / "echo.py").write_text(ECHO)
    (tmp_path / "uvloop.py").write_text("raise ImportError('this uvloop is broken')\n")
    trace = write_trace(tmp_path / "trace.jsonl", RECORDS)
    sc = scenario(tmp_path, trace, asgi={"loop": "uvloop"})
    _, r, _ = run_scenario(pyab, tmp_path, sc, expect_exit=2)
    assert 'asgi.loop "uvloop" needs the uvloop package' in r.stderr
    assert "this uvloop is broken" in r.stderr


CLOSED = r'''
import asyncio, json, os
state = {"now": 0, "max": 0, "requests": 0}
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        with open(os.environ["OUT"], "w") as f:
            json.dump(state, f)
        await send({"type": "lifespan.shutdown.complete"})
        return
    state["requests"] += 1
    await receive()
    state["now"] += 1
    state["max"] = max(state["max"], state["now"])
    await asyncio.sleep(0.002)
    state["now"] -= 1
    # 200 while at most `users` requests are in flight, as a closed loop keeps it.
    await send({"type": "http.response.start", "status": 200 if state["max"] <= 3 else 500})
    await send({"type": "http.response.body", "body": str(state["max"]).encode()})
'''


def test_closed_loop_users(pyab, tmp_path):
    (tmp_path / "closed.py").write_text(CLOSED)
    trace = write_trace(tmp_path / "trace.jsonl",
                        [{"t": i * 0.001, "route": "/r"} for i in range(50)])
    sc = scenario(tmp_path, trace, app={"asgi": "closed:app"},
                  load={"model": "closed", "users": 3, "requests": 600})
    summary, r, _ = run_scenario(pyab, tmp_path, sc)
    rep = summary["arms"]["base"]["reps"][0]
    assert rep["requests"] == 600 and rep["errors"] == 0
    assert summary["arms"]["base"]["status_by_route"]["/r"] == {"2xx": 600}
    assert rep["event_loop"]["shutdown"] == "complete"
    # Written by the app's lifespan shutdown: three users were in flight at
    # once (each sleeps 2 ms), never more.
    state = json.loads((tmp_path / "calls.jsonl").read_text())
    assert state == {"now": 0, "max": 3, "requests": 600}


SPIN = r'''
import time
async def app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    await receive()
    if scope["path"] == "/spin":
        # Blocks the loop thread without awaiting: only an exception raised
        # into the thread ends it early; left alone it answers 200 after 3 s.
        end = time.monotonic() + 3
        while time.monotonic() < end:
            pass
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": b""})
'''


def test_task_blocking_the_loop_gets_timeout(pyab, tmp_path):
    (tmp_path / "spin.py").write_text(SPIN)
    recs = [{"t": i * 0.01, "route": "/spin" if i in (5, 30) else "/ok"} for i in range(40)]
    trace = write_trace(tmp_path / "trace.jsonl", recs)
    sc = scenario(tmp_path, trace, app={"asgi": "spin:app"}, timeout_ms=200)
    summary, r, out = run_scenario(pyab, tmp_path, sc)
    base = summary["arms"]["base"]
    rep = base["reps"][0]
    assert rep["requests"] == 40
    assert base["errors_by_route"]["/spin"]["count"] == 2
    assert base["errors_by_route"]["/spin"]["first"]["type"] == "TimeoutError"
    assert "/spin" not in base["status_by_route"]  # neither spin ran to its 200
    assert base["status_by_route"]["/ok"] == {"2xx": 38}
    assert rep["event_loop"]["loop_blocked"] == 2
    assert "the event loop has not run for" in \
        (out / "arms/base/rep-1/stderr.log").read_text()


NEVER_WAITS = r'''
async def app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    await receive()  # the body is already there: nothing here ever suspends
    sum(range(300))
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": b"ok"})
'''


def test_closed_loop_app_that_never_suspends_is_not_a_blocked_loop(pyab, tmp_path):
    # One user, no think time, an app whose awaits all complete at once: the
    # user's loop must give the event loop back, or the sweeper never beats
    # and a healthy app reads as "the event loop has not run" (a QA pass
    # found one TimeoutError raised into a healthy rep this way).
    (tmp_path / "never.py").write_text(NEVER_WAITS)
    trace = write_trace(tmp_path / "trace.jsonl",
                        [{"t": i * 0.001, "route": "/r"} for i in range(50)])
    sc = scenario(tmp_path, trace, app={"asgi": "never:app"}, timeout_ms=200,
                  load={"model": "closed", "users": 1, "requests": 150000})
    summary, r, out = run_scenario(pyab, tmp_path, sc)
    rep = summary["arms"]["base"]["reps"][0]
    assert rep["duration_s"] > 0.4, rep["duration_s"]  # the rep outlasts timeout_ms
    assert rep["errors"] == 0 and rep["event_loop"]["loop_blocked"] == 0, rep["event_loop"]
    assert "the event loop has not run" not in (out / "arms/base/rep-1/stderr.log").read_text()


ABLATE_APP = r'''
import cachelib, fmtlib
async def app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    await receive()
    cachelib.remember(scope["path"])
    body = fmtlib.render(scope["path"])
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": body})
'''
CACHELIB = r'''
_kept = []
def remember(path):
    _kept.append(bytearray(2048))  # the suspect that really leaks
'''
CACHELIB_STANDIN = "def remember(path):\n    pass\n"
FMTLIB = "def render(path):\n    return path.encode() * 2\n"
FMTLIB_STANDIN = "def render(path):\n    return b''\n"


def test_ablation_of_an_asgi_app(pyab, tmp_path):
    """Stand-ins and ablation work for an ASGI arm: the library that leaks is the one
    whose swap removes the growth."""
    (tmp_path / "abl.py").write_text(ABLATE_APP)
    (tmp_path / "cachelib.py").write_text(CACHELIB)
    (tmp_path / "fmtlib.py").write_text(FMTLIB)
    (tmp_path / "cachelib_standin.py").write_text(CACHELIB_STANDIN)
    (tmp_path / "fmtlib_standin.py").write_text(FMTLIB_STANDIN)
    trace = write_trace(tmp_path / "trace.jsonl",
                        [{"t": i * 0.0002, "route": "/r%d" % (i % 3)} for i in range(1000)])
    sc = scenario(tmp_path, trace, app={"asgi": "abl:app"},
                  load={"model": "closed", "users": 2, "requests": 4000},
                  warmup={"requests": 400}, sample={"interval_ms": 20}, reps=2,
                  ablate={"suspects": {"cachelib": str(tmp_path / "cachelib_standin.py"),
                                       "fmtlib": str(tmp_path / "fmtlib_standin.py")}})
    scp = tmp_path / "ablate.json"
    scp.write_text(json.dumps(sc))
    out = tmp_path / "out-ablate"
    r = run_pyab(pyab, ["ablate", str(scp), "--out", str(out), "--quiet", "--no-report"],
                 cwd=tmp_path, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    abl = load_json(out / "summary.json")["ablation"]
    assert abl["metric"] == "pyheap"
    assert abl["implicated"] == ["cachelib"], abl
    assert abl["ranking"][0]["suspect"] == "cachelib"
    assert abl["ranking"][0]["growth_removed"] > 0.9
    assert abl["ranking"][1]["growth_removed"] < 0.3


def test_check_and_report_on_asgi_arms(pyab, tmp_path):
    """`pyab check` holds ASGI arms to their budgets (the leaky one fails its pyheap
    budget: exit 1, the fixed one passes), and `pyab report` draws the results."""
    leak = tmp_path / "leaky_app.py"
    leak.write_text(ECHO.replace('    with open(OUT, "a") as f:\n        f.write(json.dumps(rec) + "\\n")\n',
                                 '    if os.environ.get("KEEP"):\n        KEPT.append(bytearray(1024))\n')
                    .replace("OUT = os.environ[\"OUT\"]", "KEPT = []"))
    trace = write_trace(tmp_path / "trace.jsonl",
                        [{"t": i * 0.0002, "route": "/r"} for i in range(1000)])
    sc = scenario(tmp_path, trace, app={"asgi": "leaky_app:app"},
                  load={"model": "closed", "users": 2, "requests": 5000},
                  warmup={"requests": 500}, sample={"interval_ms": 20},
                  budgets={"pyheap_slope_bytes_per_request": 100},
                  arms={"leaky": {"env": {"KEEP": "1"}}, "fixed": {}})
    scp = tmp_path / "check.json"
    scp.write_text(json.dumps(sc))
    out = tmp_path / "out-check"
    r = run_pyab(pyab, ["check", str(scp), "--out", str(out), "--no-history",
                        "--junit", str(tmp_path / "junit.xml")], cwd=tmp_path, timeout=180)
    assert r.returncode == 1, r.stderr[-3000:]
    junit = (tmp_path / "junit.xml").read_text()
    assert "pyheap_slope_bytes_per_request" in junit
    run_dir = next(p for p in out.rglob("summary.json")).parent
    summary = load_json(run_dir / "summary.json")
    assert summary["arms"]["leaky"]["slopes"]["pyheap"]["ci"][0] > 100
    assert summary["arms"]["fixed"]["slopes"]["pyheap"]["ci"][0] < 100
    r = run_pyab(pyab, ["report", str(run_dir)], cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (run_dir / "report.html").stat().st_size > 10000
