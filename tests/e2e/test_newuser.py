"""What a new user trips on (issue 13): a service that dies while importing,
a history or baseline that cannot serve, a report that was not written,
--help on every verb, and inputs that once crashed or hung pyab (found by
fuzzing). Each test names the item of the issue it holds to."""
import json
import os
import re
import sqlite3
import time

import pytest

from conftest import load_json, run_pyab

SERVICE_OK = "def handle(req):\n    return 200\n"


def scenario(folder, service=SERVICE_OK, name="newuser", reps=1, requests=20, **extra):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.py").write_text(service)
    (folder / "trace.jsonl").write_text(
        "".join(json.dumps({"t": i * 0.001, "route": "/a"}) + "\n" for i in range(requests)))
    sc = {"name": name, "app": {"path": "service.py"}, "trace": "trace.jsonl", "reps": reps}
    sc.update(extra)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(sc))
    return path


# ---- item 1: a service that cannot finish importing is bad input ---------------------------

@pytest.mark.parametrize("how, reason", [
    ("import os\nos._exit(5)\n", "exited with status 5"),
    ("import ctypes\nctypes.string_at(0)\n", "SIGSEGV"),
], ids=["os-exit", "segfault"])
def test_crash_while_importing_is_bad_input(pyab, tmp_path, sanitized, how, reason):
    sc = scenario(tmp_path, how + SERVICE_OK, reps=3)
    out = tmp_path / "out"
    r = run_pyab(pyab, ["run", str(sc), "--out", str(out), "--no-report", "--no-history"])
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "while importing" in r.stderr, r.stderr
    # ASan catches the segfault itself and exits 1: no signal to name there.
    if not (sanitized and reason == "SIGSEGV"):
        assert reason in r.stderr, r.stderr
    # faulthandler's dump (the frame) is in the message, for both kinds.
    if reason == "SIGSEGV" and not sanitized:
        assert 'service.py", line 2 in <module>' in r.stderr, r.stderr
    summary = load_json(out / "summary.json")
    reps = summary["arms"]["base"]["reps"]
    assert [x["outcome"] for x in reps] == ["crashed"], reps  # no second or third try
    assert summary["status"] == "failed"
    assert not (out / "arms" / "base" / "rep-2").exists()


def test_crash_after_import_is_still_a_finding(pyab, tmp_path):
    """The other side of the line: a service that imports and then dies in
    its handler is a finding (exit 0, rep crashed), as before."""
    sc = scenario(tmp_path, "import os\n\ndef handle(req):\n    os._exit(7)\n", reps=2)
    out = tmp_path / "out"
    r = run_pyab(pyab, ["run", str(sc), "--out", str(out), "--quiet", "--no-report",
                        "--no-history"])
    assert r.returncode == 0, r.stderr
    reps = load_json(out / "summary.json")["arms"]["base"]["reps"]
    assert [x["outcome"] for x in reps] == ["crashed", "crashed"], reps


# ---- item 4: run --history is checked before the first rep ---------------------------------

def test_run_with_a_corrupt_history_stops_before_any_rep(pyab, tmp_path):
    db = tmp_path / "corrupt.sqlite"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    sc = scenario(tmp_path, reps=2)
    out = tmp_path / "out"
    r = run_pyab(pyab, ["run", str(sc), "--out", str(out), "--quiet", "--no-report",
                        "--history", str(db)])
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stderr}"
    assert str(db) in r.stderr and "history" in r.stderr, r.stderr
    assert not (out / "arms").exists(), "a rep ran before the history was checked"


def test_run_with_a_good_history_still_records(pyab, tmp_path):
    db = tmp_path / "h.sqlite"
    sc = scenario(tmp_path)
    for k in range(2):
        r = run_pyab(pyab, ["run", str(sc), "--out", str(tmp_path / f"o{k}"), "--quiet",
                            "--no-report", "--history", str(db)])
        assert r.returncode == 0, r.stderr
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM runs WHERE verdict = 'run'").fetchone()[0] == 2


