"""One experiment split over machines by arm x rep: `pyab run --shard I/N`
(and `pyab ablate --shard`) then `pyab merge OUT_DIR IN_DIR...` must give
the verdicts and slopes of the unsharded run of the same scenario and
seeds, and merge must refuse shards that do not belong together (exit 2,
no folder). The service keeps LEAK_BYTES per request (arm leaky: 512 B of
Python heap, arm base: none); 2 arms x 3 reps of 10k requests, about
0.1 s a rep."""
import json
import shutil

import pytest

from conftest import load_json, run_pyab

HERE = __import__("pathlib").Path(__file__).resolve().parent
TRACE = HERE / "cases" / "leak-python" / "trace.jsonl"

SERVICE = '''
import os
import leakylib
LEAK = int(os.environ.get("LEAK_BYTES", "0"))
kept = []


def handle(req):
    scratch = [str(i) for i in range(100)]
    if LEAK:
        kept.append(b"x" * LEAK)
    leakylib.call()
    return len(scratch)
'''
# The ablation's suspect: keeps 256 B per call; its stand-in keeps nothing.
LEAKYLIB = "kept = []\n\ndef call():\n    kept.append(bytes(256))\n"
STANDIN = "def call():\n    pass\n"


def make_scenario(folder, name="shardy", **extra):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.py").write_text(SERVICE)
    (folder / "leakylib.py").write_text(STANDIN)  # the arms' service keeps only LEAK_BYTES
    shutil.copy(TRACE, folder / "trace.jsonl")
    sc = {"name": name, "app": {"path": "service.py"}, "trace": "trace.jsonl",
          "load": {"model": "closed", "users": 1, "requests": 10000}, "workers": 1,
          "warmup": {"requests": 1000}, "sample": {"interval_ms": 2}, "reps": 3,
          "arms": {"base": {"env": {"LEAK_BYTES": "0"}},
                   "leaky": {"env": {"LEAK_BYTES": "512"}}}}
    sc.update(extra)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(sc))
    return path


def run(pyab, args, cwd):
    return run_pyab(pyab, [str(a) for a in args], cwd=cwd, timeout=170)


