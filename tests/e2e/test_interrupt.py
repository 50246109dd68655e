"""Ctrl-C in the middle of an experiment: pyab stops cleanly and every file
it leaves is valid: the finished reps whole, the interrupted one's curve up
to the signal, summary.json with status "interrupted"."""
import csv
import json
import signal
import subprocess
import time

from conftest import load_json


def test_sigint_leaves_valid_files(pyab, tmp_path):
    (tmp_path / "service.py").write_text("import time\ndef handle(req):\n    time.sleep(0.001)\n")
    with open(tmp_path / "trace.jsonl", "w") as f:
        for i in range(100):
            f.write(json.dumps({"t": i * 0.01, "route": "/a"}) + "\n")
    sc = {"name": "interrupt", "app": {"path": "service.py"}, "trace": "trace.jsonl",
          "load": {"model": "closed", "users": 1, "requests": 1000000}, "workers": 1,
          "sample": {"interval_ms": 10}, "reps": 3, "arms": {"a": {}, "b": {}}}
    (tmp_path / "scenario.json").write_text(json.dumps(sc))
    out = tmp_path / "out"
    p = subprocess.Popen([pyab, "run", "scenario.json", "--out", str(out), "--no-report"],
                         cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=30)
    assert p.returncode == 130, stderr
    summary = load_json(out / "summary.json")
    assert summary["status"] == "interrupted"
    reps = summary["arms"]["a"]["reps"]
    assert len(reps) == 1 and reps[0]["outcome"] == "interrupted"
    assert reps[0]["requests"] > 0
    rows = list(csv.DictReader(open(out / "arms" / "a" / "rep-1" / "samples.csv")))
    assert len(rows) > 10
    assert rows[-1]["phase"] == "quiesce" and rows[-2]["phase"] == "end"
    assert not list(out.rglob("*.part")) and not list(out.rglob("*.tmp*"))
    for path in out.rglob("*.json"):
        load_json(path)
    for path in out.rglob("*.jsonl"):
        for line in open(path):
            json.loads(line)
    assert summary["arms"]["b"]["reps"] == []
