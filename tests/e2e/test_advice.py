"""Verdicts that settle, from a user's side. Each kind of advice pyab gives
for an inconclusive verdict, followed once as a user would (the numbers it
prints, put into the scenario), must end in a decided verdict that is
right; the nightly gate on a fast service; no native growth from
allocator caches; defaults visible; bad values of the new keys refused."""
import json
import re
import shutil

import pytest

from conftest import ROOT, load_json, run_pyab

HERE = ROOT / "tests" / "e2e" / "advice"


def scenario(tmp_path, name, **over):
    shutil.copy(HERE / "service.py", tmp_path / "service.py")
    (tmp_path / "trace.jsonl").write_text(
        "".join(json.dumps({"t": i * 0.001, "route": "/r"}) + "\n" for i in range(100)))
    sc = {"name": name, "app": {"path": "service.py", "handler": "handle"},
          "trace": "trace.jsonl", "load": {"model": "closed", "users": 4, "requests": 20000},
          "workers": 4, "sample": {"interval_ms": 20}}
    for k, v in over.items():
        sc[k] = v
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(sc))
    return p


def run(pyab, path, out, *extra):
    r = run_pyab(pyab, ["run", str(path), "--out", str(out), "--no-history", "--no-report",
                        *extra])
    assert r.returncode == 0, r.stderr
    return load_json(out / "summary.json")["arms"]["base"]


def advice(arm):
    assert arm["verdict"] == "inconclusive", arm["evidence"]
    return arm["evidence"]["next"]


def test_more_samples_advice_decides(pyab, tmp_path):
    p = scenario(tmp_path, "few", env={"BEHAVIOUR": "noop"},
                 sample={"interval_ms": 1000, "every_requests": 5000})
    nxt = advice(run(pyab, p, tmp_path / "a"))
    every = int(re.search(r'"every_requests": (\d+)', nxt).group(1))
    assert every < 5000, nxt
    p = scenario(tmp_path, "few", env={"BEHAVIOUR": "noop"},
                 sample={"interval_ms": 1000, "every_requests": every})
    assert run(pyab, p, tmp_path / "b")["verdict"] == "no-leak"


def test_longer_run_advice_decides(pyab, tmp_path):
    p = scenario(tmp_path, "slow", env={"BEHAVIOUR": "slow-leak"})
    nxt = advice(run(pyab, p, tmp_path / "a"))
    need = int(re.search(r"(\d+) requests per rep", nxt).group(1))
    assert need > 20000, nxt
    p = scenario(tmp_path, "slow", env={"BEHAVIOUR": "slow-leak"},
                 load={"model": "closed", "users": 4, "requests": need})
    arm = run(pyab, p, tmp_path / "b")
    assert arm["verdict"] == "leak" and arm["attribution"] == "python-heap", arm["evidence"]


def test_whole_cycles_advice_decides(pyab, tmp_path):
    p = scenario(tmp_path, "saw", env={"BEHAVIOUR": "sawtooth"},
                 load={"model": "closed", "users": 4, "requests": 7000})
    nxt = advice(run(pyab, p, tmp_path / "a"))
    assert "whole cycles" in nxt, nxt
    need = int(re.search(r"about (\d+) requests per rep", nxt).group(1))
    p = scenario(tmp_path, "saw", env={"BEHAVIOUR": "sawtooth"},
                 load={"model": "closed", "users": 4, "requests": need})
    assert run(pyab, p, tmp_path / "b")["verdict"] == "no-leak"


def test_until_settled_decides_the_slow_leak(pyab, tmp_path):
    p = scenario(tmp_path, "slow", env={"BEHAVIOUR": "slow-leak"})
    arm = run(pyab, p, tmp_path / "a", "--until-settled")
    rep = arm["reps"][0]
    assert arm["verdict"] == "leak", arm["evidence"]
    # Decided at a look; a look at the cap itself leaves the stop reason "max_requests".
    assert rep["settle"]["decided"] is True, rep["settle"]
    assert rep["stop_reason"] in ("settled", "max_requests"), rep["stop_reason"]
    assert rep["requests"] > 20000


def test_check_gates_a_fast_service(pyab, tmp_path):
    """The nightly gate on a service too fast for timer samples alone: a
    16 B/request pyheap budget passes a no-op and fails a 256 B/request leak."""
    codes = {}
    for behaviour in ("noop", "leak256"):
        shutil.copy(ROOT / "tests" / "e2e" / "cases" / "fast-service" / "service.py",
                    tmp_path / "service.py")
        shutil.copy(ROOT / "tests" / "e2e" / "cases" / "fast-service" / "trace.jsonl",
                    tmp_path / "trace.jsonl")
        sc = {"name": f"gate-{behaviour}", "app": {"path": "service.py", "handler": "handle"},
              "trace": "trace.jsonl", "load": {"model": "closed", "users": 4, "requests": 60000},
              "workers": 4, "sample": {"interval_ms": 20}, "env": {"BEHAVIOUR": behaviour},
              "budgets": {"pyheap_slope_bytes_per_request": 16}}
        p = tmp_path / f"{behaviour}.json"
        p.write_text(json.dumps(sc))
        r = run_pyab(pyab, ["check", str(p), "--out", str(tmp_path / f"out-{behaviour}"),
                            "--history", str(tmp_path / "history.sqlite")])
        codes[behaviour] = (r.returncode, r.stdout + r.stderr)
    assert codes["noop"][0] == 0, codes["noop"][1]
    assert codes["leak256"][0] == 1, codes["leak256"][1]


