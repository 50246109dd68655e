"""Arms that name an interpreter: the debug build's reference total, and
the checks the parent makes on another child before the first rep.

The debug case is regrtest -R's: a C extension that takes one reference per
request and never releases it (tests/e2e/interp/leaky.c) must show as
refcount growth of about 1 per request on a debug-interpreter arm, and
decide that arm's verdict (leak / references), while the same extension
releasing its reference stays flat, and a release arm has no such column.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sysconfig

import pytest

from conftest import BUILD, load_json, run_pyab

HERE = pathlib.Path(__file__).resolve().parent / "interp"
VER = "%d.%d" % tuple(int(x) for x in sysconfig.get_python_version().split("."))


def pkg_config(name, *flags):
    r = subprocess.run(["pkg-config", *flags, name], capture_output=True, text=True)
    return r.stdout.split() if r.returncode == 0 else None


def debug_child():
    """pyab-child-debug, or skip when Debian's debug interpreter is not installed."""
    exe = BUILD / "harness" / "pyab-child-debug"
    if exe.exists():
        return exe
    if pkg_config(f"python-{VER}d-embed", "--exists") is None:
        pytest.skip(f"python-{VER}d-embed is not installed (apt-get install python3-dbg), "
                    "so pyab-child-debug is not built")
    pytest.fail(f"python-{VER}d-embed is installed but {exe} was not built")


def build_extension(folder):
    """leaky.c for the release and the debug interpreter, beside the service."""
    for name, suffix in ((f"python-{VER}", ""), (f"python-{VER}d", "d")):
        cflags = pkg_config(name, "--cflags")
        assert cflags is not None, f"pkg-config {name}: not found"
        tag = "cpython-%sd-x86_64-linux-gnu" % VER.replace(".", "") if suffix else \
            "cpython-%s-x86_64-linux-gnu" % VER.replace(".", "")
        subprocess.run(["gcc", "-shared", "-fPIC", "-O1", *cflags, str(HERE / "leaky.c"),
                        "-o", str(folder / f"leaky.{tag}.so")], check=True)


def test_debug_arm_counts_an_extra_reference_per_request(pyab, tmp_path):
    debug_child()
    build_extension(tmp_path)
    shutil.copy(HERE / "service.py", tmp_path / "service.py")
    with open(tmp_path / "trace.jsonl", "w") as f:
        for i in range(200):
            f.write(json.dumps({"t": i * 0.001, "route": "/r"}) + "\n")
    sc = {"name": "refcount", "app": {"path": "service.py"}, "trace": "trace.jsonl",
          "load": {"model": "closed", "users": 1, "requests": 20000}, "workers": 1,
          "warmup": {"requests": 2000}, "env": {"LEAK": "1"},
          "arms": {"release": {},
                   "debug": {"python": {"build": "debug"}},
                   "debug-fixed": {"python": {"build": "debug"}, "env": {"LEAK": "0"}}}}
    (tmp_path / "scenario.json").write_text(json.dumps(sc))
    out = tmp_path / "out"
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(out), "--no-report"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    s = load_json(out / "summary.json")
    m = load_json(out / "manifest.json")
    assert m["arms"]["debug"]["interpreter"]["python_build"] == "debug"
    assert m["arms"]["release"]["interpreter"]["python_build"] == "release"
    assert s["interpreters"]["debug"]["child"].endswith("pyab-child-debug")
    assert "mix interpreter builds" in s["interpreter_note"]

    debug = s["arms"]["debug"]
    rc = debug["slopes"]["refcount"]
    assert rc["class"] == "grows", rc
    assert 0.9 <= rc["references_per_request"] <= 1.1, rc
    assert rc["ci"][0] > 0.5, rc
    assert debug["verdict"] == "leak" and debug["attribution"] == "references", debug["verdict"]
    assert debug["evidence"]["reasons"][0].startswith("refcount: grows"), debug["evidence"]
    # The reference keeps nothing alive that was not already: no memory grows.
    assert debug["slopes"]["pyheap"]["bytes_per_request"] < 1, debug["slopes"]["pyheap"]
    assert any(line.split()[:3] == ["debug", "leak", "references"]
               for line in r.stdout.splitlines()), r.stdout

    fixed = s["arms"]["debug-fixed"]
    assert fixed["slopes"]["refcount"]["class"] != "grows", fixed["slopes"]["refcount"]
    assert abs(fixed["slopes"]["refcount"]["references_per_request"]) < 0.05
    assert fixed["verdict"] == "no-leak", fixed["evidence"]

    # A release interpreter keeps no total: the column is empty, nothing is judged.
    release = s["arms"]["release"]
    assert "refcount" not in release["slopes"]
    assert release["verdict"] == "no-leak", release["evidence"]
    with open(out / "arms" / "release" / "rep-1" / "samples.csv") as f:
        header, row = f.readline().strip().split(","), f.readline().strip().split(",")
    assert header[-1] == "refcount_total" and row[-1] == ""
    with open(out / "arms" / "debug" / "rep-1" / "samples.csv") as f:
        f.readline()
        assert int(f.readline().strip().split(",")[-1]) > 10000


