"""Where the memory that survives was allocated (issue 14), against known truth.

Each service under where/ leaks (or keeps, or bounds) a known thing per
request. pyab runs it twice, with where.mode "sampled" (the default) and
"exact" (tracemalloc, the truth), and the sampled answer must agree: the same
top line, bytes per request within 15% once the site holds >= 100 sample
means, bounded structures called bounded, the holder chain naming the
global, and the ctypes extra reference called a reference-count leak.
"""
import json
import pathlib

import pytest

from conftest import load_json, run_pyab

HERE = pathlib.Path(__file__).resolve().parent / "where"
SAMPLED_REQUESTS = 6000
EXACT_REQUESTS = 2000
R = 65536  # the default where.sample_bytes


def run_where(pyab, tmp, name, mode, requests, gc=None, warmup=500):
    trace = tmp / "trace.jsonl"
    if not trace.exists():
        trace.write_text("".join(json.dumps({"t": i * 0.001, "route": "/r", "body": {}}) + "\n"
                                 for i in range(50)))
    scenario = {
        "name": name, "app": {"path": str(HERE / (name + ".py")), "handler": "handle"},
        "trace": str(trace), "load": {"model": "closed", "users": 1, "requests": requests},
        "workers": 1, "warmup": {"requests": warmup}, "reps": 1, "where": {"mode": mode},
    }
    if mode == "sampled":
        del scenario["where"]  # the default
    if gc:
        scenario["gc"] = gc
    path = tmp / f"{name}-{mode}.json"
    path.write_text(json.dumps(scenario))
    out = tmp / f"{name}-{mode}"
    r = run_pyab(pyab, ["run", str(path), "--out", str(out), "--quiet", "--no-report"])
    assert r.returncode == 0, r.stderr
    arm = load_json(out / "summary.json")["arms"]["base"]
    return arm, arm["where"]


# name, gc, growing (a leak the top site must name), holder words, bounded
CASES = [
    ("global_list", None, True, ["module global_list", "attribute _audit (list)"]),
    ("lru_unbounded", None, True, ["attribute render (functools._lru_cache_wrapper)"]),
    ("sessions", None, True, ["attribute sessions (dict)"]),
    ("loggers", None, True, None),
    ("tracebacks", None, True, ["attribute errors (list)"]),
    ("cycles", {"enabled": False}, True, ["no module reaches it: cycles.Node"]),
    ("extra_ref", None, True, None),
    ("two_leaks", None, True, ["attribute big (list)"]),
    ("formatted", None, True, ["attribute _keep (list)"]),
]


@pytest.mark.parametrize("name,gc,growing,holder", CASES, ids=[c[0] for c in CASES])
def test_sampled_top_site_matches_tracemalloc(pyab, tmp_path, name, gc, growing, holder):
    arm, where = run_where(pyab, tmp_path, name, "sampled", SAMPLED_REQUESTS, gc)
    _, exact = run_where(pyab, tmp_path, name, "exact", EXACT_REQUESTS, gc)
    assert arm["verdict"] == "leak"
    assert where["mode"] == "sampled" and where["sample_bytes"] == R
    # tracemalloc sees no Python frame while pyab builds a request from the
    # trace (C, before the handler runs); the sampler names that memory.
    for s in where["sites"]:
        if s["key"] == "(the request pyab built from the trace)":
            s["key"] = "(no Python frame)"
    top, truth = where["sites"][0], exact["sites"][0]
    assert top["key"] == truth["key"], (where["sites"][:3], exact["sites"][:3])
    assert top["state"] == "growing"
    # Top-5 agreement over the sites big enough to rank (>= 25 sample means:
    # at 10 a site of that size swapped places with its neighbour now and then).
    seen = [s["key"] for s in exact["sites"][:5]
            if s["bytes_per_request"] * where["requests"] >= 25 * R]
    got = [s["key"] for s in where["sites"][:5]]
    if seen:  # none in the loggers case: its sites are all small
        assert sum(k in got for k in seen) / len(seen) >= 0.8, (seen, got)
    for s in exact["sites"][:5]:
        mine = next((m for m in where["sites"] if m["key"] == s["key"]), None)
        if s["bytes_per_request"] * where["requests"] >= 100 * R:
            assert mine is not None
            assert abs(mine["bytes_per_request"] / s["bytes_per_request"] - 1) < 0.15, (mine, s)
    if holder:
        chain = next(h["chain"] for h in where["holders"] if h["key"] == top["key"])
        for word in holder:
            assert any(word in hop for hop in chain), chain
    if name == "cycles":
        assert where["point"] == "end"  # the GC was off: cycles are what survives
    else:
        assert where["point"] == "quiesce"


