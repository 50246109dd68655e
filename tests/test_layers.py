"""The architecture as rules: which folder of harness/ may include which,
where the system headers with a cost may appear, and what each program
links. The include paths in harness/*/meson.build already make most
forbidden arrows fail to compile; this test states the whole map once and
catches what include paths cannot (system headers, cycles, NEEDED entries).
The map is the one in README.md's "Architecture" section."""
import pathlib
import re
import subprocess

import pytest

from conftest import BUILD, ROOT

HARNESS = ROOT / "harness"

# folder -> folders whose headers it may include (besides its own).
ALLOWED = {
    "lib": set(),
    "core": {"lib"},
    "input": {"core", "lib"},
    "analysis": {"core", "lib"},
    "child": {"core", "lib", "preload"},
    "report": {"analysis", "core", "lib"},
    "nightly": {"analysis", "input", "core", "lib"},
    "parent": {"nightly", "report", "analysis", "input", "core", "lib"},
    "cmd": {"parent", "nightly", "report", "analysis", "input", "core", "lib"},
    # pyab-native.so, the native sampler preloaded into the child: nothing of pyab.
    "preload": set(),
}
# pyab-child's main() sits with the verbs but belongs to the child's program.
CHILD_MAIN = "cmd/child.c"
CHILD_MAIN_ALLOWED = {"child", "core", "lib"}
# Headers meson generates, and the folder they belong to.
GENERATED = {"build_config.h": None, "report_assets.h": "report", "bootstrap_py.h": "child",
             "where_py.h": "child", "asgi_py.h": "child", "core_id.h": "core"}
