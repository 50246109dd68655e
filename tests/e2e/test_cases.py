"""End-to-end cases as data: each folder under cases/ holds a scenario, a
small service, its trace and expect.json, which says how pyab must exit and
what summary.json must contain. One driver runs them all.

expect.json keys:
  args            pyab arguments (default: run scenario.json --out {out} --quiet --no-report)
  exit_code       expected exit code (default 0)
  stderr_contains list of strings pyab's stderr must contain
  checks          list of {"path": "arms.base.…", and one of "between": [lo, hi],
                  "equals": v, "contains": s, "abs_below": x}
  manifest_checks the same, against manifest.json
  files           files that must exist under the results folder
  timeout         seconds pyab may take (default 180)
  measures_memory on a check: a string saying why that check is meaningless in an
                  ASan/UBSan build (it reads glibc's mallinfo, which does not see ASan's
                  heap; an RSS slope of malloc'd memory, which ASan's quarantine inflates;
                  a preloaded allocator, which cannot come before ASan's runtime; a
                  crash signal, which ASan catches). Such checks are skipped there and
                  the test reports them as skipped; pyab still runs the case and every
                  other check, the exit code, stderr and files are still checked.
                  On the case (true): every check of the case measures memory.

expect_schema.py holds every expect.json to exactly these keys: a misspelt
key or a check without its one operator would otherwise check nothing and
pass. A case is refused before pyab runs when its expect.json is malformed,
and the driver fails when it finds no case at all.
"""
import pathlib

import pytest

import expect_schema
from conftest import dig, load_json, run_pyab

HERE = pathlib.Path(__file__).resolve().parent
# Every folder, with or without expect.json: one without is refused below
# rather than left out, so a case cannot vanish from the run unnoticed.
CASES = expect_schema.case_dirs(HERE / "cases")


def check(summary, chk):
    value = dig(summary, chk["path"])
    where = f"{chk['path']} = {value!r}"
    if "between" in chk:
        lo, hi = chk["between"]
        assert value is not None and lo <= value <= hi, f"{where}, expected in [{lo}, {hi}]"
    if "abs_below" in chk:
        assert value is not None and abs(value) < chk["abs_below"], \
            f"{where}, expected |x| < {chk['abs_below']}"
    if "equals" in chk:
        assert value == chk["equals"], f"{where}, expected {chk['equals']!r}"
    if "contains" in chk:
        assert chk["contains"] in value, f"{where}, expected to contain {chk['contains']!r}"


def load_expect(case):
    """The case's expect.json; the test fails, before pyab runs, when it is malformed."""
    try:
        return expect_schema.load(case / "expect.json")
    except expect_schema.ExpectError as e:
        why = str(e)
    # Outside the except clause, so the message is not buried under the chained traceback.
    pytest.fail(f"case {case.name} refused: {why}", pytrace=False)


def test_cases_found():
    # An empty parametrize would be one skipped test, and the run would pass.
    assert CASES, f"no e2e case found under {HERE / 'cases'}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case, pyab, sanitized, tmp_path):
    exp = load_expect(case)
    out = tmp_path / "out"
    args = exp.get("args", ["run", "scenario.json", "--out", "{out}", "--quiet", "--no-report"])
    args = [a.replace("{out}", str(out)) for a in args]
    r = run_pyab(pyab, args, cwd=case, timeout=exp.get("timeout", 180))
    assert r.returncode == exp.get("exit_code", 0), f"exit {r.returncode}\n{r.stderr[-3000:]}"
    for s in exp.get("stderr_contains", []):
        assert s in r.stderr, f"stderr lacks {s!r}:\n{r.stderr[-3000:]}"
    for f in exp.get("files", []):
        assert (out / f).exists(), f"{f} missing"
    skipped = []
    for key, name in (("checks", "summary.json"), ("manifest_checks", "manifest.json")):
        if exp.get(key):
            doc = load_json(out / name)
            for chk in exp[key]:
                why = chk.get("measures_memory") or exp.get("measures_memory")
                if sanitized and why:
                    skipped.append(f"{chk['path']} ({why if isinstance(why, str) else 'measures memory'})")
                    continue
                check(doc, chk)
    if skipped:
        pytest.skip(f"ASan/UBSan build: the other checks passed; skipped {len(skipped)} that "
                    "measure memory: " + "; ".join(skipped))
