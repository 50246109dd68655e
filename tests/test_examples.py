"""docs/examples/: the CI matrix workflow and the Kubernetes Indexed Job
that run a sharded experiment on a shared PostgreSQL history. Both must
parse as YAML, and their pyab command lines must be ones pyab takes: each
shell command is run by bash with a stand-in pyab that records its argv,
once per matrix value or completion index; the shards must be exactly
1/N..N/N, every flag must be one `pyab help VERB` lists, and the merge
step must be given exactly the folders the shards wrote."""
import json
import os
import re
import shlex
import subprocess

import pytest

from conftest import ROOT

yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed (setup.sh installs it)")

EXAMPLES = ROOT / "docs" / "examples"
STUB = "#!/bin/sh\n/usr/bin/python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' " \
       "\"$@\" >> \"$PYAB_ARGV_LOG\"\n"


def help_flags(pyab, verb):
    r = subprocess.run([pyab, "help", verb], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return set(re.findall(r"--[a-z][a-z-]+|-[a-z]\b", r.stdout))


def run_with_stub(tmp_path, script, env, pyab_path):
    """Runs a shell command with pyab_path replaced by a stub; the argv lists it was given."""
    stub = tmp_path / "pyab-stub"
    stub.write_text(STUB)
    stub.chmod(0o755)
    log = tmp_path / "argv.jsonl"
    log.write_text("")
    r = subprocess.run(["/bin/bash", "-c", script.replace(pyab_path, str(stub))],
                       cwd=tmp_path, capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PYAB_ARGV_LOG=str(log), **env))
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in log.read_text().splitlines()]


def check_flags(pyab, argv):
    verb = argv[0]
    allowed = help_flags(pyab, verb)
    for a in argv[1:]:
        if a.startswith("-"):
            assert a in allowed, f"pyab {verb}: {a} is not a flag it takes ({sorted(allowed)})"


def flag(argv, name):
    return argv[argv.index(name) + 1]


def test_ci_matrix_example(pyab, tmp_path):
    wf = yaml.safe_load((EXAMPLES / "nightly-sharded-experiment.yml").read_text())
    assert wf["env"]["PYAB_HISTORY"].startswith("postgresql://")
    assert "PGPASSWORD" in wf["env"] and "secrets." in wf["env"]["PGPASSWORD"]
    outs, uploads = {}, {}
    for name in ("experiment", "check"):
        job = wf["jobs"][name]
        shards = job["strategy"]["matrix"]["shard"]
        n = len(shards)
        seen = []
        for value in shards:
            for step in job["steps"]:
                if "run" in step and "pyab" in step["run"]:
                    script = step["run"].replace("${{ matrix.shard }}", str(value))
                    (tmp_path / "scenarios" / "a").mkdir(parents=True, exist_ok=True)
                    (tmp_path / "scenarios" / "a" / "scenario.json").write_text("{}")
                    for argv in run_with_stub(tmp_path, script, {}, "./build/harness/pyab"):
                        check_flags(pyab, argv)
                        seen.append(flag(argv, "--shard"))
                        outs.setdefault(name, []).append(flag(argv, "--out"))
                if "with" in step and "name" in step["with"]:
                    uploads.setdefault(name, []).append(
                        (step["with"]["name"].replace("${{ matrix.shard }}", str(value)),
                         step["with"]["path"].replace("${{ matrix.shard }}", str(value))))
        assert sorted(seen) == [f"{i}/{n}" for i in range(1, n + 1)], (name, seen)
    # The merge job joins exactly the experiment's artifacts (downloaded into shards/NAME).
    merge = [s["run"] for s in wf["jobs"]["merge"]["steps"] if "pyab merge merged/gc" in
             s.get("run", "")]
    assert len(merge) == 1
    argv = run_with_stub(tmp_path, merge[0], {}, "./build/harness/pyab")[0]
    check_flags(pyab, argv)
    assert argv[2:] == [f"shards/{name}" for name, _ in uploads["experiment"]]
    assert [p for _, p in uploads["experiment"]] == outs["experiment"]


def test_kubernetes_indexed_job_example(pyab, tmp_path):
    docs = list(yaml.safe_load_all((EXAMPLES / "indexed-job.yaml").read_text()))
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Job"}
    shards = jobs["pyab-ablate"]
    assert shards["spec"]["completionMode"] == "Indexed"
    c = shards["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in c["env"]}
    n = int(env["SHARDS"])
    assert shards["spec"]["completions"] == shards["spec"]["parallelism"] == n
    assert {e["name"] for e in c["env"]} >= {"PYAB_HISTORY", "PGPASSWORD"}
    secret = [d for d in docs if d["kind"] == "Secret"][0]
    assert secret["stringData"]["url"].startswith("postgresql://")
    pyab_path = "/opt/pyab/build/harness/pyab"
    plain = {k: v for k, v in env.items() if v is not None}
    seen, outs = [], []
    for index in range(n):
        argv = run_with_stub(tmp_path, " ".join(c["command"][2:] + c["args"]),
                             dict(plain, JOB_COMPLETION_INDEX=str(index)), pyab_path)[0]
        check_flags(pyab, argv)
        seen.append(flag(argv, "--shard"))
        outs.append(flag(argv, "--out"))
    assert seen == [f"{i}/{n}" for i in range(1, n + 1)]
    assert len(set(outs)) == n
    m = jobs["pyab-ablate-merge"]["spec"]["template"]["spec"]["containers"][0]
    menv = {e["name"]: e.get("value") for e in m["env"] if e.get("value") is not None}
    argv = run_with_stub(tmp_path, " ".join(m["args"]), menv, pyab_path)[0]
    check_flags(pyab, argv)
    assert argv[0] == "merge" and argv[2:] == outs
    assert shlex.split(m["args"][0])[0] == "exec"