# ---- item 5: an explicit --baseline that does not match is an error ------------------------

def test_baseline_of_another_scenario_is_an_error(pyab, tmp_path):
    other = scenario(tmp_path / "o", name="other")
    r = run_pyab(pyab, ["run", str(other), "--out", str(tmp_path / "other-results"), "--quiet",
                        "--no-report", "--no-history"])
    assert r.returncode == 0, r.stderr
    quick = scenario(tmp_path / "q", name="quick")
    out = tmp_path / "check"
    r = run_pyab(pyab, ["check", str(quick), "--baseline", str(tmp_path / "other-results"),
                        "--out", str(out), "--no-history", "--quiet"])
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "--baseline" in r.stderr and '"other"' in r.stderr and '"quick"' in r.stderr, r.stderr
    entry = load_json(out / "check.json")["scenarios"][0]
    assert entry["status"] == "error" and "--baseline" in entry["error"], entry
    assert not (out / "quick" / "arms").exists(), "it ran before refusing the baseline"


def test_baseline_that_matches_is_used(pyab, tmp_path):
    sc = scenario(tmp_path / "q", name="quick")
    base = tmp_path / "base"
    r = run_pyab(pyab, ["run", str(sc), "--out", str(base), "--quiet", "--no-report",
                        "--no-history"])
    assert r.returncode == 0, r.stderr
    out = tmp_path / "check"
    r = run_pyab(pyab, ["check", str(sc), "--baseline", str(base), "--out", str(out),
                        "--no-history", "--quiet"])
    assert r.returncode == 0, r.stdout + r.stderr
    entry = load_json(out / "check.json")["scenarios"][0]
    assert entry["baseline"] == str(base), entry
    assert not [c for c in entry["checks"] if c["name"] == "baseline"], entry["checks"]


# ---- item 9: smaller ones -------------------------------------------------------------------

def test_trace_info_prints_a_huge_duration_sanely(pyab, tmp_path):
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"t": 0, "route": "/a"}\n{"t": 1e308, "route": "/a"}\n')
    r = run_pyab(pyab, ["trace", "info", str(trace)])
    assert r.returncode == 0, r.stderr
    assert not re.search(r"\d{20}", r.stdout), r.stdout  # was 309 digits
    assert "1e+308 s" in r.stdout, r.stdout


@pytest.mark.parametrize("text, where", [
    ("", ":1:1:"),
    ("{\n", ":2:1:"),
    ('{"name": "x",\n', ":2:1:"),
])
def test_positions_have_no_column_zero(pyab, tmp_path, text, where):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    for args in (["run", str(bad)], ["trace", "synth", "-o", str(tmp_path / "x.jsonl"),
                                     "--spec", str(bad)],
                 ["trace", "import", str(bad), "-o", str(tmp_path / "y.jsonl"), "--format",
                  "har"]):
        r = run_pyab(pyab, args)
        assert r.returncode == 2, r.stderr
        assert f"bad.json{where}" in r.stderr and ":0:" not in r.stderr, (args, r.stderr)


