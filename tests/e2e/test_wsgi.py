"""WSGI path and replay transforms, end to end through the pyab binary.

- environ: an app echoes each environ it gets; every PEP 3333 key is
  checked for records with a method, a path, a query (string and object),
  headers, JSON and string bodies.
- close(): an app whose response iterables count close() calls, also when
  iteration raises.
- load transforms: routes / exclude_routes / sample (the kept set checked
  against an independent Python copy of the seeded hash), loops with their
  time offset, rate, and the validation messages.
- trace import: HAR and access logs through `pyab trace import`, then
  replayed into a WSGI app.
"""
import json
import pathlib

import pytest

from conftest import load_json, run_pyab

MASK = (1 << 64) - 1


def write_trace(path, records):
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return path


def run_scenario(pyab, tmp, sc, expect_exit=0):
    scp = tmp / "scenario.json"
    scp.write_text(json.dumps(sc))
    out = tmp / "out"
    r = run_pyab(pyab, ["run", str(scp), "--out", str(out), "--quiet", "--no-report"], cwd=tmp,
                 timeout=120)
    assert r.returncode == expect_exit, r.stderr[-3000:]
    return (load_json(out / "summary.json") if expect_exit == 0 else None), r


def base_scenario(tmp, app, trace, **load):
    return {"name": "t", "app": app, "python": {"path": [str(tmp)]}, "trace": str(trace),
            "load": {"model": "closed", "users": 1, **load} if "model" not in load else load,
            "workers": 1, "sample": {"interval_ms": 50}, "env": {"OUT": str(tmp / "calls.jsonl")}}


# --- environ ------------------------------------------------------------------

ECHO = r'''
import json, os
OUT = os.environ["OUT"]
def app(environ, start_response):
    body = environ["wsgi.input"].read()
    rec = {k: v for k, v in environ.items() if isinstance(v, (str, bool, int, tuple))}
    rec["wsgi.input"] = type(environ["wsgi.input"]).__name__
    rec["input_methods"] = [m for m in ("read", "readline", "readlines", "__iter__")
                            if callable(getattr(environ["wsgi.input"], m, None))]
    rec["errors_methods"] = [m for m in ("write", "writelines", "flush")
                             if callable(getattr(environ["wsgi.errors"], m, None))]
    rec["body"] = body.decode("latin-1")
    rec["types"] = sorted({type(k).__name__ for k in environ})
    with open(OUT, "a") as f:
        f.write(json.dumps(rec) + "\n")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
'''

ENVIRON_RECORDS = [
    {"t": 0, "route": "/search", "method": "GET", "path": "/search", "query": "q=red+lamp&n=5",
     "headers": {"User-Agent": "ua/1", "Accept": "application/json", "X-Trace-Id": "abc",
                 "Host": "shop.example.com:8443"}},
    {"t": 0.001, "route": "/search", "path": "/search", "query": {"q": "a b", "tag": ["x", "y"]}},
    {"t": 0.002, "route": "/cart", "method": "POST", "path": "/cart",
     "body": {"items": [{"id": 1, "qty": 2}], "note": "caf\u00e9 \"q\"", "p": 0.1, "ok": True,
              "none": None}},
    {"t": 0.003, "route": "/form", "method": "PUT", "path": "/form", "body": "a=1&b=2",
     "headers": {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "999"}},
    {"t": 0.004, "route": "/files/{id}", "path": "/files/r%C3%A9sum%C3%A9%20v2", "query": "?x=1"},
    {"t": 0.005, "route": "/empty", "method": "DELETE", "path": "/empty"},
]


