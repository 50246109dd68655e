#!/usr/bin/env python3
"""Builds pyab's fuzz targets (tests/fuzz/targets.c and the readers of
harness/lib, core, input and analysis/series.c) with clang's libFuzzer, ASan
and UBSan, and runs one target for a bounded time over its seed corpus.

    tests/fuzz/run.py TARGET [--seconds N] [--build BUILD] [--source SRC] [-- LIBFUZZER FLAGS]

`meson test -C build --suite fuzz` runs each target for a few seconds; it is
not part of the default test run (the default test setup excludes the
suite). For a longer hunt: PYAB_FUZZ_SECONDS=1800 meson test -C build --suite fuzz.
Exit 77 (skipped) when clang or its libFuzzer is missing. New inputs go to
BUILD/tests/fuzz/corpus-TARGET (never into the source tree), crashes to
BUILD/tests/fuzz/crash-TARGET-*; a crash input worth keeping becomes a seed in
tests/fuzz/corpus/TARGET/ and a regression test.
"""
import argparse
import fcntl
import os
import pathlib
import shutil
import subprocess
import sys

TARGETS = ["trace", "har", "accesslog", "scenario", "synth", "samples"]
# What the targets reach; analysis/ contributes only the samples.csv reader.
SOURCES = ["harness/lib/*.c", "harness/core/*.c", "harness/input/*.c",
           "harness/analysis/series.c"]
INCLUDES = ["harness/lib", "harness/core", "harness/input", "harness/analysis"]
FLAGS = ["-g", "-O1", "-std=gnu11", "-D_GNU_SOURCE", "-fsanitize=fuzzer,address,undefined",
         "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
SKIP = 77


def sources(src):
    files = [p for pattern in SOURCES for p in sorted(src.glob(pattern))]
    return files + [src / "tests" / "fuzz" / "targets.c"]


def jansson_flags():
    try:
        out = subprocess.run(["pkg-config", "--cflags", "--libs", "jansson"],
                             capture_output=True, text=True, check=True).stdout
        return out.split()
    except (OSError, subprocess.CalledProcessError):
        return ["-ljansson"]


def stale(exe, inputs, src):
    if not exe.exists():
        return True
    built = exe.stat().st_mtime
    headers = [h for d in INCLUDES for h in (src / d).glob("*.h")]
    return any(p.stat().st_mtime > built for p in list(inputs) + headers)


def build(clang, src, out_dir):
    """The fuzz program, rebuilt when a source is newer; one builder at a time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / "pyab-fuzz"
    with open(out_dir / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        inputs = sources(src)
        if stale(exe, inputs, src):
            cmd = ([clang] + FLAGS + [f"-I{src / d}" for d in INCLUDES] + [str(p) for p in inputs]
                   + jansson_flags() + ["-lm", "-o", str(exe) + ".tmp"])
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                sys.stderr.write(" ".join(cmd) + "\n" + r.stderr)
                sys.exit(1)
            os.replace(str(exe) + ".tmp", exe)
    return exe


def libfuzzer_works(clang, out_dir):
    probe = out_dir / "probe.c"
    out_dir.mkdir(parents=True, exist_ok=True)
    probe.write_text("#include <stddef.h>\n#include <stdint.h>\n"
                     "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
                     "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                     " { (void)d; (void)n; return 0; }\n")
    r = subprocess.run([clang, "-fsanitize=fuzzer", str(probe), "-o", str(out_dir / "probe")],
                       capture_output=True, text=True)
    return r.returncode == 0


def main():
    here = pathlib.Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", choices=TARGETS)
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("PYAB_FUZZ_SECONDS", 5)))
    ap.add_argument("--build", type=pathlib.Path, default=here.parents[1] / "build")
    ap.add_argument("--source", type=pathlib.Path, default=here.parents[1])
    ap.add_argument("extra", nargs="*", help="more libFuzzer flags (after --)")
    a = ap.parse_args()
    clang = os.environ.get("PYAB_FUZZ_CC") or shutil.which("clang")
    out_dir = a.build.resolve() / "tests" / "fuzz"
    if clang is None or not libfuzzer_works(clang, out_dir):
        print("skipped: no clang with -fsanitize=fuzzer (set PYAB_FUZZ_CC)")
        return SKIP
    exe = build(clang, a.source.resolve(), out_dir)
    work = out_dir / f"corpus-{a.target}"
    work.mkdir(exist_ok=True)
    seeds = a.source.resolve() / "tests" / "fuzz" / "corpus" / a.target
    env = dict(os.environ, PYAB_FUZZ_TARGET=a.target,
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    cmd = [str(exe), str(work), str(seeds), f"-max_total_time={a.seconds}", "-timeout=10",
           "-rss_limit_mb=2048", "-max_len=65536", "-print_final_stats=1",
           f"-artifact_prefix={out_dir}/crash-{a.target}-"] + a.extra
    print(" ".join(cmd), flush=True)
    return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
