/*
 * The history test suite, run against either backend: SQLite files in a
 * temporary folder by default, or the PostgreSQL database named by
 * $PYAB_TEST_HISTORY_URL (tests/test_history_pg.py starts a private server
 * and runs this program against it). Eight writer processes appending at
 * once while a reader reads the trend lose no run and show none torn; a
 * writer killed mid-transaction leaves no trace and no lock; the trend
 * reads back in order with a planted step found; the baseline lookup;
 * importing another database without duplicates; and the schema version.
 */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "history.h"
#include "history_store.h"

#define WRITERS 8
#define RUNS_PER_WRITER 50

/*
 * The temporary folder, the database under test and a second SQLite file,
 * set by main before the tests run. Static arrays, not the heap: the forked
 * writers _exit holding a copy of the parent's heap, and under valgrind a
 * heap path no live frame points to any more is a definite leak that fails
 * the writer.
 */
static char root[] = "/tmp/pyab-history-XXXXXX";
static char db_path[1024], other_path[sizeof(root) + 32];
/* Scenario names carry the pid: runs against one server never meet an earlier run's. */
static char tag[32];
static int on_server;

/* The database a test uses: its own SQLite file, or the one server. New string. */
static char *target(const char *file)
{
    return on_server ? xstrdup(db_path) : xasprintf("%s/%s", root, file);
}

static char *scenario_name(const char *base)
{
    return xasprintf("%s-%s", base, tag);
}

static json_t *summary(double slope)
{
    json_t *reps = json_array();

    for (int i = 0; i < 3; i++)
        json_array_append_new(reps, json_pack("{s:s, s:f, s:f, s:{s:f}}", "outcome", "ok",
                                              "peak_rss_bytes", 1048576.0 * (100 + i),
                                              "throughput_rps", 1000.0 + i, "latency_ms", "p99",
                                              2.0));
    return json_pack("{s:s, s:{s:{s:o, s:{s:{s:f, s:[ff]}}}}}", "scenario", "svc", "arms", "base",
                     "reps", reps, "slopes", "pyheap", "bytes_per_request", slope, "ci",
                     slope - 1, slope + 1);
}

/* The runs of a scenario and their metric rows, read through the history itself. */
static long count_runs(const char *db, const char *scenario, long *metrics)
{
    pyab_error err = {0};
    pyab_history *h = pyab_history_open(db, &err);
    json_t *runs = h ? pyab_history_runs(h, scenario, 0, &err) : NULL, *r;
    long n = runs ? (long)json_array_size(runs) : -1;
    size_t i;

    if (runs == NULL)
        fprintf(stderr, "count_runs: %s\n", err.text);
    if (metrics)
        *metrics = 0;
    json_array_foreach(runs, i, r)
        if (metrics)
            *metrics += (long)json_array_size(json_object_get(r, "metrics"));
    json_decref(runs);
    pyab_history_close(h);
    return n;
}

static int append_one(pyab_history *h, const char *scenario, const char *dir, pyab_error *err)
{
    json_t *s = summary(10), *m = json_pack("{s:s}", "git_revision", "abc");
    int rc;

    json_object_set_new(s, "scenario", json_string(scenario));
    rc = pyab_history_append(h, s, m, dir, "pass", err);
    json_decref(s);
    json_decref(m);
    return rc;
}

/* One writer process: its own connection, RUNS_PER_WRITER runs, each its own transaction. */
static int writer(const char *db, const char *scenario, int id)
{
    pyab_error err = {0};
    pyab_history *h = pyab_history_open(db, &err);

    if (h == NULL) {
        fprintf(stderr, "writer %d: %s\n", id, err.text);
        return 1;
    }
    for (int i = 0; i < RUNS_PER_WRITER; i++) {
        char dir[64];
        snprintf(dir, sizeof(dir), "/r/w%d-%d", id, i);
        if (append_one(h, scenario, dir, &err) < 0) {
            fprintf(stderr, "writer %d: %s\n", id, err.text);
            return 1;
        }
    }
    pyab_history_close(h);
    return 0;
}

/*
 * The reader beside the writers: reads every run until told to stop
 * (SIGTERM after the writers finish), and fails on a run seen without its
 * four metrics (torn), a count that went down, or a last read (after the
 * stop) without every run. Exit 0 when it read at least twice and saw
 * nothing wrong.
 */
static volatile sig_atomic_t reader_stop;

