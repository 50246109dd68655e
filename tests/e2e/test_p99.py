"""One p99 per arm (issue 13, item 10): the quantile of the merged latency
histogram of the arm's ok reps (summary.json arms.<arm>.latency_ms.p99).
The run table, the comparison's "arm p99" line and the report's arm table
show that figure; the comparison's test, which works on per-rep values,
is labelled as the mean of the reps' p99s."""
import json
import re

from conftest import load_json, run_pyab


def test_one_p99_per_arm(pyab, tmp_path):
    (tmp_path / "service.py").write_text(
        "import os, time\nSLOW = float(os.environ.get('SLOW', '0'))\n"
        "def handle(req):\n    time.sleep(SLOW)\n")
    with open(tmp_path / "trace.jsonl", "w") as f:
        for i in range(60):
            f.write(json.dumps({"t": i * 0.001, "route": "/a"}) + "\n")
    sc = {"name": "p99", "app": {"path": "service.py"}, "trace": "trace.jsonl",
          "load": {"model": "closed", "users": 1, "requests": 60}, "workers": 1, "reps": 2,
          "arms": {"fast": {}, "slow": {"env": {"SLOW": "0.002"}}}}
    (tmp_path / "scenario.json").write_text(json.dumps(sc))
    out = tmp_path / "out"
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(out), "--no-history"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = load_json(out / "summary.json")
    arm_p99 = {a: summary["arms"][a]["latency_ms"]["p99"] for a in ("fast", "slow")}
    fig = summary["comparisons"][0]["figures"]["latency_p99_ms"]
    assert fig["control_pooled"] == arm_p99["fast"] and fig["arm_pooled"] == arm_p99["slow"], fig

    # The run table's p99 column and the comparison's arm line print the same numbers.
    run_table = {m.group(1): m.group(2) for m in
                 re.finditer(r"^(fast|slow)\s+\d+/\d+\s+\S+\s+\S+\s+(\S+)", r.stdout, re.M)}
    line = re.search(r"arm p99 \(all ok reps' requests in one histogram, as in the run table\): "
                     r"control (\S+) ms, arm (\S+) ms", r.stdout)
    assert line, r.stdout
    assert run_table == {"fast": line.group(1), "slow": line.group(2)}, (run_table, line.group(0))
    assert "latency_p99_ms (mean of reps)" in r.stdout, r.stdout

    # The report carries the same figures for its arm table and its comparison note.
    html = (out / "report.html").read_text()
    assert '"control_pooled":' in html