def test_one_request_is_singular(pyab, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text('{"rate": 0, "batches": [{"every": 100, "start": 0, "count": 1, '
                    '"route": "/b"}]}')
    trace = tmp_path / "one.jsonl"
    r = run_pyab(pyab, ["trace", "synth", "-o", str(trace), "--spec", str(spec)])
    assert r.returncode == 0, r.stderr
    assert "1 request over" in r.stderr, r.stderr
    har = tmp_path / "one.har"
    har.write_text(json.dumps({"log": {"entries": [{
        "startedDateTime": "2024-01-01T00:00:00Z",
        "request": {"method": "GET", "url": "http://h/a", "headers": []}}]}}))
    r = run_pyab(pyab, ["trace", "import", str(har), "-o", str(tmp_path / "h.jsonl")])
    assert r.returncode == 0, r.stderr
    assert "1 request imported" in r.stderr, r.stderr
    r = run_pyab(pyab, ["trace", "info", str(trace)])
    assert "1 request with a body" in r.stdout, r.stdout
    assert "1 requests" not in r.stdout + r.stderr


def test_duplicate_key_in_a_trace_record_is_refused(pyab, tmp_path):
    trace = tmp_path / "dup.jsonl"
    trace.write_text('{"t": 0, "route": "/a"}\n{"t": 1, "route": "/a", "t": 2}\n')
    r = run_pyab(pyab, ["trace", "info", str(trace)])
    assert r.returncode == 2, r.stdout + r.stderr
    assert "dup.jsonl:2:" in r.stderr and "duplicate" in r.stderr, r.stderr


def test_har_base64_post_data_is_decoded(pyab, tmp_path):
    import base64
    body = '{"item": 42, "note": "caf\u00e9"}'
    har = tmp_path / "b64.har"
    har.write_text(json.dumps({"log": {"entries": [{
        "startedDateTime": "2024-01-01T00:00:00Z",
        "request": {"method": "POST", "url": "http://h/api", "headers": [],
                    "postData": {"mimeType": "application/json", "encoding": "base64",
                                 "text": base64.b64encode(body.encode()).decode()}}}]}}))
    out = tmp_path / "b64.jsonl"
    r = run_pyab(pyab, ["trace", "import", str(har), "-o", str(out)])
    assert r.returncode == 0, r.stderr
    rec = json.loads(out.read_text().splitlines()[0])
    assert rec["body"] == {"item": 42, "note": "caf\u00e9"}, rec


def test_access_log_with_a_bad_first_date_names_it(pyab, tmp_path):
    log = tmp_path / "access.log"
    log.write_text('127.0.0.1 - - [10/Foo/2024:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "ua"\n'
                   '127.0.0.1 - - [10/Oct/2024:13:55:37 +0000] "GET /b HTTP/1.1" 200 5 "-" "ua"\n')
    r = run_pyab(pyab, ["trace", "import", str(log), "-o", str(tmp_path / "x.jsonl")])
    assert r.returncode == 2, r.stderr
    assert "access.log:1:" in r.stderr and "unknown month name" in r.stderr, r.stderr
    assert "cannot tell the format" not in r.stderr, r.stderr


def test_failed_report_is_not_claimed(pyab, tmp_path):
    # The service, at import, puts a non-empty folder where report.html goes,
    # so writing the report fails (as on a full disk) and the run must not claim it.
    out = tmp_path / "out"
    blocker = f"import os\nos.makedirs({str(out / 'report.html' / 'x')!r}, exist_ok=True)\n"
    sc = scenario(tmp_path, blocker + SERVICE_OK)
    r = run_pyab(pyab, ["run", str(sc), "--out", str(out), "--no-history"])
    assert "report" in r.stderr, r.stderr
    assert "(report.html)" not in r.stdout, r.stdout
    assert f"results: {out}" in r.stdout, r.stdout


VERBS = ["run", "ablate", "check", "history", "merge", "trace", "report", "compare", "version"]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_verb_takes_help(pyab, verb, flag):
    r = run_pyab(pyab, [verb, flag])
    assert r.returncode == 0, f"{verb} {flag}: exit {r.returncode}\n{r.stderr}"
    assert f"usage: pyab {verb}" in r.stdout, r.stdout
    assert "unknown" not in r.stdout + r.stderr


def test_help_after_arguments(pyab, tmp_path):
    r = run_pyab(pyab, ["run", str(scenario(tmp_path)), "--help"])
    assert r.returncode == 0 and "usage: pyab run" in r.stdout and "--history" in r.stdout
    assert not list(tmp_path.glob("results*")), "--help ran the scenario"


# ---- item 12: inputs that crashed or hung pyab (found by fuzzing) --------------------------

def test_samples_csv_with_a_duplicate_column(pyab, tmp_path):
    sc = scenario(tmp_path, reps=1)
    out = tmp_path / "out"
    r = run_pyab(pyab, ["run", str(sc), "--out", str(out), "--quiet", "--no-report",
                        "--no-history"])
    assert r.returncode == 0, r.stderr
    samples = out / "arms" / "base" / "rep-1" / "samples.csv"
    for text, col in [("t_s,requests,phase,phase\n,,,", "phase"),
                      ("t_s,requests,rss_bytes,rss_bytes,phase\n0,0,1,2,run\n", "rss_bytes"),
                      ("t_s,requests,phase,bogus\n0,0,run,1\n", "bogus")]:
        samples.write_text(text)
        r = run_pyab(pyab, ["compare", str(out)])
        assert r.returncode in (0, 2), f"{text!r}: exit {r.returncode} (a crash?)\n{r.stderr}"
        summary = load_json(out / "summary.json")
        skipped = summary["arms"]["base"]["evidence"]["reps_skipped"]
        assert any("samples.csv:1:" in s["skipped"] and col in s["skipped"] for s in skipped), \
            (text, skipped)


@pytest.mark.parametrize("bursts", [
    [{"start": 100, "multiplier": 1e6}],
    [{"start": 100, "multiplier": 1e6}, {"start": 200, "multiplier": 1e6}],
], ids=["one-late-burst", "two-late-bursts"])
def test_synth_ignores_bursts_after_the_end(pyab, tmp_path, bursts):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"bursts": bursts}))
    t0 = time.monotonic()
    r = run_pyab(pyab, ["trace", "synth", "-o", str(tmp_path / "x.jsonl"), "--spec", str(spec)],
                 timeout=60)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert took < 2, f"took {took:.1f} s for a 60 s trace at 10 req/s"


