"""`pyab report` on folders `pyab compare` handles (issue 13, item 3): a run
whose parent was killed with SIGKILL mid-rep, and a rep with garbage in its
samples.csv or events.jsonl. The report draws what is readable and lists the
skipped reps with their reasons; a killed run reads "cut-off"."""
import json
import os
import re
import signal
import subprocess
import time

from conftest import load_json, run_pyab


def series(html):
    """The pyab-series block of a report.html, as JSON."""
    m = re.search(r'<script type="application/json" id="pyab-series">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def summary_block(html):
    m = re.search(r'<script type="application/json" id="pyab-summary">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def make_scenario(tmp, requests, reps):
    (tmp / "service.py").write_text("import time\ndef handle(req):\n    time.sleep(0.001)\n")
    with open(tmp / "trace.jsonl", "w") as f:
        for i in range(50):
            f.write(json.dumps({"t": i * 0.01, "route": "/a"}) + "\n")
    sc = {"name": "folders", "app": {"path": "service.py"}, "trace": "trace.jsonl",
          "load": {"model": "closed", "users": 1, "requests": requests}, "workers": 1,
          "sample": {"interval_ms": 10}, "reps": reps, "arms": {"a": {}, "b": {}}}
    (tmp / "scenario.json").write_text(json.dumps(sc))


def age(folder, seconds):
    """Makes every file look written `seconds` ago (a run killed a while back)."""
    past = time.time() - seconds
    for root, _, files in os.walk(folder):
        for name in files:
            os.utime(os.path.join(root, name), (past, past))


def holders(folder):
    """Pids of processes with a file under folder open (the child's logs)."""
    prefix, pids = str(folder.resolve()) + "/", set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)).startswith(prefix):
                    pids.add(pid)
        except OSError:
            pass
    return pids


def test_report_and_compare_after_sigkill(pyab, tmp_path):
    make_scenario(tmp_path, requests=1000, reps=3)
    out = tmp_path / "out"
    p = subprocess.Popen([pyab, "run", "scenario.json", "--out", str(out), "--no-report",
                          "--no-history", "--quiet"], cwd=tmp_path,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Wait for a finished rep (summary.json) and a running one with samples.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts = [x for x in out.rglob("samples.csv.part") if x.stat().st_size > 1500]
        if (out / "summary.json").exists() and parts:
            break
        time.sleep(0.005)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    assert parts, "no rep was running when pyab was killed"
    # The child notices its parent's death (PDEATHSIG) and ends, closing its logs.
    deadline = time.monotonic() + 30
    while holders(out) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not holders(out), holders(out)
    assert load_json(out / "summary.json")["status"] == "running"
    age(out, 120)

    r = run_pyab(pyab, ["report", str(out)])
    assert r.returncode == 0, r.stderr
    html = (out / "report.html").read_text()
    assert summary_block(html)["status"] == "cut-off"
    assert "the run was cut off" in summary_block(html)["status_note"]
    unlisted = [rep for a in series(html)["arms"] for rep in a["reps"] if rep.get("unlisted")]
    assert len(unlisted) == 1 and unlisted[0]["partial"] is True and unlisted[0]["samples"] >= 5, unlisted

    r = run_pyab(pyab, ["compare", str(out)])
    assert r.returncode == 0, r.stderr
    assert "the run was cut off" in r.stdout, r.stdout
    assert load_json(out / "summary.json")["status"] == "cut-off"


def test_report_skips_unreadable_reps_as_compare_does(pyab, tmp_path):
    make_scenario(tmp_path, requests=60, reps=3)
    out = tmp_path / "out"
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(out), "--no-report", "--no-history",
                        "--quiet"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (out / "arms" / "a" / "rep-2" / "samples.csv").write_text("garbage,\x00\n1,2,3\n")
    (out / "arms" / "b" / "rep-3" / "events.jsonl").write_text("{\"gen\": 0, \"t_s\": 0.1}\nnot json\n")

    r = run_pyab(pyab, ["compare", str(out)])
    assert r.returncode == 0, r.stderr
    r = run_pyab(pyab, ["report", str(out)])
    assert r.returncode == 0, r.stderr
    arms = {a["name"]: a for a in series((out / "report.html").read_text())["arms"]}
    a2 = [x for x in arms["a"]["reps"] if x["rep"] == 2][0]
    b3 = [x for x in arms["b"]["reps"] if x["rep"] == 3][0]
    assert "samples.csv:1:" in a2["skipped"] and "t" not in a2, a2
    assert "events.jsonl:" in b3["skipped"], b3
    drawn = [x for a in arms.values() for x in a["reps"] if "t" in x]
    assert len(drawn) == 4, [x["rep"] for x in drawn]
    # compare's reasons are in the summary the page shows beside them.
    reps = load_json(out / "summary.json")["arms"]["a"]["reps"]
    assert "samples.csv:1:" in reps[1]["analysis_skipped"]