# A second library of a folder's own sources, compiled against another
# dependency: the child's against the debug build of the same Python.
VARIANTS = {"pyab_child_debug": "child"}
# System headers that tie a layer to a dependency, and the folders allowed them.
SYSTEM = {
    "Python.h": {"child"},  # cmd/child.c reaches Python only through child.h
    "uv.h": {"child", "parent"},
    # Each history backend's client library only in its own file (history_store.h).
    "sqlite3.h": {"nightly/history_sqlite.c"},
    "libpq-fe.h": {"nightly/history_pg.c"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]', re.M)


def sources():
    return sorted(p for p in HARNESS.rglob("*") if p.suffix in (".c", ".h"))


def folder_of(path):
    rel = path.relative_to(HARNESS)
    return rel.parts[0] if len(rel.parts) > 1 else None


def header_homes():
    homes = {}
    for p in HARNESS.rglob("*.h"):
        assert p.name not in homes, f"two headers named {p.name}: include paths would be ambiguous"
        homes[p.name] = folder_of(p)
    homes.update({k: v for k, v in GENERATED.items()})
    return homes


def includes():
    for p in sources():
        for kind, name in INCLUDE.findall(p.read_text()):
            yield p, kind, name


def test_every_layer_is_a_folder_with_one_static_library():
    folders = {p.name for p in HARNESS.iterdir() if p.is_dir()} - {"tools"}
    assert folders == set(ALLOWED), folders
    for f in ALLOWED:
        build = (HARNESS / f / "meson.build").read_text()
        if f == "cmd":
            assert "static_library('pyab_cmd'" in build
        elif f == "child":
            # pyab_child, and pyab_child_debug from the same child_sources.
            assert re.findall(r"static_library\('(\w+)',\s*child_sources", build) == \
                ["pyab_child", "pyab_child_debug"], build
        else:
            assert len(re.findall(r"static_library\(", build)) == 1, f
    assert not [p.name for p in HARNESS.glob("*.[ch]")], "sources outside the layer folders"


def test_local_includes_follow_the_arrows():
    homes = header_homes()
    bad = []
    for p, kind, name in includes():
        if kind != '"':
            continue
        src, dst = folder_of(p), homes.get(name, "missing")
        allowed = (CHILD_MAIN_ALLOWED if str(p.relative_to(HARNESS)) == CHILD_MAIN
                   else ALLOWED[src])
        if dst == "missing":
            bad.append(f"{p.relative_to(ROOT)}: includes unknown header {name}")
        elif dst is not None and dst != src and dst not in allowed:
            bad.append(f"{p.relative_to(ROOT)}: {src}/ may not include {dst}/{name}")
    assert not bad, "\n".join(bad)


def test_lib_includes_no_pyab_header_of_another_layer():
    homes = header_homes()
    for p, kind, name in includes():
        if folder_of(p) == "lib" and kind == '"':
            assert homes.get(name) == "lib", f"{p}: {name}"


@pytest.mark.parametrize("header", sorted(SYSTEM))
def test_system_headers_stay_in_their_layers(header):
    allowed = SYSTEM[header]
    bad = [str(p.relative_to(ROOT)) for p, kind, name in includes()
           if kind == "<" and name == header and folder_of(p) not in allowed
           and str(p.relative_to(HARNESS)) not in allowed]
    assert not bad, f"<{header}> outside {sorted(allowed)}: {bad}"


def test_no_cycles_between_folders():
    homes = header_homes()
    edges = {f: set() for f in ALLOWED}
    for p, kind, name in includes():
        src, dst = folder_of(p), homes.get(name)
        if kind == '"' and dst and dst != src:
            edges[src].add(dst)
    state = {}

    def visit(f, path):
        if state.get(f) == "open":
            pytest.fail("folder cycle: " + " -> ".join(path + [f]))
        if state.get(f) == "done":
            return
        state[f] = "open"
        for g in sorted(edges[f]):
            visit(g, path + [f])
        state[f] = "done"

    for f in sorted(edges):
        visit(f, [])


def needed(exe):
    out = subprocess.run(["readelf", "-d", str(exe)], capture_output=True, text=True,
                         check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def test_pyab_does_not_link_libpython_and_the_child_does():
    parent, child = BUILD / "harness" / "pyab", BUILD / "harness" / "pyab-child"
    assert parent.exists() and child.exists()
    assert not [n for n in needed(parent) if n.startswith("libpython")], needed(parent)
    assert [n for n in needed(child) if n.startswith("libpython")], needed(child)
    assert not [n for n in needed(child) if n.startswith("libsqlite")], needed(child)
    assert not [n for n in needed(child) if n.startswith("libpq")], needed(child)


def test_the_native_sampler_links_only_libc_and_libm():
    """pyab-native.so is preloaded into the child before libpython and the
    arm's allocator: it must bring in nothing of its own."""
    lib = BUILD / "harness" / "pyab-native.so"
    assert lib.exists()
    assert set(needed(lib)) <= {"libc.so.6", "libm.so.6"}, needed(lib)


def test_version_asks_the_child_for_python(pyab):
    out = subprocess.run([pyab, "version", "--json"], capture_output=True, text=True,
                         check=True).stdout
    import json
    v = json.loads(out)
    assert v["python"].split()[0].count(".") == 2 and v["python_hexversion"] > 0x030B0000


def meson_include_dirs():
    out = subprocess.run(["meson", "introspect", "--targets", str(BUILD)], capture_output=True,
                         text=True, check=True).stdout
    import json
    dirs = {}
    for t in json.loads(out):
        if t["type"] == "static library" and t["name"].startswith("pyab_"):
            params = t["target_sources"][0]["parameters"]
            src = [pathlib.Path(p[2:]) for p in params if p.startswith(f"-I{HARNESS}/")]
            seen = {d.relative_to(HARNESS).parts[0] for d in src}
            if t["name"] in VARIANTS:
                assert seen == dirs.setdefault(VARIANTS[t["name"]], seen), t["name"]
                continue
            dirs[t["name"][len("pyab_"):]] = seen
    return dirs


def test_meson_include_paths_are_the_map():
    """The include paths are the enforcement: a folder's library sees only
    the folders the map allows, so a forbidden #include does not compile."""
    dirs = meson_include_dirs()
    assert set(dirs) == set(ALLOWED), dirs
    for f, seen in dirs.items():
        assert seen == ALLOWED[f] | {f}, (f, seen)


def test_a_forbidden_include_fails_to_compile(tmp_path):
    flags = [f"-I{HARNESS / d}" for d in sorted(meson_include_dirs()["analysis"])]
    src = tmp_path / "probe.c"
    src.write_text('#include "replay.h"\n')
    r = subprocess.run(["cc", "-fsyntax-only", *flags, str(src)], capture_output=True, text=True)
    assert r.returncode != 0 and "replay.h" in r.stderr
    src.write_text('#include "verdict.h"\n')
    r = subprocess.run(["cc", "-fsyntax-only", *flags, f"-I{BUILD / 'harness'}", str(src)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_installed_pyab_finds_its_child(tmp_path):
    """`meson install` puts pyab in bin/ and pyab-child in libexec/pyab/;
    the installed pyab must find its own child, not the build tree's."""
    r = subprocess.run(["meson", "install", "-C", str(BUILD), "--destdir", str(tmp_path),
                        "--no-rebuild", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    parents = list(tmp_path.rglob("bin/pyab"))
    children = list(tmp_path.rglob("libexec/pyab/pyab-child"))
    assert len(parents) == 1 and len(children) == 1, (parents, children)
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run(["strace", "-f", "-e", "trace=execve", str(parents[0]), "version"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    execs = re.findall(r'execve\("([^"]+)"', out.stderr)
    assert [e for e in execs if e.startswith(str(tmp_path)) and
            e.endswith("libexec/pyab/pyab-child")], execs
    assert "python 3." in out.stdout
