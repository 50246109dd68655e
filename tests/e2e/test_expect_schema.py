"""Every case's expect.json matches the schema in expect_schema.py, and the
validator itself rejects what it is there to reject (so it cannot pass by
accepting everything)."""
import copy

import pytest

import expect_schema

CASES = expect_schema.case_dirs()

GOOD = {
    "args": ["run", "scenario.json", "--out", "{out}"],
    "exit_code": 2,
    "timeout": 60,
    "stderr_contains": ["bad"],
    "files": ["summary.json"],
    "measures_memory": True,
    "checks": [
        {"path": "arms.base.verdict", "equals": "leak", "measures_memory": "RSS slope"},
        {"path": "arms.base.slope", "between": [1, 2.5]},
        {"path": "arms.base.warnings.0", "contains": "gc"},
        {"path": "arms.base.offset", "abs_below": 50},
        {"path": "arms.base.missing", "equals": None},
    ],
    "manifest_checks": [{"path": "arms./health.2xx", "equals": 408}],
}


def test_cases_found():
    assert CASES, f"no e2e case found under {expect_schema.CASES_DIR}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_expect_json_matches_schema(case):
    try:
        expect_schema.load(case / "expect.json")
        return
    except expect_schema.ExpectError as e:
        why = str(e)
    pytest.fail(why, pytrace=False)


def test_good_document_passes():
    assert expect_schema.validate(GOOD) == []


def with_change(change):
    doc = copy.deepcopy(GOOD)
    change(doc)
    return expect_schema.validate(doc)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(exit_cod=1), "unknown key 'exit_cod'"),
    (lambda d: d["checks"][1].update(equal=3), "checks[1]: unknown key 'equal'"),
    (lambda d: d["checks"][0].pop("equals"), "checks[0]: has 0 operators (none)"),
    (lambda d: d["manifest_checks"][0].update(contains="x"),
     "manifest_checks[0]: has 2 operators (equals, contains)"),
    (lambda d: d["checks"][2].pop("path"), "checks[2]: no path"),
    (lambda d: d["checks"][3].update(path="arms..offset"), "checks[3].path = 'arms..offset'"),
    (lambda d: d["checks"][1].update(between=[3, 1]), "checks[1].between = [3, 1]"),
    (lambda d: d["checks"][1].update(between=[1]), "checks[1].between = [1]"),
    (lambda d: d["checks"][3].update(abs_below="50"), "checks[3].abs_below = '50'"),
    (lambda d: d["checks"][0].update(measures_memory=""), "checks[0].measures_memory = ''"),
    (lambda d: d.update(exit_code=True), "exit_code = True"),
    (lambda d: d.update(timeout=0), "timeout = 0"),
    (lambda d: d.update(stderr_contains="bad"), "stderr_contains = 'bad'"),
    (lambda d: d.update(checks=[]), "checks = [], expected a non-empty list of checks"),
    (lambda d: d["checks"].append("arms.base"), "checks[5]: expected an object"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_malformed_document_is_refused(change, message):
    errors = with_change(change)
    assert any(message in e for e in errors), errors


def test_load_names_the_file_and_every_error(tmp_path):
    p = tmp_path / "expect.json"
    p.write_text('{"exit_cod": 1, "checks": [{"path": "a", "equal": 2}]}')
    with pytest.raises(expect_schema.ExpectError) as e:
        expect_schema.load(p)
    text = str(e.value)
    assert str(p) in text and "unknown key 'exit_cod'" in text
    assert "checks[0]: unknown key 'equal'" in text and "has 0 operators" in text


def test_missing_or_broken_file_is_refused(tmp_path):
    with pytest.raises(expect_schema.ExpectError, match="cannot be read"):
        expect_schema.load(tmp_path / "expect.json")
    (tmp_path / "expect.json").write_text('{"checks": [')
    with pytest.raises(expect_schema.ExpectError, match="is not JSON"):
        expect_schema.load(tmp_path / "expect.json")
