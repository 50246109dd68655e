"""`pyab check`, `pyab history` and `pyab merge` end to end, on a small
service whose leak is set by an environment variable: LEAK_BYTES=0 keeps
nothing, LEAK_BYTES=1024 keeps a 1 KiB bytes object per request (about
1057 B/request of Python heap). Each scenario is 3 reps of 20k requests
sampled every 2 ms, about 0.3 s a rep.
"""
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import run_pyab

HERE = __import__("pathlib").Path(__file__).resolve().parent
TRACE = HERE / "cases" / "leak-python" / "trace.jsonl"

SERVICE = '''
import os
LEAK = int(os.environ.get("LEAK_BYTES", "0"))
kept = []


def handle(req):
    scratch = [str(i) for i in range(100)]
    if LEAK:
        kept.append(b"x" * LEAK)
    return len(scratch)
'''


def scenario(folder, name="svc", leak=0, budgets=None, reps=3, requests=20000, fname=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.py").write_text(SERVICE)
    shutil.copy(TRACE, folder / "trace.jsonl")
    sc = {"name": name, "app": {"path": "service.py"}, "trace": "trace.jsonl",
          "load": {"model": "closed", "users": 1, "requests": requests}, "workers": 1,
          "warmup": {"requests": 1000}, "sample": {"interval_ms": 2}, "reps": reps,
          "env": {"LEAK_BYTES": str(leak)}}
    if budgets is not None:
        sc["budgets"] = budgets
    path = folder / (fname or f"{name}-{leak}.json")
    path.write_text(json.dumps(sc))
    return path


BUDGETS = {"pyheap_slope_bytes_per_request": 64, "rss_slope_bytes_per_request": 256,
           "peak_rss_mb": 512, "throughput_min_rps": 1000}


def check(pyab, args, cwd):
    return run_pyab(pyab, ["check"] + [str(a) for a in args] + ["--quiet"], cwd=cwd, timeout=120)


def junit_cases(path):
    root = ET.parse(path).getroot()
    return root, [(tc.get("classname"), tc.get("name"), tc) for tc in root.iter("testcase")]


def test_budgets_pass_and_fail(pyab, tmp_path, sanitized):
    # Under ASan/UBSan the quarantine of freed blocks grows RSS by about 3 KB/request
    # with no leak at all, so there the leak-free run gets every budget but the RSS slope.
    ok_budgets = {k: v for k, v in BUDGETS.items()
                  if not (sanitized and k == "rss_slope_bytes_per_request")}
    ok = scenario(tmp_path / "svc", leak=0, budgets=ok_budgets)
    r = check(pyab, [ok, "--out", tmp_path / "ok", "--no-history"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    # --quiet: no table for a passing scenario (as `pyab run --quiet` prints none).
    assert not re.search(r"^(PASS|  pass )", r.stdout, re.M), r.stdout
    root, cases = junit_cases(tmp_path / "ok" / "junit.xml")
    assert int(root.get("tests")) == len(ok_budgets) and root.get("failures") == "0"

    leaky = scenario(tmp_path / "svc", leak=1024, budgets=BUDGETS)
    junit = tmp_path / "leaky.xml"
    r = check(pyab, [leaky, "--out", tmp_path / "bad", "--no-history", "--junit", junit], tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    root, cases = junit_cases(junit)
    # The CI-server shape: testsuites > testsuite > testcase > failure[@message].
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("name") == "svc"
    assert int(root.get("tests")) == len(cases) == 4
    failed = {name: tc.find("failure") for cls, name, tc in cases if tc.find("failure") is not None}
    assert set(failed) == {"budget pyheap_slope_bytes_per_request", "budget rss_slope_bytes_per_request"}
    assert int(root.get("failures")) == int(suites[0].get("failures")) == 2
    assert all(cls == "svc.base" for cls, _, _ in cases)
    msg = failed["budget pyheap_slope_bytes_per_request"].get("message")
    slope = json.load(open(tmp_path / "bad" / "svc" / "summary.json"))["arms"]["base"]["slopes"]["pyheap"]
    assert 1000 < slope["ci"][0] < 1200, slope
    assert "budget 64" in msg and f"{slope['bytes_per_request']:.4g}" in msg
    # The verdict per scenario, arm and metric on stdout, and in check.json.
    assert "FAIL svc" in r.stdout and "pyheap_slope_bytes_per_request" in r.stdout
    assert "peak_rss_mb" not in r.stdout, "--quiet prints only the failed checks"
    report = json.load(open(tmp_path / "bad" / "check.json"))
    assert report["exit_code"] == 1 and report["scenarios"][0]["status"] == "fail"


def test_regression_flagged_no_false_alarms(pyab, tmp_path):
    v1 = scenario(tmp_path / "v1", leak=0)
    v2 = scenario(tmp_path / "v2", leak=1024)
    r = check(pyab, [v1, "--out", tmp_path / "base", "--no-history"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    base = tmp_path / "base"  # holds svc/: found by scenario name
    for i in range(5):
        r = check(pyab, [v1, "--out", tmp_path / f"same{i}", "--baseline", base, "--no-history"],
                  tmp_path)
        assert r.returncode == 0, f"false alarm in repeat {i}:\n{r.stdout}{r.stderr}"
        checks = json.load(open(tmp_path / f"same{i}" / "check.json"))["scenarios"][0]["checks"]
        assert {c["name"] for c in checks if c["kind"] == "regression"} >= {"pyheap_slope", "rss_slope"}
    r = check(pyab, [v2, "--out", tmp_path / "v2out", "--baseline", base / "svc", "--no-history"],
              tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    checks = json.load(open(tmp_path / "v2out" / "check.json"))["scenarios"][0]["checks"]
    failed = {c["name"] for c in checks if c["status"] == "fail"}
    assert {"pyheap_slope", "rss_slope", "peak_rss_mb"} <= failed, checks
    root, cases = junit_cases(tmp_path / "v2out" / "junit.xml")
    assert any(name == "regression pyheap_slope" and tc.find("failure") is not None
               for _, name, tc in cases)


def test_history_trend_and_change_point(pyab, tmp_path):
    db = tmp_path / "h.sqlite"
    v1 = scenario(tmp_path / "v1", leak=0, reps=1)
    v2 = scenario(tmp_path / "v2", leak=1024, reps=1)
    for i, sc in enumerate([v1, v1, v1, v2, v2, v2]):
        r = check(pyab, [sc, "--out", tmp_path / f"c{i}", "--history", db], tmp_path)
        # From the fourth run on, the leak regresses against the newest passing run (the third).
        assert r.returncode == (1 if i >= 3 else 0), f"run {i}: {r.stdout}{r.stderr}"
        if i == 4:
            # A 1000x jump with 2 runs after it is no change point yet, and not "steady" either.
            h = run_pyab(pyab, ["history", "svc", "--db", db]).stdout
            line = next(x for x in h.splitlines() if "pyheap_slope" in x)
            assert "too few runs to tell" in line and "steady" not in line, h
    rows = sqlite3.connect(db).execute(
        "SELECT count(DISTINCT run_id), count(*) FROM history WHERE scenario = 'svc'").fetchone()
    assert rows[0] == 6 and rows[1] >= 6 * 5
    r = run_pyab(pyab, ["history", "svc", "--db", db])
    assert r.returncode == 0, r.stderr
    assert "pyheap_slope" in r.stdout and "CHANGE at run 4" in r.stdout, r.stdout
    trend = json.loads(run_pyab(pyab, ["history", str(v1), "--db", db, "--json"]).stdout)
    cps = trend["arms"]["base"]["pyheap_slope"]["change_points"]
    assert [cp["run"] for cp in cps] == [3] and cps[0]["delta"] > 900
    # The last results folder carries its trend for the report.
    h = json.load(open(tmp_path / "c5" / "svc" / "history.json"))
    assert len(h["runs"]) == 6
    assert json.load(open(tmp_path / "c5" / "svc" / "summary.json"))["history"]["runs"]
    assert run_pyab(pyab, ["history", "svc", "--db", tmp_path / "none.sqlite"]).returncode == 2
    # No float noise (0.56000000000000005) in the JSON.
    text = run_pyab(pyab, ["history", "svc", "--db", db, "--json"]).stdout
    for num in re.findall(r"-?[0-9][0-9.]*(?:e[-+]?[0-9]+)?", text):
        digits = num.split("e")[0].replace("-", "").replace(".", "").lstrip("0")
        assert len(digits) <= 15, num
    # A scenario name with no runs is an error, not an empty history.
    for args in (["nope"], ["nope", "--json"]):
        r = run_pyab(pyab, ["history", *args, "--db", db])
        assert r.returncode == 2 and r.stdout == "", r.stdout
        assert f"no runs of scenario 'nope' in {db}" in r.stderr, r.stderr


def test_shards_concurrent_history_and_merge(pyab, tmp_path):
    paths = [scenario(tmp_path / f"s{i}", name=f"s{i}", reps=1, requests=5000, fname="scenario.json")
             for i in range(5)]
    db = tmp_path / "shared.sqlite"
    procs = [subprocess.Popen([pyab, "check", *map(str, reversed(paths) if k else paths),
                               "--shard", f"{k + 1}/2", "--out", str(tmp_path / f"shard{k}"),
                               "--history", str(db), "--quiet"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for k in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, (out, err)
    names = [[s["scenario"] for s in json.load(open(tmp_path / f"shard{k}" / "check.json"))["scenarios"]]
             for k in range(2)]
    # Deterministic whatever the argument order: sorted paths dealt round-robin.
    assert names == [["s0", "s2", "s4"], ["s1", "s3"]]
    assert sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0] == 5
    # Each shard with its own database, then merged.
    for k in range(2):
        shutil.copy(db, tmp_path / f"shard{k}" / "history.sqlite")
    r = run_pyab(pyab, ["merge", tmp_path / "all", tmp_path / "shard0", tmp_path / "shard1"])
    assert r.returncode == 0, r.stderr
    merged = json.load(open(tmp_path / "all" / "check.json"))
    assert sorted(s["scenario"] for s in merged["scenarios"]) == ["s0", "s1", "s2", "s3", "s4"]
    root, cases = junit_cases(tmp_path / "all" / "junit.xml")
    assert len(root.findall("testsuite")) == 5
    assert sqlite3.connect(tmp_path / "all" / "history.sqlite").execute(
        "SELECT count(*) FROM runs").fetchone()[0] == 5


@pytest.mark.parametrize("args, message", [
    (["--shard", "3/2"], "--shard takes I/N"),
    (["--shard", "x"], "--shard takes I/N"),
    (["--frobnicate"], "unknown option"),
    (["--baseline", "/nonexistent"], "--baseline /nonexistent: not a results folder"),
])
def test_bad_flags(pyab, tmp_path, args, message):
    sc = scenario(tmp_path, reps=1)
    r = check(pyab, [sc, "--out", tmp_path / "out"] + args, tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def ran_nothing(out):
    """Only check.json and junit.xml: no scenario folder, no history."""
    assert sorted(p.name for p in out.iterdir()) == ["check.json", "junit.xml"]


def test_bad_budget_runs_nothing(pyab, tmp_path):
    good = scenario(tmp_path / "a", name="a", reps=1)
    bad = scenario(tmp_path / "b", name="b", reps=1, budgets={"rss_slope_bytes_per_reqest": 64})
    r = check(pyab, [good, bad, "--out", tmp_path / "out"], tmp_path)
    assert r.returncode == 2
    msg = f'{bad}: key "budgets.rss_slope_bytes_per_reqest": unknown key'
    assert msg in r.stderr, r.stderr
    ran_nothing(tmp_path / "out")
    report = json.load(open(tmp_path / "out" / "check.json"))
    assert report["exit_code"] == 2
    assert [(e["scenario"], e["status"]) for e in report["scenarios"]] == [("a", "skip"), ("b", "error")]
    assert msg in report["scenarios"][1]["error"]
    per_arm = scenario(tmp_path / "c", name="c", reps=1)
    doc = json.loads(per_arm.read_text())
    doc["arms"] = {"x": {}, "y": {"budgets": {"peak_rss_mb": "big"}}}
    per_arm.write_text(json.dumps(doc))
    r = check(pyab, [per_arm, "--out", tmp_path / "out2"], tmp_path)
    assert r.returncode == 2 and 'key "arms.y.budgets.peak_rss_mb": must be a number' in r.stderr


def test_bad_trace_runs_nothing(pyab, tmp_path):
    """A trace that will not load stops the whole check before the first rep,
    with the trace's own message (file:line:column) in check.json and JUnit."""
    good = scenario(tmp_path / "a", name="a", reps=1)
    bad = scenario(tmp_path / "b", name="b", reps=1)
    (tmp_path / "b" / "trace.jsonl").write_bytes(b'{"t": 0, "route": "/a"}\n\0\0\n')
    db, junit = tmp_path / "h.sqlite", tmp_path / "j.xml"
    r = check(pyab, [good, bad, "--out", tmp_path / "out", "--history", db, "--junit", junit],
              tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    ran_nothing(tmp_path / "out")
    assert not db.exists()
    where = f"{tmp_path / 'b' / 'trace.jsonl'}:2:"
    assert where in r.stderr and "ERROR b" in r.stdout and where in r.stdout, r.stdout + r.stderr
    report = json.load(open(tmp_path / "out" / "check.json"))
    by_name = {e["scenario"]: e for e in report["scenarios"]}
    assert by_name["b"]["status"] == "error" and by_name["b"]["error"].startswith(where)
    assert by_name["a"]["status"] == "skip" and "not run" in by_name["a"]["message"]
    root, cases = junit_cases(junit)
    assert root.get("errors") == "1" and root.get("skipped") == "1"
    errors = [tc.find("error") for cls, name, tc in cases if tc.find("error") is not None]
    assert len(errors) == 1 and errors[0].get("message").startswith(where)


def test_service_that_will_not_import(pyab, tmp_path):
    """Bad input found only when the child runs: exit 2 and the child's
    message (the traceback) in check.json and JUnit, not a pointer to logs."""
    sc = scenario(tmp_path / "a", name="a", reps=2)
    (tmp_path / "a" / "service.py").write_text('raise ImportError("no such thing")\n')
    r = check(pyab, [sc, "--out", tmp_path / "out", "--no-history"], tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    entry = json.load(open(tmp_path / "out" / "check.json"))["scenarios"][0]
    assert entry["status"] == "error"
    assert "rep 1 failed" in entry["error"] and "ImportError: no such thing)" in entry["error"]
    root, cases = junit_cases(tmp_path / "out" / "junit.xml")
    assert "ImportError: no such thing" in cases[0][2].find("error").get("message")


def test_interrupted_check_is_error_never_baseline(pyab, tmp_path):
    """Ctrl-C during a check: exit 130, the scenario an "error" in check.json,
    JUnit and the history (with no metrics), and the next check has no baseline."""
    slow = scenario(tmp_path / "s", name="svc", reps=3, requests=10_000_000)
    quick = scenario(tmp_path / "q", name="svc", reps=3)
    db = tmp_path / "h.sqlite"
    p = subprocess.Popen([pyab, "check", str(slow), "--out", str(tmp_path / "int"),
                          "--history", str(db)],
                         cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    seen = ""
    while "svc: arm base rep 1" not in seen and time.time() < deadline:
        seen += p.stderr.readline()  # progress lines name the scenario
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, out + seen + err
    entry = json.load(open(tmp_path / "int" / "check.json"))["scenarios"][0]
    assert entry["status"] == "error" and entry["error"].startswith("interrupted"), entry
    assert "0 of 3 reps ok" in entry["error"], entry
    root, cases = junit_cases(tmp_path / "int" / "junit.xml")
    assert root.get("errors") == "1" and root.get("failures") == "0"
    con = sqlite3.connect(db)
    assert con.execute("SELECT verdict FROM runs").fetchall() == [("error",)]
    assert con.execute("SELECT count(*) FROM metrics").fetchone()[0] == 0
    r = check(pyab, [quick, "--out", tmp_path / "next", "--history", db], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    entry = json.load(open(tmp_path / "next" / "check.json"))["scenarios"][0]
    assert entry["baseline"] is None, entry
    assert [c["message"] for c in entry["checks"] if c["name"] == "baseline"] == [
        "no earlier complete passing run in the history"]