def test_environ_pep3333(pyab, tmp_path):
    (tmp_path / "echo.py").write_text(ECHO)
    trace = write_trace(tmp_path / "trace.jsonl", ENVIRON_RECORDS)
    summary, _ = run_scenario(pyab, tmp_path, base_scenario(
        tmp_path, {"wsgi": "echo:app"}, trace, requests=len(ENVIRON_RECORDS)))
    assert summary["arms"]["base"]["errors"] == 0
    envs = [json.loads(line) for line in open(tmp_path / "calls.jsonl")]
    assert len(envs) == len(ENVIRON_RECORDS)
    for e in envs:
        for key in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
                    "SERVER_PORT", "SERVER_PROTOCOL", "wsgi.url_scheme"):
            assert isinstance(e[key], str), key
        assert e["SCRIPT_NAME"] == ""
        assert e["SERVER_PROTOCOL"] == "HTTP/1.1"
        assert e["SERVER_PORT"].isdigit() and e["SERVER_NAME"]
        assert e["wsgi.version"] == [1, 0]
        assert e["wsgi.url_scheme"] == "http"
        assert e["wsgi.multithread"] is True and e["wsgi.multiprocess"] is False
        assert e["wsgi.run_once"] is False
        assert set(e["input_methods"]) == {"read", "readline", "readlines", "__iter__"}
        assert set(e["errors_methods"]) == {"write", "writelines", "flush"}
        assert e["types"] == ["str"]  # every key a native string
        assert "HTTP_CONTENT_TYPE" not in e and "HTTP_CONTENT_LENGTH" not in e
    get, qobj, post, form, enc, empty = envs
    assert get["REQUEST_METHOD"] == "GET" and get["PATH_INFO"] == "/search"
    assert get["QUERY_STRING"] == "q=red+lamp&n=5"
    assert get["HTTP_USER_AGENT"] == "ua/1" and get["HTTP_ACCEPT"] == "application/json"
    assert get["HTTP_X_TRACE_ID"] == "abc" and get["HTTP_HOST"] == "shop.example.com:8443"
    assert "CONTENT_LENGTH" not in get and get["body"] == ""
    assert qobj["REQUEST_METHOD"] == "GET" and qobj["QUERY_STRING"] == "q=a+b&tag=x&tag=y"
    assert post["REQUEST_METHOD"] == "POST" and post["CONTENT_TYPE"] == "application/json"
    assert json.loads(post["body"].encode("latin-1")) == ENVIRON_RECORDS[2]["body"]
    assert post["CONTENT_LENGTH"] == str(len(post["body"].encode("latin-1")))
    assert form["REQUEST_METHOD"] == "PUT" and form["body"] == "a=1&b=2"
    assert form["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert form["CONTENT_LENGTH"] == "7"  # the real body's length, not the recorded header
    # PATH_INFO is URL-decoded, its bytes carried as latin-1 (PEP 3333 native strings).
    assert enc["PATH_INFO"].encode("latin-1").decode("utf-8") == "/files/r\u00e9sum\u00e9 v2"
    assert enc["QUERY_STRING"] == "x=1"
    assert empty["REQUEST_METHOD"] == "DELETE" and "CONTENT_TYPE" not in empty


# --- close() ------------------------------------------------------------------

CLOSING = r'''
import os
OUT = os.environ["OUT"]
class Body:
    def __init__(self, fail):
        self.fail = fail
    def __iter__(self):
        yield b"part one"
        if self.fail:
            raise RuntimeError("broken stream")
        yield b"part two"
    def close(self):
        with open(OUT, "a") as f:
            f.write("close\n")
def app(environ, start_response):
    start_response("200 OK", [])
    return Body(environ["PATH_INFO"] == "/broken")
'''


def test_close_called_even_when_iteration_raises(pyab, tmp_path):
    (tmp_path / "closing.py").write_text(CLOSING)
    recs = [{"t": i * 1e-3, "route": "/broken" if i % 3 == 0 else "/fine"} for i in range(30)]
    trace = write_trace(tmp_path / "trace.jsonl", recs)
    summary, _ = run_scenario(pyab, tmp_path, base_scenario(
        tmp_path, {"wsgi": "closing:app"}, trace, requests=90))
    arm = summary["arms"]["base"]
    assert open(tmp_path / "calls.jsonl").read().count("close\n") == 90
    assert arm["errors_by_route"]["/broken"]["count"] == 30
    assert arm["errors_by_route"]["/broken"]["first"]["type"] == "RuntimeError"
    assert arm["status_by_route"] == {"/fine": {"2xx": 60}}


# --- transforms ---------------------------------------------------------------

def mix(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def sampled(seed, i, share):
    return (mix(mix(seed) ^ i) >> 11) * 2.0 ** -53 < share


RECORDER = r'''
import os, time
OUT = os.environ["OUT"]
def handle(req):
    with open(OUT, "a") as f:
        f.write("%s %s %.6f\n" % (req["route"], req["path"], time.monotonic()))
'''

ROUTES = ["/a", "/b", "/c", "/d"]


def transform_setup(tmp, n=400):
    (tmp / "rec.py").write_text(RECORDER)
    recs = [{"t": i * 1e-3, "route": ROUTES[i % 4], "path": "/p%d" % i} for i in range(n)]
    return recs, write_trace(tmp / "trace.jsonl", recs)


def calls(tmp):
    return [line.split() for line in open(tmp / "calls.jsonl")]


def test_route_include_and_exclude(pyab, tmp_path):
    recs, trace = transform_setup(tmp_path)
    sc = base_scenario(tmp_path, {"path": str(tmp_path / "rec.py"), "handler": "handle"}, trace,
                       model="open", speed=20)
    sc["load"]["routes"] = ["/a", "/b", "/c"]
    sc["load"]["exclude_routes"] = ["/b"]
    summary, _ = run_scenario(pyab, tmp_path, sc)
    rep = summary["arms"]["base"]["reps"][0]
    got = [c[1] for c in calls(tmp_path)]
    want = [r["path"] for r in recs if r["route"] in ("/a", "/c")]
    assert sorted(got) == sorted(want) and rep["planned"] == 200
    assert sorted(rep["routes"]) == ["/a", "/c"]  # filtered routes are not reported


def test_sample_is_seeded_and_matches_the_hash(pyab, tmp_path):
    recs, trace = transform_setup(tmp_path, n=2000)
    sc = base_scenario(tmp_path, {"path": str(tmp_path / "rec.py"), "handler": "handle"}, trace,
                       model="open", rate=20000)
    sc["load"]["sample"] = 0.25
    sc["seed"] = 7
    summary, _ = run_scenario(pyab, tmp_path, sc)
    got = sorted(int(c[1][2:]) for c in calls(tmp_path))
    want = [i for i in range(2000) if sampled(7, i, 0.25)]
    assert got == want
    assert 400 < len(want) < 600  # about a quarter
    assert summary["arms"]["base"]["reps"][0]["planned"] == len(want)
    # Another seed keeps another subset.
    assert want != [i for i in range(2000) if sampled(8, i, 0.25)]


# The recorder, and on its first call one gc.collect() between two clock
# readings: events.jsonl gives that collection's start in seconds since the
# replay started (pyab's clock is CLOCK_MONOTONIC, as time.monotonic()), so
# the test knows the replay's start in the handler's clock.
RECORDER_T0 = RECORDER + r'''
import gc
_first = [True]
_record = handle
def handle(req):
    _record(req)
    if _first[0]:
        _first[0] = False
        t0 = time.monotonic()
        gc.collect()
        t1 = time.monotonic()
        with open(OUT + ".gc", "w") as f:
            f.write("%.6f %.6f\n" % (t0, t1))
'''


def replay_start(tmp, out):
    """The replay's start in time.monotonic() seconds, as (earliest, latest)
    possible: the collection's start callback ran between the handler's two
    clock readings, at least its own duration before the second."""
    t0, t1 = (float(x) for x in open(str(tmp / "calls.jsonl") + ".gc").read().split())
    events = [json.loads(line) for line in open(out / "arms" / "base" / "rep-1" / "events.jsonl")]
    ours = [e for e in events if e["gen"] == 2 and "cause" not in e and e["t_s"] >= 0]
    assert len(ours) == 1, events  # the handler's gc.collect(); pyab's own have a "cause"
    e = ours[0]
    lo, hi = t0 - e["t_s"], t1 - e["duration_s"] - e["t_s"]
    assert 0 <= hi - lo < 0.002, (lo, hi)  # the two clocks agree to within 2 ms
    return lo, hi


def check_due(c, start, due, early, late):
    """Each call at its due time since the replay's start: not more than
    `early` before it, not more than `late` after it. The earliest possible
    start judges lateness, the latest earliness: never looser than the
    true start would be."""
    lo, hi = start
    for (route, path, at), want in zip(c, due):
        assert want - early <= float(at) - hi and float(at) - lo <= want + late, (
            path, float(at) - lo, want, [float(x[2]) - lo for x in c], due)


def test_loops_offset_and_filtered_start(pyab, tmp_path):
    """Kept records keep their spacing; the first kept one is due at 0; each
    pass starts one span (kept records' duration + one mean gap) later.
    Times are measured from the replay's start, not from the first call: a
    first call a few ms late on a busy machine must not make the others
    look early."""
    (tmp_path / "rec.py").write_text(RECORDER_T0)
    recs = [{"t": 0.1 * i, "route": "/early" if i < 5 else "/late", "path": "/p%d" % i}
            for i in range(10)]
    trace = write_trace(tmp_path / "trace.jsonl", recs)
    sc = base_scenario(tmp_path, {"path": str(tmp_path / "rec.py"), "handler": "handle"}, trace,
                       model="open", loops=3, speed=2)
    sc["load"]["routes"] = ["/late"]
    summary, _ = run_scenario(pyab, tmp_path, sc)
    c = calls(tmp_path)
    assert [x[1] for x in c] == ["/p5", "/p6", "/p7", "/p8", "/p9"] * 3
    # Kept: t = 0.5..0.9 -> due 0..0.4 s; span 0.4 + 0.1 = 0.5; speed 2 halves it all.
    due = [(k * 0.5 + j * 0.1) / 2 for k in range(3) for j in range(5)]
    check_due(c, replay_start(tmp_path, tmp_path / "out"), due, 0.002, 0.03)


def test_rate_overrides_trace_times(pyab, tmp_path):
    recs, trace = transform_setup(tmp_path, n=40)
    (tmp_path / "rec.py").write_text(RECORDER_T0)
    sc = base_scenario(tmp_path, {"path": str(tmp_path / "rec.py"), "handler": "handle"}, trace,
                       model="open", rate=100, loops=2)
    run_scenario(pyab, tmp_path, sc)
    c = calls(tmp_path)
    assert len(c) == 80
    # Request i is due at i / rate (10 ms apart), whatever the trace's own
    # times: the last at 0.79 s after the replay's start, no call early.
    start = replay_start(tmp_path, tmp_path / "out")
    check_due(c, start, [i / 100 for i in range(80)], 0.002, 0.11)
    assert 0.78 <= float(c[-1][2]) - start[1] and float(c[-1][2]) - start[0] <= 0.9


@pytest.mark.parametrize("load,message", [
    ({"routes": "/a"}, 'key "load.routes": must be a non-empty list of route names'),
    ({"routes": []}, 'key "load.routes": must be a non-empty list'),
    ({"routes": ["/a", 3]}, 'key "load.routes[1]": must be a non-empty string'),
    ({"exclude_routes": ["/a", "/a"]}, 'key "load.exclude_routes[1]": repeats an earlier entry'),
    ({"routes": ["/a", "/nope"]}, 'key "load.routes[1]": "/nope" is not a route of'),
    ({"exclude_routes": ["/zz"]}, 'key "load.exclude_routes[0]": "/zz" is not a route of'),
    ({"routes": ["/a"], "exclude_routes": ["/a"]}, "keep no request of"),
    ({"sample": 0}, 'key "load.sample": must be above 0'),
    ({"sample": 1.5}, 'key "load.sample": must be between 0 and 1'),
    ({"sample": "half"}, 'key "load.sample": must be a number'),
])
def test_transform_validation(pyab, tmp_path, load, message):
    recs, trace = transform_setup(tmp_path, n=8)
    sc = base_scenario(tmp_path, {"path": str(tmp_path / "rec.py"), "handler": "handle"}, trace,
                       model="open")
    sc["load"].update(load)
    _, r = run_scenario(pyab, tmp_path, sc, expect_exit=2)
    assert message in r.stderr and "scenario.json" in r.stderr, r.stderr
    assert not (tmp_path / "out" / "summary.json").exists()


def test_transform_validation_names_the_arm(pyab, tmp_path):
    recs, trace = transform_setup(tmp_path, n=8)
    sc = base_scenario(tmp_path, {"path": str(tmp_path / "rec.py"), "handler": "handle"}, trace,
                       model="open")
    sc["arms"] = {"all": {}, "some": {"load": {"routes": ["/q"]}}}
    _, r = run_scenario(pyab, tmp_path, sc, expect_exit=2)
    assert '(arm some): key "load.routes[0]": "/q" is not a route of' in r.stderr, r.stderr


# --- trace import, then replay -------------------------------------------------

HAR = {"log": {"version": "1.2", "entries": [
    {"startedDateTime": "2024-06-01T10:00:00.000Z",
     "request": {"method": "GET", "url": "https://x.example/api/items/42?full=1",
                 "headers": [{"name": ":authority", "value": "x.example"},
                             {"name": "User-Agent", "value": "har/1"}]}},
    {"startedDateTime": "2024-06-01T10:00:00.250Z",
     "request": {"method": "POST", "url": "https://x.example/api/items",
                 "headers": [{"name": "Content-Type", "value": "application/json"}],
                 "postData": {"mimeType": "application/json", "text": "{\"name\": \"lamp\"}"}}},
    {"startedDateTime": "2024-06-01T10:00:01.000Z",
     "request": {"method": "GET", "url": "https://x.example/api/items/77", "headers": []}},
]}}

ACCESS_LOG = (
    '127.0.0.1 - - [01/Jun/2024:10:00:00 +0000] "GET /api/items/5?x=1 HTTP/1.1" 200 12 "-" "curl/8"\n'
    '\\x16\\x03\\x01 - - [01/Jun/2024:10:00:00 +0000] "-" 400 0 "-" "-"\n'
    '127.0.0.1 - - [01/Jun/2024:10:00:01 +0000] "DELETE /api/items/6 HTTP/1.1" 204 0 "-" "curl/8"\n'
)


@pytest.mark.parametrize("kind", ["har", "access-log"])
def test_import_then_replay(pyab, tmp_path, kind):
    src = tmp_path / ("in." + ("har" if kind == "har" else "log"))
    src.write_text(json.dumps(HAR) if kind == "har" else ACCESS_LOG)
    out = tmp_path / "trace.jsonl"
    r = run_pyab(pyab, ["trace", "import", str(src), "-o", str(out), "--route-from", "template"])
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in open(out)]
    if kind == "har":
        assert "3 requests imported (HAR)" in r.stderr
        assert [x["route"] for x in lines] == ["/api/items/{id}", "/api/items", "/api/items/{id}"]
        assert lines[1]["body"] == {"name": "lamp"} and lines[0]["query"] == "full=1"
    else:
        assert [x["method"] for x in lines] == ["GET", "DELETE"]
    (tmp_path / "echo.py").write_text(ECHO)
    summary, _ = run_scenario(pyab, tmp_path, base_scenario(
        tmp_path, {"wsgi": "echo:app"}, out, model="open", speed=10))
    envs = [json.loads(x) for x in open(tmp_path / "calls.jsonl")]
    assert [e["REQUEST_METHOD"] for e in envs] == [x["method"] for x in lines]
    statuses = summary["arms"]["base"]["status_by_route"]
    assert statuses["/api/items/{id}"]["2xx"] == 2  # GET /42 + /77, or GET /5 + DELETE /6
    if kind == "har":
        assert envs[0]["PATH_INFO"] == "/api/items/42" and envs[0]["QUERY_STRING"] == "full=1"
        assert envs[0]["HTTP_USER_AGENT"] == "har/1"
        assert json.loads(envs[1]["body"]) == {"name": "lamp"}


@pytest.mark.parametrize("text,message", [
    ('{"log": {"entries": [', "bad.har:1:"),
    ('{"log": {"entries": [{"startedDateTime": "2024-06-01T10:00:00Z", "request": '
     '{"method": "GET"}}]}}', "log.entries[0].request.url: missing"),
    ('{"log": {"entries": [{"startedDateTime": "yesterday", "request": '
     '{"method": "GET", "url": "http://x/"}}]}}', "log.entries[0].startedDateTime"),
])
def test_import_bad_har(pyab, tmp_path, text, message):
    src = tmp_path / "bad.har"
    src.write_text(text)
    out = tmp_path / "trace.jsonl"
    r = run_pyab(pyab, ["trace", "import", str(src), "-o", str(out)])
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not out.exists()


def test_import_usage_and_missing_file(pyab, tmp_path):
    r = run_pyab(pyab, ["trace", "import", str(tmp_path / "nope.har"), "-o",
                        str(tmp_path / "t.jsonl")])
    assert r.returncode == 2 and "nope.har" in r.stderr
    r = run_pyab(pyab, ["trace", "import", str(tmp_path / "nope.har")])
    assert r.returncode == 2
