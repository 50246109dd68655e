"""Issue 13, items 2 and parts of 9: a handler whose requests mostly fail is a
failed rep (limits.max_error_share), service logs are capped, limits.rss_mb
is checked on every sample, messages say what happens (SIGINT, plurals),
load.share (old name load.sample), and the man page. Each test names the
part of the issue it holds to."""
import json
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ROOT, load_json, run_pyab

SERVICE_OK = "def handle(req):\n    return 200\n"


def scenario(folder, service=SERVICE_OK, name="failures", reps=1, requests=40, routes=("/a",),
             **extra):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.py").write_text(service)
    (folder / "trace.jsonl").write_text("".join(
        json.dumps({"t": i * 0.001, "route": routes[i % len(routes)]}) + "\n"
        for i in range(requests)))
    sc = {"name": name, "app": {"path": "service.py"}, "trace": "trace.jsonl", "reps": reps}
    sc.update(extra)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(sc))
    return path


def run(pyab, sc, out, *flags):
    return run_pyab(pyab, ["run", str(sc), "--out", str(out), "--no-report", "--no-history",
                           *flags])


# ---- item 2: most requests fail -> the rep is failed, with the first traceback ------------

def test_handler_that_always_raises_fails_its_reps(pyab, tmp_path):
    sc = scenario(tmp_path, "def handle():\n    return 200\n", reps=2, routes=("/a", "/b"))
    out = tmp_path / "out"
    r = run(pyab, sc, out)
    assert r.returncode == 0, r.stderr  # a finding, not bad input
    summary = load_json(out / "summary.json")
    arm = summary["arms"]["base"]
    assert [x["outcome"] for x in arm["reps"]] == ["failed", "failed"], arm["reps"]
    reason = arm["reps"][0]["reason"]
    assert "40 of 40 requests raised" in reason, reason
    assert "does not describe the service's normal work" in reason, reason
    assert "every request failed on routes /a, /b" in reason, reason
    assert "TypeError: handle() takes 0 positional arguments" in reason, reason
    assert "base rep 1: failed: 40 of 40 requests raised" in r.stderr, r.stderr
    assert arm["verdict"] == "inconclusive"
    skipped = arm["evidence"]["reps_skipped"]
    assert [s["outcome"] for s in skipped] == ["failed", "failed"]
    assert "normal work" in skipped[0]["reason"], skipped


def test_errors_below_the_share_keep_the_rep_ok_and_the_share_is_a_key(pyab, tmp_path):
    service = ("def handle(req):\n"
               "    if req['route'] == '/b':\n"
               "        raise ValueError('no /b here')\n"
               "    return 200\n")
    sc = scenario(tmp_path, service, routes=("/a", "/a", "/a", "/b"))
    out = tmp_path / "out"
    r = run(pyab, sc, out, "--quiet")
    assert r.returncode == 0, r.stderr
    rep = load_json(out / "summary.json")["arms"]["base"]["reps"][0]
    assert rep["outcome"] == "ok" and rep["errors"] == 10, rep
    eff = load_json(out / "arms" / "base" / "rep-1" / "config.json")["effective"]
    assert eff["limits"]["max_error_share"] == 0.5
    assert "limits" in eff["defaulted"]

    sc = scenario(tmp_path / "strict", service, routes=("/a", "/a", "/a", "/b"),
                  limits={"max_error_share": 0.1})
    out = tmp_path / "out-strict"
    r = run(pyab, sc, out, "--quiet")
    assert r.returncode == 0, r.stderr
    rep = load_json(out / "summary.json")["arms"]["base"]["reps"][0]
    assert rep["outcome"] == "failed", rep
    assert "10 of 40 requests raised (25%" in rep["reason"], rep["reason"]
    assert "every request failed on route /b;" in rep["reason"], rep["reason"]
    assert "Traceback (most recent call last)" in rep["reason"], rep["reason"]
    assert "ValueError: no /b here" in rep["reason"], rep["reason"]


@pytest.mark.parametrize("value, message", [
    (1.5, 'key "limits.max_error_share": must be between 0 and 1'),
    ("half", 'key "limits.max_error_share": must be a number'),
])
def test_max_error_share_is_validated(pyab, tmp_path, value, message):
    sc = scenario(tmp_path, limits={"max_error_share": value})
    r = run(pyab, sc, tmp_path / "out", "--quiet")
    assert r.returncode == 2, r.stderr
    assert message in r.stderr, r.stderr


# ---- item 9: load.share, with load.sample as a deprecated alias ----------------------------