static void on_term(int sig)
{
    (void)sig;
    reader_stop = 1;
}

static int reader(const char *db, const char *scenario)
{
    pyab_error err = {0};
    pyab_history *h = pyab_history_open(db, &err);
    size_t seen = 0, reads = 0, i;
    json_t *runs, *r;

    if (h == NULL) {
        fprintf(stderr, "reader: %s\n", err.text);
        return 1;
    }
    for (;;) {
        /* The read after the stop sees every writer's last commit. */
        int last = reader_stop;
        if ((runs = pyab_history_runs(h, scenario, 0, &err)) == NULL) {
            fprintf(stderr, "reader: %s\n", err.text);
            return 1;
        }
        reads++;
        json_array_foreach(runs, i, r)
            if (json_array_size(json_object_get(r, "metrics")) != 4) {
                fprintf(stderr, "reader: a run with %zu metrics\n",
                        json_array_size(json_object_get(r, "metrics")));
                return 1;
            }
        if (json_array_size(runs) < seen) {
            fprintf(stderr, "reader: %zu runs after %zu\n", json_array_size(runs), seen);
            return 1;
        }
        seen = json_array_size(runs);
        json_decref(runs);
        if (last && reads >= 2)
            break;
    }
    if (seen != WRITERS * RUNS_PER_WRITER) {
        fprintf(stderr, "reader: %zu runs at the end, not %d\n", seen, WRITERS * RUNS_PER_WRITER);
        return 1;
    }
    printf("reader: %zu reads, %zu runs at the last\n", reads, seen);
    fflush(stdout); /* the reader leaves by _exit */
    pyab_history_close(h);
    return 0;
}

