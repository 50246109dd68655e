"""The schema of an e2e case's expect.json, and the validator that holds
every case to it (test_cases.py documents what each key means).

test_cases.py reads expect.json with .get() and applies a check's
operators only when they are there, so a misspelt key ("exit_cod",
"equal") or a check with no operator at all would be ignored and the case
would pass having checked nothing. This module makes those errors:

  - a key that is not in the schema, at the top or in a check;
  - a check without exactly one operator (between, equals, contains,
    abs_below), since test_cases.py documents one and the driver would
    silently apply all of several;
  - a value of the wrong type, or an empty list where one is allowed.

It uses only the standard library (the tests run under Debian's
/usr/bin/python3, which has no jsonschema). Run it by hand with
`python3 tests/e2e/expect_schema.py [expect.json ...]`.
"""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"


class ExpectError(ValueError):
    """An expect.json that is missing, not JSON, or not in the schema."""


def _is_number(v):
    # bool is an int in Python, but true is no bound, timeout or exit code.
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _strings(v):
    if not isinstance(v, list) or not v:
        return "a non-empty list of strings"
    if not all(isinstance(s, str) and s for s in v):
        return "a list of non-empty strings"
    return None


def _path(v):
    # conftest.dig splits on dots: an empty part can only be a typo.
    if not isinstance(v, str) or not all(v.split(".")):
        return "a dotted path such as arms.base.verdict, with no empty part"
    return None


def _reason(v):
    if not isinstance(v, str) or not v.strip():
        return "a sentence saying why the check is meaningless in an ASan/UBSan build"
    return None


def _between(v):
    if not (isinstance(v, list) and len(v) == 2 and all(map(_is_number, v)) and v[0] <= v[1]):
        return "[lo, hi], two numbers with lo <= hi"
    return None


def _abs_below(v):
    if not _is_number(v) or v <= 0:
        return "a positive number"
    return None


def _contains(v):
    if not isinstance(v, str):
        return "a string"
    return None


def _any(v):
    return None


# Each key maps to a function that returns None for a good value, or what
# the value should have been.
OPERATORS = {"between": _between, "equals": _any, "contains": _contains, "abs_below": _abs_below}
CHECK_KEYS = {"path": _path, "measures_memory": _reason, **OPERATORS}


def _checks(v):
    if not isinstance(v, list) or not v:
        return "a non-empty list of checks"
    return None


TOP_KEYS = {
    "args": _strings,
    "exit_code": lambda v: None if _is_int(v) and 0 <= v <= 255 else "an integer in 0..255",
    "stderr_contains": _strings,
    "checks": _checks,
    "manifest_checks": _checks,
    "files": _strings,
    "timeout": lambda v: None if _is_number(v) and v > 0 else "a positive number of seconds",
    "measures_memory": lambda v: None if v is True else _reason(v),
}


def _unknown(obj, known, where):
    return [f"{where}unknown key {k!r} (known: {', '.join(sorted(known))})"
            for k in obj if k not in known]


def _values(obj, schema, where):
    errors = []
    for key, value in obj.items():
        want = schema[key](value) if key in schema else None
        if want:
            errors.append(f"{where}{key} = {value!r}, expected {want}")
    return errors


def validate_check(chk, where):
    """The errors of one check, each starting with where it is."""
    if not isinstance(chk, dict):
        return [f"{where}: expected an object with a path and one operator"]
    errors = _unknown(chk, CHECK_KEYS, f"{where}: ")
    errors += _values(chk, CHECK_KEYS, f"{where}.")
    if "path" not in chk:
        errors.append(f"{where}: no path")
    ops = [k for k in OPERATORS if k in chk]
    if len(ops) != 1:
        errors.append(f"{where}: has {len(ops)} operators ({', '.join(ops) or 'none'}); "
                      f"a check needs exactly one of {', '.join(sorted(OPERATORS))}")
    return errors


def validate(doc):
    """Every error in one parsed expect.json; an empty list when it is good."""
    if not isinstance(doc, dict):
        return ["expected a JSON object"]
    errors = _unknown(doc, TOP_KEYS, "") + _values(doc, TOP_KEYS, "")
    for key in ("checks", "manifest_checks"):
        if isinstance(doc.get(key), list):
            for i, chk in enumerate(doc[key]):
                errors += validate_check(chk, f"{key}[{i}]")
    return errors


def load(path):
    """The parsed expect.json at path, or ExpectError saying all that is wrong with it."""
    path = pathlib.Path(path)
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        raise ExpectError(f"{path}: cannot be read: {e.strerror}") from None
    except ValueError as e:
        raise ExpectError(f"{path}: is not JSON: {e}") from None
    errors = validate(doc)
    if errors:
        raise ExpectError(f"{path} does not match the schema in tests/e2e/expect_schema.py:\n  "
                          + "\n  ".join(errors))
    return doc


def case_dirs(root=CASES_DIR):
    """Every case folder: a folder there without expect.json is a broken case, not no case."""
    return sorted(p for p in pathlib.Path(root).iterdir()
                  if p.is_dir() and not p.name.startswith((".", "__")))


def main(argv):
    paths = argv or [d / "expect.json" for d in case_dirs()]
    bad = 0
    for p in paths:
        try:
            load(p)
        except ExpectError as e:
            print(e, file=sys.stderr)
            bad += 1
    print(f"{len(paths) - bad} of {len(paths)} expect.json files match the schema")
    return 1 if bad or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