def test_load_share_and_its_old_name(pyab, tmp_path):
    sc = scenario(tmp_path / "new", load={"share": 0.5})
    out = tmp_path / "out-new"
    r = run(pyab, sc, out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "deprecated" not in r.stderr
    eff = load_json(out / "arms" / "base" / "rep-1" / "config.json")["effective"]
    assert eff["load"]["share"] == 0.5 and "sample" not in eff["load"], eff["load"]
    requests = load_json(out / "summary.json")["arms"]["base"]["reps"][0]["requests"]
    assert 0 < requests < 40

    sc = scenario(tmp_path / "old", load={"sample": 0.5})
    out = tmp_path / "out-old"
    r = run(pyab, sc, out, "--quiet")
    assert r.returncode == 0, r.stderr
    notes = [line for line in r.stderr.splitlines() if "deprecated" in line]
    assert len(notes) == 1 and '"load.sample" is now "load.share"' in notes[0], r.stderr
    eff = load_json(out / "arms" / "base" / "rep-1" / "config.json")["effective"]
    assert eff["load"]["share"] == 0.5 and "sample" not in eff["load"], eff["load"]
    assert "load.share" not in eff["defaulted"]
    assert load_json(out / "summary.json")["arms"]["base"]["reps"][0]["requests"] == requests

    # An arm's old name overrides the base's new one (and the other way round).
    sc = scenario(tmp_path / "arms", load={"share": 1},
                  arms={"half": {"load": {"sample": 0.5}}, "all": {}})
    out = tmp_path / "out-arms"
    r = run(pyab, sc, out, "--quiet")
    assert r.returncode == 0, r.stderr
    arms = load_json(out / "manifest.json")["arms"]
    assert arms["half"]["effective"]["load"]["share"] == 0.5, arms["half"]["effective"]["load"]
    assert arms["all"]["effective"]["load"]["share"] == 1, arms["all"]["effective"]["load"]
    assert '"load.sample" is now "load.share"' in r.stderr, r.stderr

    sc = scenario(tmp_path / "both", load={"sample": 0.5, "share": 0.5})
    r = run(pyab, sc, tmp_path / "out-both", "--quiet")
    assert r.returncode == 2, r.stderr
    assert 'key "load.sample": is the old name of "share"' in r.stderr, r.stderr


# ---- item 9: messages say what happens ------------------------------------------------------

def test_one_request_is_singular(pyab, tmp_path):
    sc = scenario(tmp_path, requests=1, warmup={"requests": 1})
    r = run(pyab, sc, tmp_path / "out", "--quiet")
    assert r.returncode == 2, r.stderr
    assert "the planned run (1 request):" in r.stderr, r.stderr


def test_one_run_of_history_is_singular(pyab, tmp_path):
    sc = scenario(tmp_path)
    db = tmp_path / "history.sqlite"
    r = run_pyab(pyab, ["run", str(sc), "--out", str(tmp_path / "out"), "--no-report", "--quiet",
                        "--history", str(db)])
    assert r.returncode == 0, r.stderr
    r = run_pyab(pyab, ["history", str(sc), "--db", str(db)])
    assert r.returncode == 0, r.stderr
    assert "history of failures: 1 run from" in r.stdout, r.stdout
    assert "1 runs" not in r.stdout, r.stdout
    assert " 1 run   first " in r.stdout, r.stdout  # the columns stay aligned


def start_first_rep(pyab, sc, out):
    """Starts `pyab run` in the background and returns once its first rep is replaying."""
    p = subprocess.Popen([pyab, "run", str(sc), "--out", str(out), "--no-report",
                          "--no-history"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    deadline = time.monotonic() + 30
    while not (out / "arms" / "base" / "rep-1" / "samples.csv.part").exists():
        assert time.monotonic() < deadline and p.poll() is None, "the rep did not start"
        time.sleep(0.05)
    return p


def test_sigint_message_says_the_rep_stops_now(pyab, tmp_path):
    service = "import time\ndef handle(req):\n    time.sleep(0.001)\n"
    sc = scenario(tmp_path, service, reps=2, workers=1,
                  load={"model": "closed", "users": 1, "requests": 1000000})
    out = tmp_path / "out"
    p = start_first_rep(pyab, sc, out)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, stderr = p.communicate(timeout=30)
    took = time.monotonic() - sent
    assert p.returncode == 130, stderr
    assert "finishing the running rep" not in stderr, stderr
    assert "stopping the running rep now" in stderr and "no further reps" in stderr, stderr
    rep = load_json(out / "summary.json")["arms"]["base"]["reps"][0]
    assert rep["outcome"] == "interrupted" and rep["requests"] < 1000000, rep
    assert not (out / "arms" / "base" / "rep-2").exists()
    assert took < 10, f"the rep took {took:.1f} s to stop"


# ---- item 9: the service's stdout.log and stderr.log keep their head and tail --------------

def test_service_logs_are_capped_to_head_and_tail(pyab, tmp_path):
    service = ("import sys\n"
               "n = 0\n"
               "def handle(req):\n"
               "    global n\n"
               "    n += 1\n"
               "    line = f'request {n:04d} ' + 'x' * 80 + '\\n'\n"
               "    sys.stdout.write(line * 2000)\n"
               "    sys.stderr.write(line * 2000)\n"
               "    return 200\n")
    sc = scenario(tmp_path, service, workers=1)
    out = tmp_path / "out"
    r = run(pyab, sc, out, "--quiet")
    assert r.returncode == 0, r.stderr
    rep_dir = out / "arms" / "base" / "rep-1"
    logs = load_json(rep_dir / "rep.json")["logs"]
    for name in ("stdout.log", "stderr.log"):
        data = (rep_dir / name).read_text()
        written = 40 * 2000 * 94
        assert logs[name]["bytes_written"] == written, logs
        cut = logs[name]["bytes_cut"]
        assert len(data) == written - cut + len(f"[pyab: {cut} bytes of {written} cut here; "
                                                   "the first and last MiB are kept]\n")
        assert 2 * 1024 * 1024 - 200 < len(data) <= 2 * 1024 * 1024 + 200, len(data)
        lines = data.splitlines()
        assert lines[0].startswith("request 0001 ") and lines[-1].startswith("request 0040 ")
        marks = [x for x in lines if x.startswith("[pyab:")]
        assert marks == [f"[pyab: {cut} bytes of {written} cut here; the first and last MiB "
                         "are kept]"], marks
        # Whole lines on both sides of the cut.
        assert all(len(x) == 93 for x in lines if not x.startswith("[pyab:")), name
    # A quiet service's logs are left alone and say so.
    sc = scenario(tmp_path / "quiet", workers=1)
    r = run(pyab, sc, tmp_path / "out-quiet", "--quiet")
    logs = load_json(tmp_path / "out-quiet" / "arms" / "base" / "rep-1" / "rep.json")["logs"]
    assert logs["stdout.log"] == {"bytes_written": 0, "bytes_cut": 0}, logs


# ---- item 9: limits.rss_mb is checked on every sample, and sent at once --------------------

PEAK = """
import json, resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
# The largest RSS any descendant reached (the kernel's figure, not a sample).
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


def test_rss_limit_overshoots_by_little(pyab, tmp_path, sanitized):
    """5 MB kept per request, 4 workers, a sample every request and a timer
    sample only every second: the work-driven samples used to wait in their
    batch (16 KiB of rows, ~100 samples) and the child reached ~810 MB
    against 200; now a sample past the limit goes out at once."""
    if sanitized:
        pytest.skip("RSS under ASan is the sanitizer's")
    service = ("keep = []\n"
               "def handle(req):\n"
               "    keep.append(bytearray(5 * 1024 * 1024))\n"
               "    return 200\n")
    sc = scenario(tmp_path, service, requests=300, workers=4, limits={"rss_mb": 200},
                  sample={"interval_ms": 1000, "every_requests": 1})
    out = tmp_path / "out"
    r = subprocess.run(["/usr/bin/python3", "-c", PEAK, pyab, "run", str(sc), "--out", str(out),
                        "--no-report", "--no-history", "--quiet"],
                       capture_output=True, text=True, timeout=120)
    peak_mb = int(r.stdout) / 1048576
    rep = load_json(out / "summary.json")["arms"]["base"]["reps"][0]
    assert rep["outcome"] == "over-limit", rep
    assert "passed limits.rss_mb 200" in rep["reason"], rep["reason"]
    # 200-208 MB on a quiet machine, up to 267 MB with one core busy; 807-822 MB before.
    assert peak_mb < 200 + 150, f"the child reached {peak_mb:.0f} MB against limits.rss_mb 200"


def test_hang_while_importing_is_bad_input_with_the_frame(pyab, tmp_path):
    """A service stuck while importing cannot be measured by any rep: exit 2
    after the first, and the reason names the frame it is stuck in."""
    (tmp_path / "svc.py").write_text("import time\ntime.sleep(100)\n\n\ndef handle(req):\n"
                                     "    return None\n")
    (tmp_path / "t.jsonl").write_text('{"t": 0, "route": "/a"}\n')
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"name": "hang", "app": {"path": "svc.py"}, "trace": "t.jsonl",
                             "reps": 3, "limits": {"stall_seconds": 1}}))
    t0 = time.monotonic()
    r = run_pyab(pyab, ["run", str(p), "--out", str(tmp_path / "out"), "--no-history",
                        "--no-report"])
    assert r.returncode == 2, r.stderr
    assert "hung while importing" in r.stderr and 'svc.py", line 2' in r.stderr, r.stderr
    assert time.monotonic() - t0 < 30, "only the first rep runs"
    assert not (tmp_path / "out" / "arms" / "base" / "rep-2").exists()


def test_second_sigint_kill_names_the_frame(pyab, tmp_path):
    """Ctrl-C twice kills the rep; the stacks are dumped first, so the reason
    says where the service was (here: sleeping inside the handler)."""
    service = "import time\ndef handle(req):\n    time.sleep(30)\n"
    sc = scenario(tmp_path, service, workers=1,
                  load={"model": "closed", "users": 1, "requests": 10})
    out = tmp_path / "out"
    p = start_first_rep(pyab, sc, out)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, stderr = p.communicate(timeout=30)
    assert p.returncode == 130, stderr
    rep = load_json(out / "summary.json")["arms"]["base"]["reps"][0]
    assert rep["outcome"] == "interrupted", rep
    assert 'service.py", line 3' in rep["reason"], rep["reason"]