static int exited_ok(pid_t pid)
{
    int status;

    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_concurrent(void)
{
    char *db = target("sub/history.sqlite"), *sc = scenario_name("conc");
    pid_t pids[WRITERS], rd;
    long nruns, nmetrics;
    pyab_error err = {0};
    pyab_history *h;
    int ok = 1;

    /* The schema exists before the reader starts, as it would on a shared server. */
    pyab_history_close(pyab_history_open(db, &err));
    fflush(stdout); /* or each child would print the parent's buffered lines again */
    /* Set before the fork: a SIGTERM that comes before the reader is going must not kill it. */
    signal(SIGTERM, on_term);
    if ((rd = fork()) == 0)
        _exit(reader(db, sc));
    signal(SIGTERM, SIG_DFL);
    for (int w = 0; w < WRITERS; w++)
        if ((pids[w] = fork()) == 0)
            _exit(writer(db, sc, w));
    for (int w = 0; w < WRITERS; w++)
        ok &= exited_ok(pids[w]);
    kill(rd, SIGTERM);
    CHECK(ok);
    CHECK(exited_ok(rd));
    nruns = count_runs(db, sc, &nmetrics);
    CHECK(nruns == WRITERS * RUNS_PER_WRITER);
    /* pyheap_slope, peak_rss_mb, latency_p99_ms, throughput_rps per run. */
    CHECK(nmetrics == WRITERS * RUNS_PER_WRITER * 4);
    printf("concurrent: %d writers x %d runs: %ld runs, %ld metric rows\n", WRITERS,
           RUNS_PER_WRITER, nruns, nmetrics);
    /* Only the newest runs keep their documents (tests/test_history_pg.py counts the server's). */
    if (!on_server) {
        sqlite3 *raw;
        sqlite3_stmt *st;
        CHECK(sqlite3_open(db, &raw) == SQLITE_OK);
        CHECK(sqlite3_prepare_v2(raw, "SELECT count(*) FROM run_documents", -1, &st, NULL) ==
                  SQLITE_OK &&
              sqlite3_step(st) == SQLITE_ROW &&
              sqlite3_column_int(st, 0) == PYAB_HISTORY_KEEP_DOCUMENTS);
        sqlite3_finalize(st);
        sqlite3_close(raw);
    }
    if ((h = pyab_history_open(db, &err)) != NULL) {
        json_t *t = pyab_history_trend(h, sc, 0, &err);
        json_t *m = json_object_get(json_object_get(json_object_get(t, "arms"), "base"),
                                    "peak_rss_mb");
        size_t i, right = 0;
        json_t *v;
        json_array_foreach(json_object_get(m, "values"), i, v)
            right += json_number_value(v) == 101 &&
                     json_number_value(json_array_get(json_object_get(m, "ci_low"), i)) == 100 &&
                     json_number_value(json_array_get(json_object_get(m, "ci_high"), i)) == 102;
        CHECK(right == WRITERS * RUNS_PER_WRITER);
        json_decref(t);
    }
    pyab_history_close(h);
    free(db);
    free(sc);
}

/* The killed writer's hook: says it is mid-transaction, then waits for SIGKILL. */
static int midway_fd = -1;

static void stall(void)
{
    if (write(midway_fd, "x", 1) != 1)
        _exit(3);
    for (;;)
        pause();
}

/*
 * A writer killed between its rows and COMMIT: the history keeps the runs
 * committed before and none of the killed one, and the next writer is not
 * kept waiting on a lock the dead one held.
 */
static void test_killed_writer(void)
{
    char *db = target("killed.sqlite"), *sc = scenario_name("killed");
    pyab_error err = {0};
    pyab_history *h;
    int fds[2], status;
    long nmetrics = 0;
    char c;
    pid_t pid;

    CHECK(pipe(fds) == 0);
    fflush(stdout);
    if ((pid = fork()) == 0) {
        close(fds[0]);
        h = pyab_history_open(db, &err);
        if (h == NULL || append_one(h, sc, "/k/1", &err) < 0 || append_one(h, sc, "/k/2", &err) < 0)
            _exit(2);
        midway_fd = fds[1];
        pyab_history_midway_hook = stall;
        append_one(h, sc, "/k/3", &err);
        _exit(4);
    }
    close(fds[1]);
    CHECK(read(fds[0], &c, 1) == 1); /* the third run's rows are written, not committed */
    kill(pid, SIGKILL);
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
    close(fds[0]);
    CHECK(count_runs(db, sc, &nmetrics) == 2);
    CHECK(nmetrics == 2 * 4);
    h = pyab_history_open(db, &err);
    CHECK(h != NULL);
    if (h) {
        time_t t0 = time(NULL);
        CHECK(append_one(h, sc, "/k/3", &err) == 0);
        CHECK(time(NULL) - t0 < 10);
        pyab_history_close(h);
    }
    CHECK(count_runs(db, sc, &nmetrics) == 3);
    CHECK(nmetrics == 3 * 4);
    free(db);
    free(sc);
}

/* Imports from a SQLite file into the database under test: shards' files into a server, too. */
static void test_trend(void)
{
    char *db = target("sub/history.sqlite"), *sc = scenario_name("stepper");
    pyab_error err = {0};
    pyab_history *h = pyab_history_open(db, &err);
    pyab_history *o = pyab_history_open(other_path, &err);
    json_t *t, *m;

    free(db);
    CHECK(h != NULL && o != NULL);
    if (h == NULL || o == NULL) {
        free(sc);
        return;
    }
    for (int i = 0; i < 12; i++) {
        json_t *s = summary(i < 7 ? 1 + 0.1 * (i % 3) : 200 + 0.1 * (i % 3));
        json_t *man = json_pack("{s:s, s:s}", "started_utc", "2030-01-01T00:00:00Z",
                                "git_revision", i < 7 ? "v1" : "v2");
        char dir[64];
        snprintf(dir, sizeof(dir), "/t/%02d", i);
        json_object_set_new(s, "scenario", json_string(sc));
        CHECK(pyab_history_append(o, s, man, dir, i == 11 ? "fail" : "pass", &err) == 0);
        json_decref(s);
        json_decref(man);
    }
    CHECK(pyab_history_import(h, other_path, &err) == 0);
    CHECK(pyab_history_import(h, other_path, &err) == 0); /* twice: nothing doubles */
    t = pyab_history_trend(h, sc, 30, &err);
    CHECK(t != NULL);
    CHECK(json_array_size(json_object_get(t, "runs")) == 12);
    m = json_object_get(json_object_get(json_object_get(t, "arms"), "base"), "pyheap_slope");
    CHECK(json_array_size(json_object_get(m, "values")) == 12);
    CHECK(json_array_size(json_object_get(m, "change_points")) == 1);
    CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(m, "change_points"),
                                                            0), "run")) == 7);
    m = json_object_get(json_object_get(json_object_get(t, "arms"), "base"), "peak_rss_mb");
    CHECK(json_array_size(json_object_get(m, "change_points")) == 0);
    json_decref(t);
    t = pyab_history_trend(h, sc, 5, &err);
    CHECK(json_array_size(json_object_get(t, "runs")) == 5);
    json_decref(t);
    /* The newest passing run whose folder exists: none of /t/ exists. */
    CHECK(pyab_history_baseline(h, sc, NULL, NULL) == NULL);
    pyab_history_close(h);
    pyab_history_close(o);
    free(sc);
}

