"""Failed arms read clearly (issue 13, item 7): the outcome and reason of
each crashed, timed-out or over-limit rep under its arm's row of the
terminal verdict table, and on the arm's card in the report; an arm killed
at limits.rss_mb reads as a finding about memory."""
import json
import re
import shutil

from conftest import ROOT, run_pyab

CASE = ROOT / "tests" / "e2e" / "cases" / "faulty-arms"


def test_failed_reps_are_named_under_their_arm(pyab, tmp_path, sanitized):
    for name in ("service.py", "trace.jsonl"):
        shutil.copy(CASE / name, tmp_path / name)
    sc = json.loads((CASE / "scenario.json").read_text())
    sc["reps"] = 1
    sc["limits"]["run_seconds"] = 2
    sc["arms"] = {k: v for k, v in sc["arms"].items() if k in ("fine", "crash", "hog", "hang")}
    (tmp_path / "scenario.json").write_text(json.dumps(sc))
    out = tmp_path / "out"
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(out), "--quiet", "--no-history"],
                 cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_pyab(pyab, ["compare", str(out)])
    assert r.returncode == 0, r.stderr
    text = r.stdout[:r.stdout.index("(* control")]  # the verdict table
    # Each failed rep sits under its own arm's row, with its reason.
    rows = {m.group(1): m.start() for m in re.finditer(r"^(fine|crash|hang|hog)\b", text, re.M)}
    assert set(rows) == {"fine", "crash", "hang", "hog"}, text

    def block(arm):
        start = rows[arm]
        ends = [v for v in rows.values() if v > start] + [len(text)]
        return text[start:min(ends)]

    if not sanitized:  # ASan turns the signal into exit status 1
        assert re.search(r"\n    rep 1 crashed: killed by signal 11 \(SIGSEGV\)", block("crash")), text
    else:
        assert "\n    rep 1 crashed: " in block("crash"), text
    assert "\n    rep 1 timeout: " in block("hang"), text
    assert re.search(r"\n    rep 1 over-limit: RSS [0-9.]+ MB passed limits.rss_mb 250 \(a finding "
                     r"about memory", block("hog")), text
    assert "\n    rep 1 " not in block("fine"), text

    # The report's data carries what the cards show (the page is checked in browser_test.py).
    html = (out / "report.html").read_text()
    assert "passed limits.rss_mb 250" in html
