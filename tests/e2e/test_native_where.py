"""where.native against known truth, with real Debian libraries.

One scenario, one arm per behaviour (tests/e2e/native/service.py): a handler
that keeps the result of a native call per request — a ctypes libc.malloc,
numpy arrays, cv2.imdecode images, lxml trees, PIL images — and its twin that
drops it. The native heap's slope (glibc's mallinfo2, measured independently
of the sampler) is the truth for how much native memory each request keeps.

For every keeping arm, each rep's where.json must put the expected library
first (the sum of its sites), within 15% of the native slope, with the
service's own line as the Python line; cv2's chain must go through
libopencv_core. For every dropping arm no site may hold more than a few
bytes per request. Also: an arm without where.native pays nothing (no
library preloaded, no where.json), and a bad key is exit 2 naming it.
"""
import collections
import json
import pathlib
import platform
import re
import shutil
import subprocess

import pytest

from conftest import load_json, run_pyab

HERE = pathlib.Path(__file__).resolve().parent / "native"
# The object each kept result must be attributed to, by file name.
EXPECT = {
    "ctypes": r"^libffi\.so",  # the FFI made the call; the Python line is the answer
    "numpy": r"^_multiarray_umath\.cpython-",
    # The binding copies the decoded cv::Mat into a numpy-backed one
    # (pyopencv_from -> Mat::copyTo -> Mat::create -> its NumpyAllocator ->
    # numpy): what survives was asked for by cv2's module, through core.
    "cv2": r"^cv2\.cpython-",
    "lxml": r"^libxml2\.so",
    "pil": r"^_imaging\.cpython-",
}
CHAIN = {"cv2": [r"^cv2\.cpython-", r"^libopencv_core\.so.*cv::Mat::create",
                 r"^_multiarray_umath"]}


# The function the stack entered native code through: called by the line
# itself, or "via" one its library's Python code called. ctypes' call is a
# type's tp_call, which has no Python name.
CALLEE = {"cv2": "cv2.imdecode", "lxml": "lxml.etree.fromstring", "numpy": "via numpy.empty",
          "pil": "via PIL._imaging.fill", "ctypes": None}


def site_lines():
    lines = {}
    for n, text in enumerate((HERE / "service.py").read_text().splitlines(), 1):
        m = re.search(r"# site: (\w+)", text)
        if m:
            lines[m.group(1)] = n
    return lines


@pytest.fixture(scope="module")
def run(pyab, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("native-where")
    shutil.copy(HERE / "service.py", tmp / "service.py")
    with open(tmp / "trace.jsonl", "w") as f:
        for i in range(100):
            f.write(json.dumps({"t": i * 0.001, "route": "/r"}) + "\n")
    arms = {}
    for b in EXPECT:
        arms[b] = {"env": {"BEHAVIOUR": b}}
        arms[b + "-drop"] = {"env": {"BEHAVIOUR": b + "-drop"}}
    arms["off"] = {"env": {"BEHAVIOUR": "numpy"}, "where": {"native": False}}
    sc = {"name": "native-where", "app": {"path": "service.py"}, "trace": "trace.jsonl",
          "load": {"model": "closed", "users": 2, "requests": 8000}, "workers": 2,
          "warmup": {"requests": 1000}, "where": {"native": True}, "arms": arms}
    (tmp / "scenario.json").write_text(json.dumps(sc))
    out = tmp / "out"
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(out), "--quiet", "--no-report",
                        "--no-history"], cwd=tmp)
    assert r.returncode == 0, r.stderr
    return out, json.load(open(out / "summary.json"))


def where(out, arm, rep=1):
    return json.load(open(out / "arms" / arm / f"rep-{rep}" / "where.json"))["native"]


def by_object(native):
    totals = collections.Counter()
    for s in native["sites"]:
        totals[s["object"]] += s["bytes"] / native["requests"]
    return totals.most_common()