/* A results folder with a summary (status, reps of arm base) and a manifest asking for 3 reps. */
static void write_run(const char *dir, const char *sc, const char *status,
                      const char *const *outcomes, int n)
{
    json_t *reps = json_array(), *s, *m;
    char *p;
    int ok = 0;

    for (int i = 0; i < n; i++) {
        ok += strcmp(outcomes[i], "ok") == 0;
        json_array_append_new(reps, json_pack("{s:i, s:s, s:s?}", "rep", i + 1, "outcome",
                                              outcomes[i], "reason",
                                              strcmp(outcomes[i], "ok") ? "boom" : NULL));
    }
    s = json_pack("{s:s, s:s, s:{s:{s:o, s:i, s:{s:{s:f, s:[ff]}}}}}", "scenario", sc,
                  "status", status, "arms", "base", "reps", reps, "reps_ok", ok, "slopes",
                  "pyheap", "bytes_per_request", 5.0, "ci", 4.0, 6.0);
    m = json_pack("{s:i, s:s}", "reps", 3, "started_utc", dir + strlen(dir) - 20);
    pyab_mkdirs(dir);
    p = pyab_path_join(dir, "summary.json");
    json_dump_file(s, p, 0);
    free(p);
    p = pyab_path_join(dir, "manifest.json");
    json_dump_file(m, p, 0);
    free(p);
    json_decref(s);
    json_decref(m);
}

static int append_run(pyab_history *h, const char *dir, const char *verdict)
{
    pyab_error err = {0};
    char *sp = pyab_path_join(dir, "summary.json"), *mp = pyab_path_join(dir, "manifest.json");
    json_t *s = json_load_file(sp, 0, NULL), *m = json_load_file(mp, 0, NULL);
    int rc = pyab_history_append(h, s, m, dir, verdict, &err);

    json_decref(s);
    json_decref(m);
    free(sp);
    free(mp);
    return rc;
}

/*
 * An interrupted check is recorded as "error" with no metrics, and neither
 * it nor a "pass" row (from an older pyab) whose run lacks reps is ever
 * a baseline.
 */
/* Runs of a scenario with a verdict, and how many metric rows they hold. */
static long with_verdict(pyab_history *h, const char *sc, const char *verdict, long *metrics)
{
    pyab_error err = {0};
    json_t *runs = pyab_history_runs(h, sc, 0, &err), *r;
    long n = 0;
    size_t i;

    *metrics = 0;
    json_array_foreach(runs, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "verdict")), verdict) != 0)
            continue;
        n++;
        *metrics += (long)json_array_size(json_object_get(r, "metrics"));
    }
    json_decref(runs);
    return runs ? n : -1;
}

/*
 * Another machine's passing run: its folder is not here, but the history
 * keeps its summary and manifest, and with a cache folder they become the
 * baseline (the crashed "pass" run, stored too, is still not one).
 */
static void test_baseline_elsewhere(pyab_history *h, const char *sc, const char *dir)
{
    char *away = xasprintf("%s.away", dir), *cache = xasprintf("%s/cache-%s", root, tag);
    char *got_path = pyab_path_join(cache, "summary.json");
    char *want_path = pyab_path_join(away, "summary.json");
    char *base;

    CHECK(rename(dir, away) == 0);
    CHECK(pyab_history_baseline(h, sc, NULL, NULL) == NULL);
    base = pyab_history_baseline(h, sc, NULL, cache);
    CHECK(base != NULL && strcmp(base, cache) == 0);
    json_t *got = json_load_file(got_path, 0, NULL), *want = json_load_file(want_path, 0, NULL);
    CHECK(got != NULL && json_equal(got, want));
    json_decref(got);
    json_decref(want);
    free(base);
    CHECK(rename(away, dir) == 0);
    free(away);
    free(cache);
    free(got_path);
    free(want_path);
}