def fake_child(tmp_path, versions):
    """A program that answers --versions as a pyab-child of another build would."""
    exe = tmp_path / "other-child"
    exe.write_text("#!/bin/sh\necho '%s'\n" % json.dumps(versions))
    exe.chmod(0o755)
    return exe


def scenario_with(tmp_path, python):
    (tmp_path / "service.py").write_text("def handle(r):\n    return 1\n")
    (tmp_path / "trace.jsonl").write_text('{"t": 0, "route": "/"}\n')
    sc = {"name": "other", "app": {"path": "service.py"}, "trace": "trace.jsonl",
          "arms": {"own": {}, "other": {"python": python}}}
    (tmp_path / "scenario.json").write_text(json.dumps(sc))


def own_versions():
    r = subprocess.run([str(BUILD / "harness" / "pyab-child"), "--versions"],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def test_refuses_a_child_of_another_pyab_version(pyab, tmp_path):
    v = own_versions()
    v["pyab"] = "0.0.1"
    scenario_with(tmp_path, {"child": str(fake_child(tmp_path, v))})
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "arm other (python.child)" in r.stderr
    assert "built from pyab 0.0.1" in r.stderr and "this is pyab %s" % own_versions()["pyab"] \
        in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_refuses_a_child_built_from_other_sources(pyab, tmp_path):
    v = own_versions()
    ours = v["core_id"]
    v["core_id"] = "000000000000"
    scenario_with(tmp_path, {"child": str(fake_child(tmp_path, v))})
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    theirs, mine = r.stderr.split("and this is")
    assert "core 000000000000" in theirs and "core %s" % ours in mine, r.stderr
    assert not (tmp_path / "out").exists()


def test_child_whose_interpreter_does_not_start(pyab, tmp_path):
    """A home without the stdlib: the child's interpreter cannot start; exit 2 before any rep."""
    (tmp_path / "emptyhome").mkdir()
    scenario_with(tmp_path, {"child": str(BUILD / "harness" / "pyab-child"),
                             "home": str(tmp_path / "emptyhome")})
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "the interpreter did not start" in r.stderr and "emptyhome" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("python, words", [
    ({"runtime": "nowhere"}, ['key "arms.other.python.runtime"', "nowhere",
                              "tools/runtime.sh SUITE"]),
    ({"runtime": ".", "child": "x"}, ['key "arms.other.python.runtime"', 'does not go with']),
    ({"home": "."}, ['key "arms.other.python.home"', 'needs "child"']),
    ({"build": "fast"}, ['key "arms.other.python.build"']),
    ({"child": "missing-child"}, ['key "arms.other.python.child"', "missing-child"]),
])
def test_bad_interpreter_keys(pyab, tmp_path, python, words):
    scenario_with(tmp_path, python)
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)
    assert "scenario.json" in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("script, words", [
    ("exit 3", ["exited 3 without printing its versions"]),
    ("kill -SEGV $$", ["killed by signal 11"]),
    ("echo not json", ["exited 0 without printing its versions"]),
])
def test_refuses_a_child_that_does_not_answer(pyab, tmp_path, script, words):
    exe = tmp_path / "broken-child"
    exe.write_text("#!/bin/sh\n%s\n" % script)
    exe.chmod(0o755)
    scenario_with(tmp_path, {"child": str(exe)})
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(tmp_path / "out")], cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "arm other (python.child)" in r.stderr and str(exe) in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)
    assert not (tmp_path / "out").exists()


def test_version_names_the_version_dependent_pieces(pyab):
    r = run_pyab(pyab, ["version", "--json"])
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)
    assert v["python_short"] == VER + "." + v["python_short"].split(".")[2]
    assert v["python_build"] == "release" and v["gc_threshold_default"] == [700, 10, 10]
    want_selftest = "before Py_Initialize" if VER == "3.11" else "after Py_Initialize"
    assert v["pieces"]["heap_selftest"].startswith(want_selftest), v["pieces"]
    assert v["pieces"]["refcount_total"] == "none (release build)"
    assert v["pieces"]["where_frames"].endswith("(%s)" % VER) or VER != "3.11"
    text = run_pyab(pyab, ["version"]).stdout
    assert "heap_selftest: " + v["pieces"]["heap_selftest"] in text
    assert "(embedded: %s; release build)" % v["python_embed"] in text
    exe = debug_child()
    d = json.loads(subprocess.run([str(exe), "--versions"], capture_output=True, text=True,
                                  check=True).stdout)
    assert d["python_build"] == "debug" and d["python_embed"] == f"python-{VER}d-embed"
    assert d["pieces"]["refcount_total"].startswith("_Py_GetRefTotal (3.11") or VER != "3.11"
