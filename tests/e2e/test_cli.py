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
    assert r.returncode == 2 and "is a folder, not a scenario file" in r.stderr


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