@pytest.mark.parametrize("lib", sorted(EXPECT))
def test_kept_results_go_to_their_library(run, lib, sanitized):
    out, summary = run
    if sanitized:
        pytest.skip("the sampler is an LD_PRELOAD interposer: ASan's runtime must come first")
    native = where(out, lib)
    assert native["requests"] == 7000
    assert native["sampler"]["dropped"] == 0
    # pyab's own unwinder where it exists (x86-64, glibc 2.35+: Debian 12).
    if platform.machine() == "x86_64":
        assert native["sampler"]["unwinder"] == "pyab"
    top, per_request = by_object(native)[0]
    assert re.search(EXPECT[lib], top), by_object(native)[:3]
    truth = summary["arms"][lib]["slopes"]["native"]["bytes_per_request"]
    assert abs(per_request - truth) <= 0.15 * truth, (per_request, truth)
    site = max((s for s in native["sites"] if s["object"] == top), key=lambda s: s["bytes"])
    assert site["python"].startswith(f"service.py:{site_lines()[lib]} in handle"), site
    # The C function Python called into, by its Python name, where it has one.
    want = CALLEE.get(lib)
    assert site.get("callee") == (want and want.split(" ")[-1]), site
    if want:
        assert site["python"] == f"service.py:{site_lines()[lib]} in handle ({want})", site
    # Unbiased and spread over the run: both halves hold about half.
    assert 0.3 < site["early"] / site["bytes"] < 0.7, site
    assert abs(site["early"] + site["late"] - site["bytes"]) <= 1e-6 * site["bytes"]
    assert site["var"] > 0 and site["samples"] > 100
    # The chain, caller first, holds these in this order.
    rest = iter(site["chain"])
    for want in CHAIN.get(lib, []):
        assert any(re.search(want, got) for got in rest), (want, site["chain"])


@pytest.mark.parametrize("lib", sorted(EXPECT))
def test_dropped_results_leave_no_native_site(run, lib, sanitized):
    out, summary = run
    if sanitized:
        pytest.skip("the sampler is an LD_PRELOAD interposer: ASan's runtime must come first")
    native = where(out, lib + "-drop")
    held = sum(s["bytes"] for s in native["sites"]) / native["requests"]
    kept = by_object(where(out, lib))[0][1]
    assert held < 0.02 * kept, (held, native["sites"][:2])
    assert native["sampler"]["taken"] > 100  # it did sample: the allocations were freed


def test_an_arm_without_native_sampling_pays_nothing(run, sanitized):
    out, summary = run
    assert "native" not in json.load(open(out / "arms" / "off" / "rep-1" / "where.json"))
    rb = json.load(open(out / "manifest.json"))["arms"]["off"]["readback"]
    assert "pyab-native" not in rb["ld_preload"]
    assert summary["arms"]["off"]["reps"][0]["outcome"] == "ok"
    rb = json.load(open(out / "manifest.json"))["arms"]["numpy"]["readback"]
    if sanitized:  # ASan's runtime must come first: no preload, and the rep says why
        assert rb["ld_preload"] == ""
    else:
        assert rb["ld_preload"].split(":")[0].endswith("/pyab-native.so"), rb["ld_preload"]
        assert rb["preload_mapped"].endswith("/pyab-native.so"), rb["preload_mapped"]


ASGI_NUMPY = r'''
import numpy as np
KEPT = []
async def app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    await receive()
    KEPT.append(np.zeros(3000) + 1.0)  # 24000 bytes of numpy data kept per request
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": b"ok"})
'''