static void test_incomplete(void)
{
    static const char *const all_ok[] = {"ok", "ok", "ok"}, *const one[] = {"ok"};
    static const char *const crashed[] = {"ok", "crashed", "ok"};
    char *db = target("inc.sqlite"), *a = xasprintf("%s/2030-01-01T00:00:00Z", root);
    char *sc = scenario_name("base");
    char *b = xasprintf("%s/2030-01-02T00:00:00Z", root);
    char *c = xasprintf("%s/2030-01-03T00:00:00Z", root);
    pyab_error err = {0};
    pyab_history *h = pyab_history_open(db, &err);
    json_t *s, *m;
    char *why, *base;
    long nm;

    CHECK(h != NULL);
    if (h == NULL)
        return;
    write_run(a, sc, "complete", all_ok, 3);
    write_run(b, sc, "interrupted", one, 1);
    write_run(c, sc, "complete", crashed, 3);
    CHECK(append_run(h, a, "pass") == 0);
    CHECK(append_run(h, b, "pass") == 0); /* told "pass": the status says otherwise */
    CHECK(append_run(h, c, "pass") == 0); /* as an older pyab recorded a crashed rep */
    CHECK(with_verdict(h, sc, "error", &nm) == 1);
    CHECK(nm == 0);
    CHECK(with_verdict(h, sc, "pass", &nm) == 2);
    CHECK(nm > 0);
    base = pyab_history_baseline(h, sc, NULL, NULL);
    CHECK(base != NULL && strcmp(base, a) == 0);
    free(base);
    CHECK(pyab_history_baseline(h, sc, a, NULL) == NULL);
    test_baseline_elsewhere(h, sc, a);

    s = json_pack("{s:s, s:{s:{s:i}}}", "status", "complete", "arms", "x", "reps_ok", 3);
    m = json_pack("{s:i}", "reps", 3);
    CHECK(pyab_history_incomplete(s, m) == NULL);
    json_decref(s);
    s = json_pack("{s:s, s:{s:{s:i, s:[{s:i, s:s}, {s:i, s:s, s:s}]}}}", "status", "interrupted",
                  "arms", "x", "reps_ok", 1, "reps", "rep", 1, "outcome", "ok", "rep", 2,
                  "outcome", "interrupted", "reason", "stopped by a signal");
    why = pyab_history_incomplete(s, m);
    CHECK_CONTAINS(why, "the run was interrupted; arm x has 1 of 3 reps ok "
                        "(rep 2 interrupted: stopped by a signal)");
    free(why);
    json_decref(s);
    json_decref(m);
    pyab_history_close(h);
    free(db);
    free(sc);
    free(a);
    free(b);
    free(c);
}

/* A URL is never a path: an unknown scheme is refused and makes no folder; passwords hidden. */
static void test_targets(void)
{
    pyab_error err = {0};
    char *p = xasprintf("%s/mysql:", root), *shown;

    CHECK(pyab_history_open("mysql://u:pw@localhost/db", &err) == NULL);
    CHECK(err.exit_code == PYAB_EXIT_USAGE);
    CHECK_CONTAINS(err.text, "unknown history scheme 'mysql'");
    CHECK(strstr(err.text, "pw") == NULL);
    CHECK(access("mysql:", F_OK) != 0 && access(p, F_OK) != 0);
    CHECK(pyab_history_is_url("postgresql://h/db") && pyab_history_is_url("file:///x"));
    CHECK(!pyab_history_is_url("results/history.sqlite") && !pyab_history_is_url("c:/x") &&
          !pyab_history_is_url("odd:name.sqlite"));
    shown = pyab_history_shown("postgresql://ci:s3cret@db.example:5433/pyab?sslmode=require");
    CHECK(strcmp(shown, "postgresql://ci:***@db.example:5433/pyab?sslmode=require") == 0);
    free(shown);
    shown = pyab_history_shown("postgres://db/pyab?user=ci&password=s3cret&sslmode=require");
    CHECK(strcmp(shown, "postgres://db/pyab?user=ci&password=***&sslmode=require") == 0);
    free(shown);
    shown = pyab_history_shown("postgresql://ci@db/pyab");
    CHECK(strcmp(shown, "postgresql://ci@db/pyab") == 0);
    free(shown);
    shown = pyab_history_shown("postgresql://ci:p@ss@db:5432/pyab"); /* an unencoded '@' */
    CHECK(strcmp(shown, "postgresql://ci:***@db:5432/pyab") == 0);
    free(shown);
    shown = pyab_history_shown("x");
    CHECK(strcmp(shown, "x") == 0);
    free(shown);
    /* libpq's key=value form is refused (never a file), and its password hidden too. */
    CHECK(pyab_history_open("host=db password=s3cret dbname=pyab", &err) == NULL);
    CHECK(err.exit_code == PYAB_EXIT_USAGE);
    CHECK_CONTAINS(err.text, "host=db password=*** dbname=pyab: looks like a libpq connection");
    CHECK(access("host=db password=s3cret dbname=pyab", F_OK) != 0);
    /* A server that is not there: exit 2 naming the target, without its password. */
    CHECK(pyab_history_open("postgresql://ci:s3cret@127.0.0.1:1/pyab?connect_timeout=2",
                            &err) == NULL);
    CHECK(err.exit_code == PYAB_EXIT_USAGE);
    CHECK_CONTAINS(err.text, "postgresql://ci:***@127.0.0.1:1/pyab");
    CHECK(strstr(err.text, "s3cret") == NULL);
    free(p);
}