def test_synth_refuses_an_infinite_rate_bound(pyab, tmp_path):
    # 1e6 is the largest multiplier; 52 of them overlapping pass DBL_MAX.
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"bursts": [{"start": 0, "duration": 60, "multiplier": 1e6}] * 60}))
    r = run_pyab(pyab, ["trace", "synth", "-o", str(tmp_path / "x.jsonl"), "--spec", str(spec)],
                 timeout=20)
    assert r.returncode == 2, r.stderr
    assert "bursts" in r.stderr and "multiplier" in r.stderr, r.stderr


@pytest.mark.parametrize("verb", [["trace", "info"], ["trace", "import"]])
def test_device_files_are_refused(pyab, tmp_path, verb):
    args = verb + ["/dev/zero"] + (["-o", str(tmp_path / "x.jsonl")] if verb[1] == "import"
                                   else [])
    r = run_pyab(pyab, args, timeout=30)
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stderr[-2000:]}"
    assert "/dev/zero" in r.stderr and "not a regular file" in r.stderr, r.stderr


def test_scenario_whose_trace_is_a_device(pyab, tmp_path):
    sc = scenario(tmp_path)
    doc = json.loads(sc.read_text())
    doc["trace"] = "/dev/zero"
    sc.write_text(json.dumps(doc))
    r = run_pyab(pyab, ["run", str(sc), "--out", str(tmp_path / "out"), "--quiet"], timeout=30)
    assert r.returncode == 2, f"exit {r.returncode}\n{r.stderr[-2000:]}"
    assert "not a regular file" in r.stderr, r.stderr


def test_file_size_cap(pyab, tmp_path):
    trace = tmp_path / "big.jsonl"
    trace.write_text('{"t": 0, "route": "/a"}\n' * 100000)  # 2.3 MB
    r = run_pyab(pyab, ["trace", "info", str(trace)], env={"PYAB_MAX_FILE_MB": "1"})
    assert r.returncode == 2, r.stderr
    assert "big.jsonl" in r.stderr and "PYAB_MAX_FILE_MB" in r.stderr, r.stderr
    r = run_pyab(pyab, ["trace", "info", str(trace)])
    assert r.returncode == 0, r.stderr