def test_asgi_open_loop_native_sites(pyab, tmp_path, sanitized):
    # The event loop's pacer dispatches by its own count; native samples are
    # stamped with the dispatched count, so it must move there too (a QA pass
    # found no native site at all on an open-loop ASGI arm).
    if sanitized:
        pytest.skip("no native sampling under ASan (its runtime must be preloaded first)")
    (tmp_path / "napp.py").write_text(ASGI_NUMPY)
    (tmp_path / "trace.jsonl").write_text(
        "".join(json.dumps({"t": i * 0.0005, "route": "/r"}) + "\n" for i in range(4000)))
    sc = {"name": "asgi-native", "app": {"asgi": "napp:app"}, "python": {"path": [str(tmp_path)]},
          "trace": "trace.jsonl", "load": {"model": "open"}, "where": {"native": True},
          "env": {"OPENBLAS_NUM_THREADS": "1"}}
    (tmp_path / "scenario.json").write_text(json.dumps(sc))
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(tmp_path / "o"), "--quiet",
                        "--no-report"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    native = load_json(tmp_path / "o" / "summary.json")["arms"]["base"]["where"]["native"]
    top = native["sites"][0]
    assert top["object"].startswith("_multiarray_umath"), native["sites"][:2]
    assert 24000 * 0.85 < top["bytes_per_request"] < 24000 * 1.15, top


