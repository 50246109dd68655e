"""The `sanitized` fixture fails closed: conftest.build_sanitize reads the
real pyab, and gives None (so the fixture errors) for every pyab that cannot
say how it was built, instead of a guess that skips or fails memory checks."""
import stat

import pytest

from conftest import build_sanitize


def fake_pyab(tmp_path, body):
    exe = tmp_path / "pyab"
    exe.write_text("#!/bin/sh\n" + body + "\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


def test_real_pyab_says_how_it_was_built(pyab):
    sanitize, why = build_sanitize(pyab)
    assert isinstance(sanitize, str) and sanitize, why


@pytest.mark.parametrize("body, why", [
    ("echo 'no such command' >&2; exit 2", "it exited 2"),
    ("echo 'sanitize none'", "not JSON"),
    ("echo '{\"pyab\": \"0.1.0\"}'", "no \"sanitize\" string"),
    ("echo '{\"sanitize\": \"\"}'", "no \"sanitize\" string"),
    ("echo '[\"sanitize\"]'", "no \"sanitize\" string"),
], ids=["fails", "old-text", "no-key", "empty", "not-object"])
def test_unreadable_build_is_no_guess(tmp_path, body, why):
    sanitize, reason = build_sanitize(fake_pyab(tmp_path, body))
    assert sanitize is None and why in reason, reason


def test_missing_pyab_is_no_guess(tmp_path):
    sanitize, reason = build_sanitize(str(tmp_path / "absent"))
    assert sanitize is None and "did not run" in reason