def test_extra_reference_is_a_refcount_leak(pyab, tmp_path):
    _, where = run_where(pyab, tmp_path, "extra_ref", "sampled", SAMPLED_REQUESTS)
    leaks = where["refcount_leaks"]
    assert len(leaks) == 1 and leaks[0]["site"] == "extra_ref.py:14", leaks
    assert leaks[0]["type"] == "bytes"
    assert 0.8 < leaks[0]["objects_per_request"] < 1.2  # one per request
    # A leak kept by a list is held, not a refcount leak.
    _, held = run_where(pyab, tmp_path, "global_list", "sampled", SAMPLED_REQUESTS)
    assert held["refcount_leaks"] == []


@pytest.mark.parametrize("name", ["lru_bounded", "deque_maxlen"])
def test_bounded_structures_are_bounded(pyab, tmp_path, name):
    arm, where = run_where(pyab, tmp_path, name, "sampled", SAMPLED_REQUESTS)
    assert arm["verdict"] == "no-leak"
    growing = [s for s in where["sites"] if s["state"] == "growing" and s["samples"] >= 8]
    assert growing == [], growing
    assert where["sites"] and where["sites"][0]["state"] == "bounded", where["sites"][:2]


def test_no_leak_has_no_growing_site(pyab, tmp_path):
    arm, where = run_where(pyab, tmp_path, "no_leak", "sampled", SAMPLED_REQUESTS)
    assert arm["verdict"] == "no-leak"
    assert where["bytes_per_request"] < 64, where["sites"][:3]


def test_no_warmup_shows_only_the_services_allocations(pyab, tmp_path):
    # With no warm-up, pyab's start-up readback imported json and its first
    # traceback imported ast inside the window: importlib, json and ast
    # sites "growing", and a reference-count leak of code objects (QA).
    _, where = run_where(pyab, tmp_path, "warm0_errors", "sampled", SAMPLED_REQUESTS, warmup=0)
    foreign = [s["site"] for s in where["sites"]
               if any(w in s["site"] for w in ("importlib", "encoder.py", "decoder.py",
                                               "scanner.py", "ast.py"))]
    assert foreign == [], where["sites"][:6]
    assert where["refcount_leaks"] == [], where["refcount_leaks"]
    assert where["sites"][0]["site"] == "warm0_errors.py:12", where["sites"][:3]


def test_strings_shrunk_by_realloc_are_sampled(pyab, tmp_path):
    # Ten formatted strings of ~140 bytes per request (~100 samples a run):
    # what survives of str must be seen, at its count.
    _, where = run_where(pyab, tmp_path, "formatted", "sampled", SAMPLED_REQUESTS)
    types = {t["type"]: t for t in where["types"]}
    assert "str" in types, where["types"]
    assert types["str"]["objects_per_request"] == pytest.approx(10, rel=0.35), types["str"]


def test_kept_requests_are_named_as_the_request(pyab, tmp_path):
    trace = tmp_path / "trace.jsonl"
    trace.write_text("".join(json.dumps({"t": i * 0.001, "route": "/r",
                                         "body": {"user": "u%d" % i, "note": "n" * 600}}) + "\n"
                             for i in range(50)))
    _, where = run_where(pyab, tmp_path, "keeps_request", "sampled", SAMPLED_REQUESTS)
    top = where["sites"][0]
    assert top["site"] == "(the request pyab built from the trace)", where["sites"][:3]
    assert top["state"] == "growing" and top["share"] > 0.5
    chain = next(h["chain"] for h in where["holders"] if h["key"] == top["key"])
    assert chain[:2] == ["module keeps_request", "attribute kept (list)"], chain


