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
def sanitized(pyab):
    """True for an ASan/UBSan build: malloc is the sanitizer's, so figures
    that measure memory (RSS, mallinfo, preloaded allocators) mean nothing."""
    out = subprocess.run([pyab, "version"], capture_output=True, text=True).stdout
    return "sanitize none" not in out


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
