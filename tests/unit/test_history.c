/*
 * Unit tests of the history database: two processes appending at once lose
 * no row, the trend reads back in order with a planted step found, the
 * baseline lookup, and importing another database without duplicates.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "history.h"

#define RUNS_PER_WRITER 150

/*
 * The temporary folder and the two databases in it, set by main before the
 * tests run. Static arrays, not the heap: the forked writers _exit holding
 * a copy of the parent's heap, and under valgrind a heap path no live frame
 * points to any more is a definite leak that fails the writer.
 */
static char root[] = "/tmp/pyab-history-XXXXXX";
static char db_path[sizeof(root) + 32], other_path[sizeof(root) + 32];

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

static long count(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long n = -1;

    sqlite3_open(db, &h);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* One writer process: its own connection, RUNS_PER_WRITER runs, each its own transaction. */
static int writer(const char *db, int id)
{
    pyab_error err = {0};
    pyab_history *h = pyab_history_open(db, &err);

    if (h == NULL) {
        fprintf(stderr, "writer %d: %s\n", id, err.text);
        return 1;
    }
    for (int i = 0; i < RUNS_PER_WRITER; i++) {
        json_t *s = summary(10), *m = json_pack("{s:s}", "git_revision", "abc");
        char dir[64];
        snprintf(dir, sizeof(dir), "/r/w%d-%d", id, i);
        if (pyab_history_append(h, s, m, dir, "pass", &err) < 0) {
            fprintf(stderr, "writer %d: %s\n", id, err.text);
            return 1;
        }
        json_decref(s);
        json_decref(m);
    }
    pyab_history_close(h);
    return 0;
}

static void test_concurrent(void)
{
    pid_t pids[2];
    int status, ok = 1;

    for (int w = 0; w < 2; w++)
        if ((pids[w] = fork()) == 0)
            _exit(writer(db_path, w));
    for (int w = 0; w < 2; w++)
        ok &= waitpid(pids[w], &status, 0) == pids[w] && WIFEXITED(status) &&
              WEXITSTATUS(status) == 0;
    CHECK(ok);
    CHECK(count(db_path, "SELECT count(*) FROM runs") == 2 * RUNS_PER_WRITER);
    /* pyheap_slope, peak_rss_mb, latency_p99_ms, throughput_rps per run. */
    CHECK(count(db_path, "SELECT count(*) FROM metrics") == 2 * RUNS_PER_WRITER * 4);
    CHECK(count(db_path, "SELECT count(*) FROM history WHERE metric = 'peak_rss_mb' "
                         "AND value = 101 AND ci_low = 100 AND ci_high = 102") ==
          2 * RUNS_PER_WRITER);
}

static void test_trend(void)
{
    pyab_error err = {0};
    pyab_history *h = pyab_history_open(db_path, &err);
    pyab_history *o = pyab_history_open(other_path, &err);
    json_t *t, *m;

    CHECK(h != NULL && o != NULL);
    if (h == NULL || o == NULL)
        return;
    for (int i = 0; i < 12; i++) {
        json_t *s = summary(i < 7 ? 1 + 0.1 * (i % 3) : 200 + 0.1 * (i % 3));
        json_t *man = json_pack("{s:s, s:s}", "started_utc", "2030-01-01T00:00:00Z",
                                "git_revision", i < 7 ? "v1" : "v2");
        char dir[64];
        snprintf(dir, sizeof(dir), "/t/%02d", i);
        json_object_set_new(s, "scenario", json_string("stepper"));
        CHECK(pyab_history_append(o, s, man, dir, i == 11 ? "fail" : "pass", &err) == 0);
        json_decref(s);
        json_decref(man);
    }
    CHECK(pyab_history_import(h, other_path, &err) == 0);
    CHECK(pyab_history_import(h, other_path, &err) == 0); /* twice: nothing doubles */
    t = pyab_history_trend(h, "stepper", 30, &err);
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
    t = pyab_history_trend(h, "stepper", 5, &err);
    CHECK(json_array_size(json_object_get(t, "runs")) == 5);
    json_decref(t);
    /* The newest passing run whose folder exists: none of /t/ exists. */
    CHECK(pyab_history_baseline(h, "stepper", NULL) == NULL);
    pyab_history_close(h);
    pyab_history_close(o);
}

/* A results folder with a summary (status, reps of arm base) and a manifest asking for 3 reps. */
static void write_run(const char *dir, const char *status, const char *const *outcomes, int n)
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
    s = json_pack("{s:s, s:s, s:{s:{s:o, s:i, s:{s:{s:f, s:[ff]}}}}}", "scenario", "base",
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
static void test_incomplete(void)
{
    static const char *const all_ok[] = {"ok", "ok", "ok"}, *const one[] = {"ok"};
    static const char *const crashed[] = {"ok", "crashed", "ok"};
    char *db = xasprintf("%s/inc.sqlite", root), *a = xasprintf("%s/2030-01-01T00:00:00Z", root);
    char *b = xasprintf("%s/2030-01-02T00:00:00Z", root);
    char *c = xasprintf("%s/2030-01-03T00:00:00Z", root);
    pyab_error err = {0};
    pyab_history *h = pyab_history_open(db, &err);
    json_t *s, *m;
    char *why, *base;

    CHECK(h != NULL);
    if (h == NULL)
        return;
    write_run(a, "complete", all_ok, 3);
    write_run(b, "interrupted", one, 1);
    write_run(c, "complete", crashed, 3);
    CHECK(append_run(h, a, "pass") == 0);
    CHECK(append_run(h, b, "pass") == 0); /* told "pass": the status says otherwise */
    CHECK(append_run(h, c, "pass") == 0); /* as an older pyab recorded a crashed rep */
    CHECK(count(db, "SELECT count(*) FROM runs WHERE verdict = 'error'") == 1);
    CHECK(count(db, "SELECT count(*) FROM runs r JOIN metrics m ON m.run_id = r.id"
                    " WHERE r.verdict = 'error'") == 0);
    CHECK(count(db, "SELECT count(*) FROM runs r JOIN metrics m ON m.run_id = r.id"
                    " WHERE r.verdict = 'pass'") > 0);
    base = pyab_history_baseline(h, "base", NULL);
    CHECK(base != NULL && strcmp(base, a) == 0);
    free(base);
    CHECK(pyab_history_baseline(h, "base", a) == NULL);

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
    free(a);
    free(b);
    free(c);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_concurrent),
    CHECK_TEST(test_trend),
    CHECK_TEST(test_incomplete),
};

int main(int argc, char **argv)
{
    char *cmd;
    int rc;

    if (mkdtemp(root) == NULL)
        return 1;
    snprintf(db_path, sizeof(db_path), "%s/sub/history.sqlite", root);
    snprintf(other_path, sizeof(other_path), "%s/other.sqlite", root);
    rc = check_run("history", tests, CHECK_COUNT(tests), argc, argv);
    cmd = xasprintf("rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    free(cmd);
    return rc;
}
