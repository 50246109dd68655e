"""pyheap_bytes against tracemalloc, in the same process.

pyab counts allocator block sizes (pymalloc size classes, malloc_usable_size);
tracemalloc counts requested bytes. On a workload of objects of a few hundred
bytes and up, the two must agree within 2%. On tiny objects they differ by
pymalloc's 16-byte rounding; that difference is measured and printed here, and
quoted in the README, not asserted beyond a sanity bound.
"""
import json

import pytest

from conftest import run_pyab

SERVICE = r'''
import json, os, random, tracemalloc
import pyab
tracemalloc.start()
KIND = os.environ["KIND"]
rnd = random.Random(3)
kept = []
first = None
count = 0
def handle(req):
    global first, count
    count += 1
    if count == 1:
        first = (tracemalloc.get_traced_memory()[0], pyab.heap_bytes())
    if KIND == "mixed":
        kept.append("x" * rnd.randrange(300, 5000))
        kept.append(bytes(rnd.randrange(100, 2000)))
        kept.append({"k": rnd.random(), "v": [1, 2, 3] * 20})
    else:
        kept.append((count, count + 1, count + 2))
    if count == int(os.environ["N"]):
        tm, ours = tracemalloc.get_traced_memory()[0], pyab.heap_bytes()
        with open(os.environ["OUT"], "w") as f:
            json.dump({"tracemalloc": tm - first[0], "pyab": ours - first[1]}, f)
'''


def measure(pyab, tmp_path, kind, n):
    (tmp_path / "service.py").write_text(SERVICE)
    with open(tmp_path / "trace.jsonl", "w") as f:
        for i in range(10):
            f.write(json.dumps({"t": i * 0.001, "route": "/a"}) + "\n")
    out = tmp_path / ("figures-%s.json" % kind)
    sc = {"name": "pyheap-" + kind, "app": {"path": "service.py"}, "trace": "trace.jsonl",
          "load": {"model": "closed", "users": 1, "requests": n}, "workers": 1,
          "env": {"KIND": kind, "N": str(n), "OUT": str(out)}}
    (tmp_path / "scenario.json").write_text(json.dumps(sc))
    r = run_pyab(pyab, ["run", "scenario.json", "--out", str(tmp_path / ("out-" + kind)),
                        "--quiet", "--no-report"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return json.load(open(out))


def test_pyheap_agrees_with_tracemalloc(pyab, tmp_path):
    f = measure(pyab, tmp_path, "mixed", 5000)
    diff = (f["pyab"] - f["tracemalloc"]) / f["tracemalloc"]
    print("mixed workload: pyab %d B, tracemalloc %d B, difference %+.2f%%"
          % (f["pyab"], f["tracemalloc"], diff * 100))
    assert f["tracemalloc"] > 10_000_000
    assert abs(diff) <= 0.02


def test_pyheap_rounding_on_tiny_objects(pyab, tmp_path):
    f = measure(pyab, tmp_path, "tiny", 20000)
    diff = (f["pyab"] - f["tracemalloc"]) / f["tracemalloc"]
    print("tiny tuples: pyab %d B, tracemalloc %d B, difference %+.2f%%"
          % (f["pyab"], f["tracemalloc"], diff * 100))
    # Rounding to 16-byte classes can add at most 15 bytes a block; on these
    # objects (tuples and ints of 28 to 64 bytes) that bounds the difference.
    assert abs(diff) <= 0.25
