"""The history on a PostgreSQL server (tests/pgserver.py starts a private
one): the C history suite (tests/unit/test_history.c, which meson runs on
SQLite) run again against the server, the schema migrations there, and
`pyab check` / `pyab history` sharing the server's history. Also, with no
server at all: a --history URL is never taken for a path."""
import json
import os
import subprocess
import sys

import pytest

from conftest import BUILD, run_pyab

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "e2e"))
from test_check import scenario  # noqa: E402  (the small leak service)


def test_history_suite_on_postgresql(pg_server):
    url = pg_server.createdb("suite")
    r = subprocess.run([str(BUILD / "tests" / "test-history")], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, PYAB_TEST_HISTORY_URL=url))
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "backend postgresql" in r.stdout
    assert "8 writers x 50 runs: 400 runs, 1600 metric rows" in r.stdout
    # The server holds what the suite wrote, no more: 400 + 3 + 12 + 3 runs of this pid's names.
    assert int(pg_server.psql("SELECT count(*) FROM runs WHERE scenario LIKE 'conc-%'",
                              db="suite")) == 400
    assert int(pg_server.psql("SELECT count(*) FROM runs WHERE scenario LIKE 'killed-%'",
                              db="suite")) == 3
    assert pg_server.psql("SELECT version FROM schema_version", db="suite") == "3"
    # Of the 400 passing runs of one scenario, the newest 5 keep their summary and manifest;
    # writers that commit together each prune without seeing the others' new rows, so up to
    # one more per concurrent writer may stay until the next write prunes them.
    kept = int(pg_server.psql("SELECT count(*) FROM run_documents d JOIN runs r ON"
                              " r.id = d.run_id WHERE r.scenario LIKE 'conc-%'", db="suite"))
    assert 5 <= kept <= 5 + 7, kept


V1 = """
CREATE TABLE runs (id BIGSERIAL PRIMARY KEY, scenario TEXT NOT NULL, date_utc TEXT NOT NULL,
  git_revision TEXT, pyab_version TEXT, results_dir TEXT NOT NULL, verdict TEXT,
  UNIQUE (scenario, date_utc, results_dir));
CREATE TABLE metrics (run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  arm TEXT NOT NULL, metric TEXT NOT NULL, value DOUBLE PRECISION, ci_low DOUBLE PRECISION,
  ci_high DOUBLE PRECISION, PRIMARY KEY (run_id, arm, metric));
INSERT INTO runs (scenario, date_utc, results_dir, verdict) VALUES
  ('old', '2020-01-01T00:00:00Z', '/o', 'pass');
INSERT INTO metrics VALUES (1, 'base', 'rss_slope', 3.5, 3, 4);
"""


