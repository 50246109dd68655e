"""pyab on another Debian's Python: a runtime made by tools/runtime.sh
(`./setup.sh runtime trixie`: Python 3.13 from Debian 13), run directly on
this host.

The runtime is found at $PYAB_RUNTIME or runtimes/trixie in the source
tree. Without one these tests skip, saying how to make it, unless
PYAB_REQUIRE_RUNTIME=1 (as .ci/run sets, after making it): then a missing
runtime fails.

- The heap-hook SIGSEGV (3.12+: pymalloc's state belongs to the
  interpreter, so the layout self-test cannot run before Py_Initialize):
  a 3.13 child with the default sample.pyheap "blocks" must come through,
  keep "blocks" (the self-test passed), and agree with tracemalloc.
- scenarios/python-upgrade with 1 rep per arm: the children report 3.11
  and 3.13, thresholds 700 and 2000, different collection counts, and the
  note about Python and glibc.
"""
import json
import os
import pathlib
import re
import subprocess

import pytest

from conftest import ROOT, load_json, run_pyab

RUNTIME = pathlib.Path(os.environ.get("PYAB_RUNTIME") or ROOT / "runtimes" / "trixie")


@pytest.fixture(scope="module")
def runtime():
    if not (RUNTIME / "pyab" / "pyab-child").exists():
        why = (f"no Python 3.13 runtime at {RUNTIME}: make it with ./setup.sh runtime trixie "
               "(about 40 s and 540 MB)")
        if os.environ.get("PYAB_REQUIRE_RUNTIME") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return RUNTIME


SERVICE = r'''
import tracemalloc
import pyab
tracemalloc.start()
kept = []
first = None
def handle(req):
    global first
    if first is None:
        first = (tracemalloc.get_traced_memory()[0], pyab.heap_bytes())
    kept.append("x" * (300 + len(kept) % 4000))
    kept.append({"k": len(kept), "v": [1, 2, 3] * 20})
'''


def test_313_child_counts_blocks_after_initialising(pyab, tmp_path, runtime):
    (tmp_path / "service.py").write_text(SERVICE)
    (tmp_path / "trace.jsonl").write_text('{"t": 0, "route": "/a"}\n')
    sc = {"name": "heap313", "app": {"path": "service.py"}, "trace": "trace.jsonl",
          "load": {"model": "closed", "users": 1, "requests": 5000}, "workers": 1,
          "sample": {"pyheap": "blocks"},
          "arms": {"py313": {"python": {"runtime": str(runtime)}},
                   "py313-requested": {"python": {"runtime": str(runtime)},
                                       "sample": {"pyheap": "requested"}}}}
    (tmp_path / "scenario.json").write_text(json.dumps(sc))
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(tmp_path / "out"), "--quiet",
                        "--no-report"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    s = load_json(tmp_path / "out" / "summary.json")
    m = load_json(tmp_path / "out" / "manifest.json")
    for arm, mode in (("py313", "blocks"), ("py313-requested", "requested")):
        rep = s["arms"][arm]["reps"][0]
        assert rep["outcome"] == "ok", rep.get("reason")
        rb = m["arms"][arm]["readback"]
        assert rb["python_version"].startswith("3.13"), rb["python_version"]
        assert rb["pyheap_mode"] == mode, rb["pyheap_mode"]
        assert m["arms"][arm]["interpreter"]["pieces"]["heap_selftest"].startswith(
            "after Py_Initialize")
    # What the blocks hooks counted over the run, against tracemalloc's
    # requested bytes over the same run (the pyheap slope per request).
    slope = s["arms"]["py313"]["slopes"]["pyheap"]["bytes_per_request"]
    requested = s["arms"]["py313-requested"]["slopes"]["pyheap"]["bytes_per_request"]
    assert abs(slope - requested) / requested < 0.05, (slope, requested)


def test_version_of_a_runtime(pyab, runtime):
    r = run_pyab(pyab, ["version", "--json"], env={"PYAB_RUNTIME": str(runtime)})
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)
    assert v["python_short"].startswith("3.13.") and "error" not in v, v
    assert v["gc_threshold_default"] == [2000, 10, 10]
    assert v["pieces"]["heap_selftest"].startswith("after Py_Initialize")
    assert v["child_glibc"] != v["glibc"], v


def test_python_upgrade_scenario(pyab, tmp_path, runtime):
    src = ROOT / "scenarios" / "python-upgrade"
    sc = json.loads((src / "scenario.json").read_text())
    sc["reps"] = 1
    sc["app"]["path"] = str(src / sc["app"]["path"])
    sc["trace"] = str(src / sc["trace"])
    sc["arms"]["py313"]["python"]["runtime"] = str(runtime)
    (tmp_path / "scenario.json").write_text(json.dumps(sc))
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(tmp_path / "out")], cwd=tmp_path,
                 timeout=300)
    assert r.returncode == 0, r.stderr
    s = load_json(tmp_path / "out" / "summary.json")
    it = s["interpreters"]
    assert it["py311"]["python_short"].startswith("3.11.")
    assert it["py313"]["python_short"].startswith("3.13.")
    assert it["py311"]["gc_threshold_default"] == [700, 10, 10]
    assert it["py313"]["gc_threshold_default"] == [2000, 10, 10]
    assert it["py311"]["glibc"] != it["py313"]["glibc"]
    assert "different Pythons" in s["interpreter_note"] and "glibc" in s["interpreter_note"]
    assert "note: the arms run different Pythons" in r.stdout
    cmp = s["comparisons"][0]
    assert cmp["arm"] == "py313" and cmp["interpreter_note"].startswith(
        "py313 runs Python 3.13"), cmp.get("interpreter_note")
    assert "note: py313 runs Python 3.13" in r.stdout
    c311 = s["arms"]["py311"]["gc"]["collections_per_1000_requests"]
    c313 = s["arms"]["py313"]["gc"]["collections_per_1000_requests"]
    # threshold0 2000 against 700: far fewer young collections per request.
    assert c313 < 0.6 * c311, (c311, c313)
    for arm in ("py311", "py313"):
        assert s["arms"][arm]["reps"][0]["outcome"] == "ok"
        assert s["arms"][arm]["verdict"] != "leak", s["arms"][arm]["evidence"]
    # The report draws both interpreters side by side (rendered by headless Chromium).
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=5000", "--dump-dom",
                          str(tmp_path / "out" / "report.html")],
                         capture_output=True, text=True, timeout=120).stdout
    assert 'data-rendered="1"' in dom
    section = re.sub(r"<[^>]+>", " ", dom.split('id="interpreters"', 1)[1].split("</section>")[0])
    for word in (it["py311"]["python_short"], it["py313"]["python_short"], "700 / 10 / 10",
                 "2000 / 10 / 10", it["py313"]["glibc"], "different Pythons"):
        assert word in section, (word, section[:2000])