def test_types_name_the_objects(pyab, tmp_path):
    _, where = run_where(pyab, tmp_path, "sessions", "sampled", SAMPLED_REQUESTS)
    types = {t["type"]: t for t in where["types"]}
    assert types["bytes"]["objects_per_request"] == pytest.approx(4, rel=0.25)
    assert "sessions.Session" in types
    # A bytearray's buffer is not an object: it is named by its owner.
    _, where = run_where(pyab, tmp_path, "two_leaks", "sampled", SAMPLED_REQUESTS)
    assert where["types"][0]["type"] == "bytearray (storage)"
    # Also in an untracked dict's values, with the chain that holds them (QA:
    # "(not an object)" and no holder).
    _, where = run_where(pyab, tmp_path, "dict_buffers", "sampled", SAMPLED_REQUESTS)
    assert where["types"][0]["type"] == "bytearray (storage)", where["types"][:2]
    assert where["types"][0]["bytes_per_request"] == pytest.approx(3000, rel=0.15)
    top = where["sites"][0]
    chain = next(h["chain"] for h in where["holders"] if h["key"] == top["key"])
    assert "attribute _reports (dict)" in chain, chain


def test_terminal_shows_top_site_and_holder(pyab, tmp_path):
    run_where(pyab, tmp_path, "global_list", "sampled", SAMPLED_REQUESTS)
    r = run_pyab(pyab, ["compare", str(tmp_path / "global_list-sampled")])
    assert r.returncode == 0, r.stderr
    assert "global_list.py:6 in handle  (growing)" in r.stdout, r.stdout
    assert "held by: module global_list -> attribute _audit (list)" in r.stdout, r.stdout


def test_where_off_and_bad_values(pyab, tmp_path):
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"t": 0, "route": "/r", "body": {}}\n')
    sc = {"name": "w", "app": {"path": str(HERE / "global_list.py"), "handler": "handle"},
          "trace": str(trace), "load": {"model": "closed", "users": 1, "requests": 50},
          "where": {"mode": "sometimes"}}
    p = tmp_path / "s.json"
    p.write_text(json.dumps(sc))
    r = run_pyab(pyab, ["run", str(p), "--out", str(tmp_path / "o"), "--quiet"])
    assert r.returncode == 2 and 'key "where.mode"' in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()
    sc["where"] = {"mode": "off"}
    p.write_text(json.dumps(sc))
    r = run_pyab(pyab, ["run", str(p), "--out", str(tmp_path / "o"), "--quiet", "--no-report"])
    assert r.returncode == 0, r.stderr
    where = load_json(tmp_path / "o" / "summary.json")["arms"]["base"].get("where")
    assert where == {"mode": "off", "reason": 'where.mode is "off"'}


def test_compare_names_the_site_arm_b_removed(pyab, tmp_path):
    trace = tmp_path / "t.jsonl"
    trace.write_text("".join('{"t": %g, "route": "/r", "body": {}}\n' % (i / 1000) for i in range(50)))
    sc = {"name": "arms", "app": {"path": str(HERE / "audit_arms.py"), "handler": "handle"},
          "trace": str(trace), "load": {"model": "closed", "users": 1, "requests": 5000},
          "workers": 1, "warmup": {"requests": 500}, "reps": 2,
          "arms": {"leaky": {}, "fixed": {"env": {"AUDIT_FIXED": "1"}}}}
    p = tmp_path / "s.json"
    p.write_text(json.dumps(sc))
    out = tmp_path / "o"
    r = run_pyab(pyab, ["run", str(p), "--out", str(out), "--no-report"])
    assert r.returncode == 0, r.stderr
    summary = load_json(out / "summary.json")
    (cmp,) = summary["comparisons"]
    assert cmp["arm"] == "fixed" and cmp["control"] == "leaky"
    top = cmp["where"][0]
    # The fixed arm still holds its last 100 payloads (800 KB in all): "removed"
    # when that is under a tenth of the leak per request, else "smaller".
    assert top["site"] == "audit_arms.py:10" and top["change"] in ("removed", "smaller"), cmp["where"]
    assert 7000 < top["control"] < 9500 and top["arm"] < top["control"] / 4, top
    assert "audit_arms.py:10 in handle: " in r.stdout, r.stdout


def test_resurrected_objects_and_uncollectable_garbage(pyab, tmp_path):
    _, where = run_where(pyab, tmp_path, "resurrect", "sampled", SAMPLED_REQUESTS)
    (res,) = where["resurrected"]
    assert res["type"] == "resurrect.Record"
    assert res["objects_per_request"] == pytest.approx(1, rel=0.25), res
    _, where = run_where(pyab, tmp_path, "saveall", "sampled", SAMPLED_REQUESTS)
    un = where["uncollectable"]
    # Two Pair objects per request, and each one's __dict__... at least the pairs.
    assert un["per_request"] >= 1.9, un
    assert un["types"].get("saveall.Pair", 0) > 0, un