/*
 * A first-generation history (the tables, no version) is migrated to the
 * current schema, keeping its runs; one of a newer schema is refused.
 * SQLite only: tests/test_history_pg.py does the same on the server.
 */
static void test_schema(void)
{
    char *db = xasprintf("%s/old.sqlite", root), *sc = scenario_name("old");
    pyab_error err = {0};
    pyab_history *h;
    sqlite3 *raw;
    json_t *runs;
    char *sql;

    CHECK(sqlite3_open(db, &raw) == SQLITE_OK);
    sql = xasprintf("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, scenario TEXT NOT"
                    " NULL, date_utc TEXT NOT NULL, git_revision TEXT, pyab_version TEXT,"
                    " results_dir TEXT NOT NULL, verdict TEXT,"
                    " UNIQUE (scenario, date_utc, results_dir));"
                    "CREATE TABLE metrics (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE"
                    " CASCADE, arm TEXT NOT NULL, metric TEXT NOT NULL, value REAL, ci_low REAL,"
                    " ci_high REAL, PRIMARY KEY (run_id, arm, metric));"
                    "INSERT INTO runs VALUES (1, '%s', '2020-01-01T00:00:00Z', 'r', '0.1', '/o',"
                    " 'pass');"
                    "INSERT INTO metrics VALUES (1, 'base', 'rss_slope', 3.5, 3, 4);", sc);
    CHECK(sqlite3_exec(raw, sql, NULL, NULL, NULL) == SQLITE_OK);
    free(sql);
    sqlite3_close(raw);
    h = pyab_history_open(db, &err);
    CHECK(h != NULL);
    if (h) {
        CHECK(append_one(h, sc, "/n", &err) == 0);
        runs = pyab_history_runs(h, sc, 0, &err);
        CHECK(json_array_size(runs) == 2);
        CHECK(json_array_size(json_object_get(json_array_get(runs, 0), "metrics")) == 1);
        json_decref(runs);
        pyab_history_close(h);
    }
    CHECK(sqlite3_open(db, &raw) == SQLITE_OK);
    CHECK(sqlite3_exec(raw, "UPDATE schema_version SET version = 99", NULL, NULL, NULL) ==
          SQLITE_OK);
    sqlite3_close(raw);
    CHECK(pyab_history_open(db, &err) == NULL);
    CHECK(err.exit_code == PYAB_EXIT_USAGE);
    CHECK_CONTAINS(err.text, "schema version is 99, newer than this pyab knows (3)");
    free(db);
    free(sc);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_concurrent),
    CHECK_TEST(test_killed_writer),
    CHECK_TEST(test_trend),
    CHECK_TEST(test_incomplete),
    CHECK_TEST(test_targets),
    CHECK_TEST(test_schema),
};

int main(int argc, char **argv)
{
    const char *url;
    char *cmd;
    int rc;

    if (mkdtemp(root) == NULL)
        return 1;
    url = getenv("PYAB_TEST_HISTORY_URL");
    on_server = url && url[0];
    snprintf(db_path, sizeof(db_path), "%s", on_server ? url : "");
    snprintf(other_path, sizeof(other_path), "%s/other.sqlite", root);
    snprintf(tag, sizeof(tag), "%ld-%ld", (long)getpid(), (long)time(NULL));
    printf("history: backend %s\n", on_server ? "postgresql" : "sqlite");
    rc = check_run("history", tests, CHECK_COUNT(tests), argc, argv);
    cmd = xasprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    free(cmd);
    return rc;
}