def test_schema_migrates_and_a_newer_one_is_refused(pyab, pg_server, tmp_path):
    url = pg_server.createdb("old")
    pg_server.psql(V1, db="old")
    r = run_pyab(pyab, ["history", "old", "--db", url, "--json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    trend = json.loads(r.stdout)
    assert trend["arms"]["base"]["rss_slope"]["values"] == [3.5]
    assert pg_server.psql("SELECT version FROM schema_version", db="old") == "3"
    assert pg_server.psql("SELECT count(*) FROM information_schema.columns WHERE "
                          "table_name = 'runs' AND column_name = 'host'", db="old") == "1"
    pg_server.psql("UPDATE schema_version SET version = 99", db="old")
    r = run_pyab(pyab, ["history", "old", "--db", url], cwd=tmp_path)
    assert r.returncode == 2
    assert "schema version is 99, newer than this pyab knows (3)" in r.stderr


def test_check_and_history_share_the_server(pyab, pg_server, tmp_path):
    url = pg_server.createdb("shared")
    secret_url = pg_server.url("shared", password="hunter2-secret")
    sc = scenario(tmp_path / "svc", leak=0, reps=2, requests=5000)
    env = {"PYAB_HISTORY": secret_url}
    first = run_pyab(pyab, ["check", str(sc), "--out", str(tmp_path / "c1"), "--quiet"],
                     cwd=tmp_path, env=env)
    assert first.returncode in (0, 1), first.stdout + first.stderr
    # A second machine's check (another folder) finds the first as its baseline on the server.
    second = run_pyab(pyab, ["check", str(sc), "--out", str(tmp_path / "c2"), "--history",
                             secret_url], cwd=tmp_path)
    assert second.returncode in (0, 1), second.stdout + second.stderr
    summary = json.loads((tmp_path / "c2" / "svc" / "summary.json").read_text())
    assert summary["check"]["baseline"] == str(tmp_path / "c1" / "svc"), summary["check"]
    run = run_pyab(pyab, ["run", str(sc), "--out", str(tmp_path / "r"), "--quiet",
                          "--no-report"], cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert pg_server.psql("SELECT string_agg(verdict, ',' ORDER BY id) FROM runs", db="shared") \
        in ("pass,pass,run", "pass,fail,run", "fail,pass,run", "fail,fail,run")
    assert pg_server.psql("SELECT count(DISTINCT host) FROM runs", db="shared") == "1"
    hist = run_pyab(pyab, ["history", "svc", "--json"], cwd=tmp_path, env={"PYAB_HISTORY": url})
    assert hist.returncode == 0, hist.stderr
    assert len(json.loads(hist.stdout)["runs"]) == 3
    # A second pipeline's role that may only read sees the same trend (no DDL, no lock).
    pg_server.psql("DROP ROLE IF EXISTS dashboard; CREATE ROLE dashboard LOGIN;"
                   "GRANT SELECT ON ALL TABLES IN SCHEMA public TO dashboard", db="shared")
    ro = run_pyab(pyab, ["history", "svc", "--json", "--db", pg_server.url("shared", "dashboard")],
                  cwd=tmp_path)
    assert ro.returncode == 0, ro.stderr
    assert json.loads(ro.stdout)["runs"] == json.loads(hist.stdout)["runs"]
    # ... and may not write: a run with it stops before its first rep, exit 2.
    denied = run_pyab(pyab, ["run", str(sc), "--out", str(tmp_path / "denied"), "--history",
                             pg_server.url("shared", "dashboard")], cwd=tmp_path)
    assert denied.returncode == 2, denied.stderr
    assert "this role may read the history but not add runs to it" in denied.stderr
    assert not (tmp_path / "denied").exists()
    # A machine without those folders gets its baseline from the history's copy of the run.
    import shutil
    for k in ("c1", "c2"):
        shutil.move(tmp_path / k, tmp_path / f"{k}-elsewhere")
    third = run_pyab(pyab, ["check", str(sc), "--out", str(tmp_path / "c3"), "--quiet"],
                     cwd=tmp_path, env=env)
    assert third.returncode in (0, 1), third.stdout + third.stderr
    s3 = json.loads((tmp_path / "c3" / "svc" / "summary.json").read_text())
    assert s3["check"]["baseline"] == str(tmp_path / "c3" / "svc" / "baseline")
    copied = json.loads((tmp_path / "c3" / "svc" / "baseline" / "manifest.json").read_text())
    assert copied["started_utc"] in [
        json.loads((tmp_path / f"{k}-elsewhere" / "svc" / "manifest.json").read_text())
        ["started_utc"] for k in ("c1", "c2")]
    judged = [c for c in s3["check"]["checks"] if c.get("kind") == "regression"]
    assert judged and all(c["status"] in ("pass", "fail") for c in judged), judged
    # The service does not get PYAB_HISTORY (a service that prints its environment).
    (tmp_path / "svc" / "envsvc.py").write_text(
        "import os\nprint('history:', os.environ.get('PYAB_HISTORY'), flush=True)\n"
        "def handle(req):\n    return 1\n")
    data = json.loads(sc.read_text())
    data.update(name="envsvc", app={"path": "envsvc.py"})
    (tmp_path / "svc" / "envsvc.json").write_text(json.dumps(data))
    envrun = run_pyab(pyab, ["run", str(tmp_path / "svc" / "envsvc.json"), "--out",
                             str(tmp_path / "e"), "--quiet", "--no-report"], cwd=tmp_path, env=env)
    assert envrun.returncode == 0, envrun.stderr
    assert "history: None" in (tmp_path / "e" / "arms" / "base" / "rep-1" / "stdout.log").read_text()
    # The password is in no file pyab wrote and in none of its output.
    for out in (first, second, third, run, hist, envrun):
        assert "hunter2" not in out.stdout + out.stderr
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert b"hunter2" not in p.read_bytes(), p


def test_a_url_is_never_a_path(pyab, tmp_path):
    sc = scenario(tmp_path / "svc", leak=0, reps=1, requests=2000)
    for verb in (["run", str(sc), "--out", str(tmp_path / "out")], ["check", str(sc), "--out",
                                                                    str(tmp_path / "out")]):
        r = run_pyab(pyab, verb + ["--history", "mysql://ci:pw@db/pyab"], cwd=tmp_path)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "mysql://ci:***@db/pyab: unknown history scheme 'mysql'" in r.stderr
        assert not (tmp_path / "mysql:").exists() and not (tmp_path / "out").exists()
    r = run_pyab(pyab, ["history", "svc", "--db", "sqlite:///x.db"], cwd=tmp_path)
    assert r.returncode == 2 and "unknown history scheme 'sqlite'" in r.stderr
    # A server that cannot be reached is bad input too, named without its password.
    r = run_pyab(pyab, ["run", str(sc), "--out", str(tmp_path / "out"), "--history",
                        "postgresql://ci:pw@127.0.0.1:1/pyab?connect_timeout=2"], cwd=tmp_path)
    assert r.returncode == 2 and "postgresql://ci:***@127.0.0.1:1/pyab" in r.stderr
    assert ":pw@" not in r.stderr and not (tmp_path / "out").exists()


def test_sharded_run_merged_into_the_server(pyab, pg_server, tmp_path):
    """Two machines' shards, merged by a third step, go into the shared history as one run."""
    from test_shard import make_scenario
    url = pg_server.createdb("sharded")
    sc = make_scenario(tmp_path / "svc", reps=2)
    env = {"PYAB_HISTORY": url}
    for i in (1, 2):
        r = run_pyab(pyab, ["run", str(sc), "--out", str(tmp_path / f"s{i}"), "--shard",
                            f"{i}/2", "--quiet"], cwd=tmp_path, env=env)
        assert r.returncode == 0, r.stderr
    # A shard writes no history: its arms are partial.
    assert pg_server.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'runs'",
                          db="sharded") == "0"
    r = run_pyab(pyab, ["merge", str(tmp_path / "m"), str(tmp_path / "s1"), str(tmp_path / "s2"),
                        "--quiet", "--no-report"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert pg_server.psql("SELECT results_dir || ' ' || verdict FROM runs", db="sharded") == \
        f"{tmp_path / 'm'} run"
    assert int(pg_server.psql("SELECT count(*) FROM history WHERE arm = 'leaky'",
                              db="sharded")) >= 4


def test_a_silent_server_times_out_as_the_url_says(pyab, tmp_path):
    """A server that accepts and never answers: the URL's connect_timeout (libpq's
    minimum, 2 s) wins over pyab's 30 s default, and it is exit 2."""
    import socket
    import time
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        url = f"postgresql://ci@127.0.0.1:{s.getsockname()[1]}/pyab?connect_timeout=2" \
              "&sslmode=disable"
        t0 = time.monotonic()
        r = run_pyab(pyab, ["history", "svc", "--db", url], cwd=tmp_path, timeout=60)
        took = time.monotonic() - t0
    assert r.returncode == 2 and "timeout expired" in r.stderr, r.stderr
    assert 1.5 < took < 15, took


def test_credentials_from_the_url_the_environment_or_pgpass(pyab, pg_server, tmp_path):
    """A role that must give its password (scram): from the URL, from PGPASSWORD, from a
    pgpass file, as libpq reads them; a wrong one is exit 2, and no password is printed."""
    from pgserver import SECRET
    bare = f"postgresql://secretive@127.0.0.1:{pg_server.port}/pyab"
    with_pw = f"postgresql://secretive:{SECRET}@127.0.0.1:{pg_server.port}/pyab"
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_server.port}:pyab:secretive:{SECRET}\n")
    pgpass.chmod(0o600)
    # No password anywhere: refused by the server.
    r = run_pyab(pyab, ["history", "svc", "--db", bare], cwd=tmp_path,
                 env={"PGPASSFILE": str(tmp_path / "none"), "PGPASSWORD": ""})
    assert r.returncode == 2 and "cannot connect to the history database" in r.stderr, r.stderr
    for db, env in ((with_pw, {}), (bare, {"PGPASSWORD": SECRET}),
                    (bare, {"PGPASSFILE": str(pgpass)})):
        r = run_pyab(pyab, ["history", "nosuch", "--db", db], cwd=tmp_path,
                     env={"PGPASSFILE": str(tmp_path / "none"), **env})
        # Connected: the history is there (now migrated), the scenario is not.
        assert r.returncode == 2 and "no runs of scenario 'nosuch'" in r.stderr, (env, r.stderr)
        assert SECRET not in r.stdout + r.stderr
    wrong = with_pw.replace(SECRET, "wrong-pw-123")
    r = run_pyab(pyab, ["history", "svc", "--db", wrong], cwd=tmp_path,
                 env={"PGPASSFILE": str(tmp_path / "none")})
    assert r.returncode == 2 and "password authentication failed" in r.stderr, r.stderr
    assert "wrong-pw-123" not in r.stderr and "secretive:***@" in r.stderr
