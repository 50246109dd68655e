"""An open loop the service cannot keep up with drops requests (later than
max_in_flight allows); the terminal says so under the arm's verdict, since
the load the verdict saw was lighter than the trace's (a QA pass found the
drops only in summary.json)."""
import json

from conftest import load_json, run_pyab

SERVICE = "import time\n\ndef handle(req):\n    time.sleep(0.002)\n"


def test_dropped_requests_are_reported(pyab, tmp_path):
    (tmp_path / "service.py").write_text(SERVICE)
    (tmp_path / "trace.jsonl").write_text(
        "".join(json.dumps({"t": i * 0.0002, "route": "/r", "body": {}}) + "\n" for i in range(2000)))
    sc = {"name": "drops", "app": {"path": "service.py", "handler": "handle"},
          "trace": "trace.jsonl", "load": {"model": "open"}, "workers": 1, "max_in_flight": 4}
    (tmp_path / "s.json").write_text(json.dumps(sc))
    r = run_pyab(pyab, ["run", str(tmp_path / "s.json"), "--out", str(tmp_path / "o"), "--no-report"])
    assert r.returncode == 0, r.stderr
    rep = load_json(tmp_path / "o" / "summary.json")["arms"]["base"]["reps"][0]
    assert rep["dropped"] > 500, rep  # 0.4 s of trace, ~2 ms a request: most cannot run
    assert "%d of %d requests dropped in 1 rep" % (rep["dropped"], rep["dropped"] + rep["requests"]) \
        in r.stdout, r.stdout
