"""Shared fixtures: where the built pyab is, and how to run it.

The tests use Debian's /usr/bin/python3 (the interpreter pyab embeds is
Debian's libpython; a pyenv python3 first on PATH is a different one).
"""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("PYAB_BUILD", ROOT / "build"))


@pytest.fixture(scope="session")
def pyab():
    exe = BUILD / "harness" / "pyab"
    if not exe.exists():
        pytest.fail("pyab is not built: run ./setup.sh build")
    return str(exe)


@pytest.fixture(scope="session")
def pg_server():
    """A private PostgreSQL server (tests/pgserver.py) for the session;
    the tests asking for it are skipped, with the reason, without one."""
    import pgserver
    server, why = pgserver.start()
    if server is None and os.environ.get("PYAB_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PYAB_REQUIRE_POSTGRES=1 and no PostgreSQL server: {why}", pytrace=False)
    if server is None:
        pytest.skip(why)
    yield server
    server.stop()


def build_sanitize(pyab):
    """The "sanitize" of `pyab version --json` ("none" for a plain build) and
    None, or None and why it could not be read."""
    try:
        r = subprocess.run([pyab, "version", "--json"], capture_output=True, text=True,
                           timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"it did not run: {e}"
    if r.returncode != 0:
        return None, f"it exited {r.returncode}: {r.stderr[-500:]!r}"
    try:
        v = json.loads(r.stdout)
    except ValueError as e:
        return None, f"its output is not JSON ({e}): {r.stdout[-500:]!r}"
    s = v.get("sanitize") if isinstance(v, dict) else None
    if not isinstance(s, str) or not s:
        return None, f"its output has no \"sanitize\" string: {r.stdout[-500:]!r}"
    return s, None


@pytest.fixture(scope="session")
def sanitized(pyab):
    """True for an ASan/UBSan build: malloc is the sanitizer's, so figures
    that measure memory (RSS, mallinfo, preloaded allocators) mean nothing.

    Fails closed: when pyab cannot say how it was built, every test asking
    errors. Guessing "sanitized" would quietly skip the memory checks of a
    plain build; guessing "plain" would fail them in an ASan build for a
    reason nobody would look for."""
    sanitize, why = build_sanitize(pyab)
    if sanitize is None:
        pytest.fail(f"cannot tell whether {pyab} is an ASan/UBSan build from "
                    f"`pyab version --json`: {why}", pytrace=False)
    return sanitize != "none"


def run_pyab(pyab, args, cwd=None, timeout=180, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([pyab] + list(args), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def dig(obj, path):
    for part in path.split("."):
        if isinstance(obj, list):
            obj = obj[int(part)]
        else:
            obj = obj[part]
    return obj
