"""The command line's own bad input: each gets a clear message and exit 2,
and nothing is written."""
import json

from conftest import run_pyab


def scenario(tmp_path, **extra):
    (tmp_path / "service.py").write_text("def handle(req):\n    return 200\n")
    (tmp_path / "trace.jsonl").write_text('{"t": 0, "route": "/a"}\n')
    sc = {"name": "cli", "app": {"path": "service.py"}, "trace": "trace.jsonl"}
    sc.update(extra)
    (tmp_path / "scenario.json").write_text(json.dumps(sc))
    return tmp_path / "scenario.json"


def test_folder_as_scenario(pyab, tmp_path):
    r = run_pyab(pyab, ["run", str(tmp_path)])
    assert r.returncode == 2 and "is a folder, not a file" in r.stderr


def test_unknown_flag(pyab, tmp_path):
    r = run_pyab(pyab, ["run", str(scenario(tmp_path)), "--colour"])
    assert r.returncode == 2 and "unknown flag --colour" in r.stderr


def test_results_folder_must_be_new(pyab, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    r = run_pyab(pyab, ["run", str(scenario(tmp_path)), "--out", str(out), "--quiet"])
    assert r.returncode == 2 and "exists and is not empty" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_byte_order_mark_is_accepted(pyab, tmp_path):
    path = scenario(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    r = run_pyab(pyab, ["run", str(path), "--out", str(tmp_path / "out"), "--quiet",
                        "--no-report", "--no-history"])
    assert r.returncode == 0, r.stderr


def test_run_writes_history_beside_the_results(pyab, tmp_path):
    r = run_pyab(pyab, ["run", str(scenario(tmp_path)), "--out", str(tmp_path / "res" / "one"),
                        "--quiet", "--no-report"])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "res" / "history.sqlite").exists()
    h = run_pyab(pyab, ["history", "cli", "--db", str(tmp_path / "res" / "history.sqlite")])
    assert h.returncode == 0 and "throughput_rps" in h.stdout


DAEMON = r'''
import os, time
n = 0
def handle(req):
    global n
    n += 1
    time.sleep(0.0001)
    if n == 50 and os.fork() == 0:
        os.setsid()                    # escapes the child's process group
        if os.fork():
            os._exit(0)
        with open(os.environ["PIDFILE"], "w") as f:
            f.write(str(os.getpid()))
        while True:
            time.sleep(0.2)
'''


def test_daemonised_process_is_stopped_with_the_rep(pyab, tmp_path):
    import os
    import time
    path = scenario(tmp_path, load={"model": "closed", "users": 1, "requests": 3000},
                    env={"PIDFILE": str(tmp_path / "daemon.pid")})
    (tmp_path / "service.py").write_text(DAEMON)
    r = run_pyab(pyab, ["run", str(path), "--out", str(tmp_path / "out"), "--no-report",
                        "--no-history"], timeout=60)
    assert r.returncode == 0, r.stderr
    assert "left processes running" in r.stderr
    for _ in range(50):
        if (tmp_path / "daemon.pid").exists():
            break
        time.sleep(0.05)
    pid = int((tmp_path / "daemon.pid").read_text())
    assert not os.path.exists("/proc/%d" % pid) or \
        open("/proc/%d/stat" % pid).read().split(")")[1].split()[0] == "Z"


def test_check_refuses_a_used_results_folder(pyab, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "check.json").write_text("{}")
    r = run_pyab(pyab, ["check", str(scenario(tmp_path)), "--out", str(out)])
    assert r.returncode == 2 and "exists and is not empty" in r.stderr
    assert (out / "check.json").read_text() == "{}"


def test_trace_with_byte_order_mark(pyab, tmp_path):
    path = scenario(tmp_path)
    (tmp_path / "trace.jsonl").write_bytes(b'\xef\xbb\xbf{"t": 0, "route": "/a"}\n')
    r = run_pyab(pyab, ["run", str(path), "--out", str(tmp_path / "out"), "--quiet",
                        "--no-report", "--no-history"])
    assert r.returncode == 0, r.stderr