@pytest.fixture(scope="module")
def sharded(pyab, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shard")
    sc = make_scenario(tmp / "svc")
    db = tmp / "history.sqlite"
    whole = run(pyab, ["run", sc, "--out", tmp / "whole", "--quiet", "--no-report",
                       "--history", db], tmp)
    assert whole.returncode == 0, whole.stderr
    shards = []
    for i in (1, 2, 3):
        r = run(pyab, ["run", sc, "--out", tmp / f"s{i}", "--shard", f"{i}/3"], tmp)
        assert r.returncode == 0, r.stderr
        assert f"shard {i}/3, partial" in r.stdout
        shards.append(tmp / f"s{i}")
    # Given in another order than 1, 2, 3: the manifest says which is which.
    merged = run(pyab, ["merge", tmp / "merged", shards[2], shards[0], shards[1],
                        "--history", db], tmp)
    return {"tmp": tmp, "sc": sc, "db": db, "shards": shards, "merge": merged}


def test_three_shards_merged_match_the_unsharded_run(sharded):
    m = sharded["merge"]
    assert m.returncode == 0, m.stdout + m.stderr
    tmp = sharded["tmp"]
    whole, merged = load_json(tmp / "whole" / "summary.json"), load_json(tmp / "merged" /
                                                                          "summary.json")
    assert merged["status"] == "complete"
    for arm in ("base", "leaky"):
        w, g = whole["arms"][arm], merged["arms"][arm]
        assert [r["rep"] for r in g["reps"]] == [1, 2, 3]
        assert [r["shard"] for r in g["reps"]] == [1, 2, 3]  # 2 arms x 3 reps in 3: a round each
        assert g["verdict"] == w["verdict"]
        for metric in ("pyheap", "rss"):
            ws, gs = w["slopes"][metric]["bytes_per_request"], g["slopes"][metric][
                "bytes_per_request"]
            assert abs(ws - gs) <= max(2.0, 0.02 * abs(ws)), (arm, metric, ws, gs)
    assert merged["arms"]["leaky"]["verdict"] == "leak"
    assert merged["arms"]["base"]["verdict"] == "no-leak"
    pw = merged["arms"]["leaky"]["slopes"]["pyheap"]["bytes_per_request"]
    assert 500 < pw < 620, pw
    def effects(s):
        return {c["arm"]: {k: (v["significant"], v["negligible"])
                           for k, v in c["figures"].items() if k in ("rss_slope", "pyheap_slope")}
                for c in s["comparisons"]}
    assert effects(merged) == effects(whole)
    assert effects(merged)["leaky"]["pyheap_slope"] == (True, False)
    assert (tmp / "merged" / "report.html").exists()
    for k in (1, 2, 3):
        for arm in ("base", "leaky"):
            assert (tmp / "merged" / "arms" / arm / f"rep-{k}" / "samples.csv").exists()


def test_shards_record_their_hosts_and_history_gets_one_run(sharded):
    tmp = sharded["tmp"]
    s1 = load_json(sharded["shards"][0] / "manifest.json")
    assert s1["shard"]["index"] == 1 and s1["shard"]["count"] == 3
    assert s1["shard"]["pairs"] == [["base", 1], ["leaky", 1]]
    assert set(s1["shard"]["trace_digests"]) == {"base", "leaky"}
    assert not (sharded["shards"][0] / "report.html").exists()  # partial: not analysed
    m = load_json(tmp / "merged" / "manifest.json")
    assert "shard" not in m
    assert [s["index"] for s in m["shards"]] == [1, 2, 3]
    assert all(s["hostname"] == s1["host"]["hostname"] for s in m["shards"])
    import sqlite3
    con = sqlite3.connect(sharded["db"])
    dirs = [r[0] for r in con.execute("SELECT results_dir FROM runs ORDER BY id")]
    assert dirs == [str(tmp / "whole"), str(tmp / "merged")]
    n = con.execute("SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id "
                    "WHERE r.results_dir = ?", (str(tmp / "merged"),)).fetchone()[0]
    assert n > 0


def test_merge_refuses_shards_that_do_not_belong_together(pyab, sharded):
    tmp, s = sharded["tmp"], sharded["shards"]

    def refused(args, message):
        out = tmp / "refused"
        r = run(pyab, ["merge", out] + args, tmp)
        assert r.returncode == 2, r.stdout + r.stderr
        assert message in r.stderr, r.stderr
        assert not out.exists() and not list(tmp.glob("refused.merging-*"))

    refused([s[0], s[1]], "shard 3/3 is missing")
    refused([s[0], s[1], s[1]], "shard 2/3 given twice")
    refused([s[0], s[1], tmp / "whole"], "not a shard's results folder")
    # A shard of another scenario, of another trace, of another pyab.
    sc = load_json(sharded["sc"])
    sc["warmup"] = {"requests": 1500}
    (tmp / "svc" / "changed.json").write_text(json.dumps(sc))
    r = run(pyab, ["run", tmp / "svc" / "changed.json", "--out", tmp / "x3", "--shard", "3/3",
                   "--quiet"], tmp)
    assert r.returncode == 0, r.stderr
    refused([s[0], s[1], tmp / "x3"], "shards of different scenarios")
    for name, edit, message in (
            ("t3", lambda m: m["shard"]["trace_digests"].update(base="fnv1a64:0"),
             "the shards replayed different traces"),
            ("v3", lambda m: m["versions"].update(pyab="0.0.0-other"),
             "the shards ran different pyab versions")):
        shutil.copytree(s[2], tmp / name)
        man = load_json(tmp / name / "manifest.json")
        edit(man)
        (tmp / name / "manifest.json").write_text(json.dumps(man))
        refused([s[0], s[1], tmp / name], message)
    refused([s[0], s[1], s[2], "--junit", tmp / "j.xml"], "--junit is for check folders")
    (tmp / "full").mkdir()
    (tmp / "full" / "x").write_text("")
    r = run(pyab, ["merge", tmp / "full", s[0], s[1], s[2]], tmp)
    assert r.returncode == 2 and "exists and is not empty" in r.stderr


def test_an_unfinished_shard_makes_an_unfinished_run(pyab, sharded):
    tmp, s = sharded["tmp"], sharded["shards"]
    shutil.copytree(s[1], tmp / "cut2")
    summary = load_json(tmp / "cut2" / "summary.json")
    summary["status"] = "interrupted"
    (tmp / "cut2" / "summary.json").write_text(json.dumps(summary))
    db = tmp / "cut.sqlite"
    r = run(pyab, ["merge", tmp / "cut", s[0], tmp / "cut2", s[2], "--history", db, "--quiet",
                   "--no-report"], tmp)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{tmp / 'cut2'} did not complete (status interrupted)" in r.stderr
    assert load_json(tmp / "cut" / "summary.json")["status"] == "interrupted"
    import sqlite3
    con = sqlite3.connect(db)
    assert con.execute("SELECT verdict FROM runs").fetchall() == [("error",)]
    assert con.execute("SELECT count(*) FROM metrics").fetchone()[0] == 0


def test_bad_shard_values_are_exit_2(pyab, sharded):
    tmp = sharded["tmp"]
    for bad in ("0/3", "4/3", "x", "1/0"):
        r = run(pyab, ["run", sharded["sc"], "--out", tmp / "bad", "--shard", bad], tmp)
        assert r.returncode == 2 and "--shard takes I/N" in r.stderr, (bad, r.stderr)
        assert not (tmp / "bad").exists()


def test_sharded_ablation_merges_with_its_ranking(pyab, tmp_path):
    folder = tmp_path / "ab"
    sc = make_scenario(folder, name="abl", reps=2,
                       ablate={"suspects": {"leakylib": "leakylib_standin.py"},
                               "metric": "pyheap"})
    data = load_json(sc)
    del data["arms"]
    data["env"] = {"LEAK_BYTES": "0"}
    sc.write_text(json.dumps(data))
    (folder / "leakylib.py").write_text(LEAKYLIB)
    (folder / "leakylib_standin.py").write_text(STANDIN)
    for i in (1, 2):
        r = run(pyab, ["ablate", sc, "--out", tmp_path / f"a{i}", "--shard", f"{i}/2",
                       "--no-report", "--quiet"], tmp_path)
        assert r.returncode == 0, r.stderr
        assert "ablation" in load_json(tmp_path / f"a{i}" / "manifest.json")
    r = run(pyab, ["merge", tmp_path / "am", tmp_path / "a1", tmp_path / "a2", "--no-history",
                   "--no-report"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    ab = load_json(tmp_path / "am" / "summary.json")["ablation"]
    assert ab["implicated"] == ["leakylib"], ab
    assert ab["ranking"][0]["suspect"] == "leakylib" and ab["ranking"][0]["growth_removed"] > 0.9
    assert "leakylib" in r.stdout  # the ranking table
    assert not (tmp_path / "history.sqlite").exists()
    # The unsharded ablation of the same scenario concludes the same.
    r = run(pyab, ["ablate", sc, "--out", tmp_path / "whole", "--no-report", "--quiet"],
            tmp_path)
    assert r.returncode == 0, r.stderr
    whole = load_json(tmp_path / "whole" / "summary.json")["ablation"]
    assert whole["implicated"] == ab["implicated"]
    assert [x["suspect"] for x in whole["ranking"]] == [x["suspect"] for x in ab["ranking"]]
    assert whole["metric"] == ab["metric"] == "pyheap"
