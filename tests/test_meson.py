"""Runs every test registered with meson (the C unit tests and the report
tests) as one pytest case each, so one runner reports the whole suite."""
import json
import os
import subprocess

import pytest

from conftest import BUILD


def meson_tests():
    try:
        out = subprocess.run(["meson", "introspect", "--tests", str(BUILD)],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    # The fuzz suite runs for seconds per target and is run on its own
    # (`meson test --suite fuzz`), as the default test setup leaves it out.
    return [t for t in json.loads(out) if not any(s.endswith(":fuzz") or s == "fuzz"
                                                   for s in t["suite"])]


TESTS = meson_tests()


@pytest.mark.parametrize("test", TESTS, ids=[f"{t['suite'][0].split(':')[-1]}/{t['name']}"
                                             for t in TESTS])
def test_meson(test):
    env = dict(os.environ)
    env.update(test.get("env") or {})
    r = subprocess.run(test["cmd"], cwd=test.get("workdir") or str(BUILD), env=env,
                       capture_output=True, text=True, timeout=test.get("timeout") or 300)
    if r.returncode == 77:
        pytest.skip("skipped by the test itself")
    assert r.returncode == 0, f"{test['name']} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"


def test_meson_tests_found():
    assert len(TESTS) >= 5, "meson introspect found no tests: is the build set up?"