def test_stateless_wsgi_app_shows_no_native_growth(pyab, tmp_path, sanitized):
    """Blocks Python frees must not read as native growth (allocator thread
    caches are off in the child by default): 70k requests, no-leak, and the
    native curve is not even 'under the floor'."""
    (tmp_path / "app.py").write_text(
        "def app(environ, start_response):\n"
        "    body = ('hello %s' % environ.get('PATH_INFO', '')).encode()\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [body]\n")
    (tmp_path / "trace.jsonl").write_text("".join(
        json.dumps({"t": i * 0.001, "route": f"/r{i % 5}", "method": "GET", "path": f"/r{i % 5}"})
        + "\n" for i in range(1000)))
    p = tmp_path / "wsgi.json"
    p.write_text(json.dumps({"name": "stateless", "app": {"wsgi": "app:app"},
                             "trace": "trace.jsonl", "workers": 2, "reps": 2,
                             "load": {"model": "closed", "users": 4, "requests": 70000}}))
    arm = run(pyab, p, tmp_path / "out")
    if sanitized:
        return  # mallinfo2 does not see ASan's heap: the native curve means nothing there
    assert arm["verdict"] == "no-leak", arm["evidence"]
    for rep in arm["reps"]:
        assert rep["slopes"]["native"]["class"] in ("flat", "immaterial"), rep["slopes"]["native"]


def test_warmup_as_long_as_the_run_is_refused(pyab, tmp_path):
    p = scenario(tmp_path, "warm", env={"BEHAVIOUR": "noop"}, warmup={"requests": 20000})
    r = run_pyab(pyab, ["run", str(p), "--out", str(tmp_path / "out"), "--no-history"])
    assert r.returncode == 2 and 'key "warmup.requests"' in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_effective_settings_show_the_defaults(pyab, tmp_path):
    p = scenario(tmp_path, "eff", env={"BEHAVIOUR": "noop"})
    run(pyab, p, tmp_path / "out")
    eff = load_json(tmp_path / "out" / "manifest.json")["arms"]["base"]["effective"]
    assert eff["sample"]["every_requests"] == "auto" and eff["max_in_flight"] == 1024
    assert "sample.every_requests" in eff["defaulted"] and "workers" not in eff["defaulted"]
    cfg = load_json(tmp_path / "out" / "arms" / "base" / "rep-1" / "config.json")
    assert cfg["effective"]["timeout_ms"] == 10000


def test_unknown_keys_list_the_known_ones(pyab, tmp_path):
    p = scenario(tmp_path, "typo", env={"BEHAVIOUR": "noop"}, sampel={})
    r = run_pyab(pyab, ["run", str(p), "--out", str(tmp_path / "a"), "--no-history"])
    assert r.returncode == 2 and 'key "sampel": unknown key (known here: ' in r.stderr, r.stderr
    assert "sample" in r.stderr.split("known here:")[1]
    p = scenario(tmp_path, "typo", env={"BEHAVIOUR": "noop"}, load={"modle": "open"})
    r = run_pyab(pyab, ["run", str(p), "--out", str(tmp_path / "b"), "--no-history"])
    assert 'key "load.modle": unknown key (known here: model, ' in r.stderr, r.stderr


@pytest.mark.parametrize("over, key, what", [
    ({"sample": {"every_requests": 0}}, "sample.every_requests", "must be between 1"),
    ({"sample": {"every_requests": "sometimes"}}, "sample.every_requests",
     'must be "auto" or a whole'),
    ({"load": {"model": "closed", "requests": 100, "until": "forever"}}, "load.until",
     "must be one of"),
    ({"load": {"model": "closed", "requests": 100, "max_requests": 10}}, "load.max_requests",
     'only goes with "until": "settled"'),
    ({"load": {"model": "closed", "requests": 100, "until": "settled", "max_seconds": 0}},
     "load.max_seconds", "must be between"),
    ({"allocator": {"thread_caches": "maybe"}}, "allocator.thread_caches", "must be one of"),
])
def test_bad_values_of_the_new_keys(pyab, tmp_path, over, key, what):
    p = scenario(tmp_path, "bad", env={"BEHAVIOUR": "noop"}, **over)
    r = run_pyab(pyab, ["run", str(p), "--out", str(tmp_path / "out"), "--no-history"])
    assert r.returncode == 2, r.stderr
    assert f'{p}: key "{key}": {what}' in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()
