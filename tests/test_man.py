"""The man page (issue 13, item 9): meson installs harness/pyab.1, it renders
without warnings, and it names every verb, the exit codes and the main
scenario keys with their defaults."""
import json
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT

MAN = ROOT / "harness" / "pyab.1"


def rendered():
    """The page as text: groff when present, else man -l, else the roff source."""
    if shutil.which("groff"):
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", str(MAN)], capture_output=True,
                           text=True, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr
        return re.sub(r".\x08", "", r.stdout)
    if shutil.which("man"):
        r = subprocess.run(["man", "-l", str(MAN)], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", "MANPAGER": "cat", "PAGER": "cat"})
        assert r.returncode == 0, r.stderr
        return r.stdout
    return MAN.read_text().replace("\\-", "-")


def test_man_page_is_installed():
    r = subprocess.run(["meson", "introspect", "--installed", str(BUILD)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"meson introspect failed: {r.stderr[-300:]}")
    installed = json.loads(r.stdout)
    assert str(MAN) in installed, installed
    assert installed[str(MAN)].endswith("/man1/pyab.1"), installed[str(MAN)]


def test_man_page_renders_with_verbs_exit_codes_and_keys():
    text = rendered()
    flat = " ".join(text.split())
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS",
                    "SCENARIO KEYS"):
        assert re.search(rf"^{section}$", text, re.M), section
    # Every verb `pyab help` knows (cmd/help.c), and the trace sub-verbs.
    verbs = re.findall(r'^    \{"(\w+)",$', (ROOT / "harness" / "cmd" / "help.c").read_text(),
                       re.M)
    assert len(verbs) >= 9, verbs
    for verb in verbs + ["trace import", "trace info", "trace synth"]:
        assert f"pyab {verb}" in flat, verb
    # Every flag a verb's --help lists (cmd/help.c).
    flags = set(re.findall(r"--[a-z][a-z-]+", (ROOT / "harness" / "cmd" / "help.c").read_text()))
    assert {"--out", "--until-settled", "--baseline", "--shard"} <= flags, flags
    for flag in sorted(flags):
        assert flag in flat, flag
    for code in ("0", "1", "2", "3", "130"):
        assert re.search(rf"^ +{code}\s", text, re.M), f"exit code {code}"
    for key, default in [("load.model", "open"), ("workers", "4"), ("max_in_flight", "1024"),
                         ("sample.interval_ms", "100"), ("timeout_ms", "10000"),
                         ("limits.max_error_share", "0.5"), ("load.share", "1"),
                         ("analysis.confidence", "0.95")]:
        keys = flat[flat.find("SCENARIO KEYS"):]
        at = keys.find(key)
        assert at >= 0, key
        assert default in keys[at:at + 200], (key, default, keys[at:at + 200])