def test_bad_where_keys_are_exit_2(pyab, tmp_path):
    shutil.copy(HERE / "service.py", tmp_path / "service.py")
    (tmp_path / "trace.jsonl").write_text('{"t": 0, "route": "/r"}\n')
    for where_, message in [({"native": "yes"}, 'key "where.native"'),
                            ({"native_sample_bytes": 1}, 'key "where.native_sample_bytes"'),
                            ({"nativ": True}, 'key "where.nativ": unknown key')]:
        sc = {"name": "w", "app": {"path": "service.py"}, "trace": "trace.jsonl",
              "where": where_}
        (tmp_path / "scenario.json").write_text(json.dumps(sc))
        r = run_pyab(pyab, ["run", "scenario.json", "--out", str(tmp_path / "o"), "--quiet"],
                     cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert message in r.stderr, r.stderr
        assert not (tmp_path / "o").exists()


INFERENCE = pathlib.Path(__file__).resolve().parents[2] / "scenarios" / "inference"
SPEC = {"duration": 1.5, "rate": 150, "seed": 11,
        "routes": [{"route": "/predict", "size": 300, "body": "size"}],
        "bursts": [{"start": 0.5, "duration": 0.8, "multiplier": 5}]}


@pytest.fixture(scope="module")
def inference(pyab, tmp_path_factory):
    """The inference scenario, shortened (as test_ablate.py), with where.native:
    8 workers (predictions overlap: the model library leaks) and 1 worker
    (they never do), side by side."""
    tmp = tmp_path_factory.mktemp("native-inference")
    (tmp / "spec.json").write_text(json.dumps(SPEC))
    r = run_pyab(pyab, ["trace", "synth", "-o", str(tmp / "trace.jsonl"), "--spec",
                        str(tmp / "spec.json")])
    assert r.returncode == 0, r.stderr
    procs = {}
    for workers in (8, 1):
        sc = json.loads((INFERENCE / "scenario.json").read_text())
        sc.pop("ablate")
        sc.update({"name": f"inf-{workers}", "workers": workers, "reps": 2,
                   "trace": str(tmp / "trace.jsonl"), "warmup": {"requests": 80},
                   "sample": {"interval_ms": 10}, "where": {"native": True},
                   "app": {"path": str(INFERENCE / "service.py"), "handler": "handle"}})
        (tmp / f"inf-{workers}.json").write_text(json.dumps(sc))
        out = tmp / f"out-{workers}"
        procs[workers] = (subprocess.Popen([pyab, "run", str(tmp / f"inf-{workers}.json"), "--out",
                                            str(out), "--no-report", "--no-history"],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           text=True), out)
    # pyab ablate --suspects auto on the 8-worker scenario: a screening run
    # with native sampling, then only the suspects its native sites point at.
    sc = json.loads((INFERENCE / "scenario.json").read_text())
    sc.update({"name": "inf-auto", "workers": 8, "reps": 2, "trace": str(tmp / "trace.jsonl"),
               "warmup": {"requests": 80}, "sample": {"interval_ms": 10},
               "app": {"path": str(INFERENCE / "service.py"), "handler": "handle"}})
    sc["ablate"]["suspects"] = {k: str(INFERENCE / v) for k, v in sc["ablate"]["suspects"].items()}
    (tmp / "inf-auto.json").write_text(json.dumps(sc))
    procs["auto"] = (subprocess.Popen([pyab, "ablate", str(tmp / "inf-auto.json"), "--suspects",
                                       "auto", "--out", str(tmp / "out-auto"), "--no-report"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
                     tmp / "out-auto")
    done = {}
    for workers, (proc, out) in procs.items():
        stdout, stderr = proc.communicate(timeout=170)
        assert proc.returncode == 0, stderr[-3000:]
        done[workers] = (stdout, json.load(open(out / "summary.json")))
    done["dir8"] = tmp / "out-8"
    return done


def test_inference_names_the_model_only_under_overlapping_calls(inference, sanitized):
    if sanitized:
        pytest.skip("the sampler is an LD_PRELOAD interposer: ASan's runtime must come first")
    stdout, summary = inference[8]
    native = summary["arms"]["base"]["where"]["native"]
    top = native["sites"][0]
    # The stand-in model's leak is pyab.native_call's malloc, called from
    # fakemodel's predict: that library and that line, growing.
    assert (top["object"], top["symbol"]) == ("pyab-child", "mod_native_call"), top
    assert top["python"].startswith("fakemodel/__init__.py:") and "predict" in top["python"]
    # predict calls pyab.native_call itself: the site names it.
    assert top["python"].endswith(" in Model.predict (pyab.native_call)"), top
    assert top["state"] == "growing"
    truth = summary["arms"]["base"]["slopes"]["native"]["bytes_per_request"]
    assert abs(top["bytes_per_request"] - truth) <= 0.25 * truth, (top, truth)
    assert "pyab-child  (growing)" in stdout and "called from fakemodel/__init__.py" in stdout
    # One worker: no prediction overlaps another, nothing grows.
    stdout, summary = inference[1]
    native = summary["arms"]["base"]["where"]["native"]
    assert not [s for s in native["sites"]
                if s["state"] == "growing" and s["bytes_per_request"] > 1000], native["sites"][:3]
    assert not [s for s in native["sites"]
                if s.get("symbol") == "mod_native_call" and s["state"] == "growing"]


def test_ablate_takes_its_suspects_from_the_native_sites(inference, sanitized):
    """--suspects auto: the screening run's growing native site is under
    fakemodel's code, so only fakemodel is swapped (imgcodec is not run)."""
    stdout, summary = inference["auto"]
    if sanitized:
        pytest.skip("the sampler is an LD_PRELOAD interposer: ASan's runtime must come first")
    assert "ablate: suspects from the native sites of" in stdout and ": fakemodel\n" in stdout
    assert sorted(summary["arms"]) == ["control", "swap-fakemodel"]
    assert [e["suspect"] for e in summary["ablation"]["ranking"]] == ["fakemodel"]
    assert summary["ablation"]["implicated"] == ["fakemodel"]


def test_report_shows_native_libraries_and_calling_lines(pyab, inference, sanitized):
    """The report's Where section and the leak card, as Chromium renders them."""
    if sanitized:
        pytest.skip("the sampler is an LD_PRELOAD interposer: ASan's runtime must come first")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium to render the report")
    out = inference["dir8"]
    r = run_pyab(pyab, ["report", str(out)])
    assert r.returncode == 0, r.stderr
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          (out / "report.html").as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert re.search(r"top native library: <code>pyab-child \(mod_native_call\)</code> called "
                     r"from <code>fakemodel/__init__.py:\d+ in Model.predict \(pyab.native_call\)</code>", dom), dom[-2000:]
    assert re.search(r"<h4>native \(sampled every 64.0 KiB\)", dom)
    assert "<code>_multiarray_umath.cpython-311-x86_64-linux-gnu.so</code>" in dom
