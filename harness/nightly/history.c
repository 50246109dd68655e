#include "history.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"
#include "changes.h"
#include "stats.h"

struct pyab_history {
    sqlite3 *db;
    char *path;
};

/* Long enough for a shard that waits on nine others writing their runs. */
#define BUSY_TIMEOUT_MS 60000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS runs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " scenario TEXT NOT NULL, date_utc TEXT NOT NULL, git_revision TEXT,"
    " pyab_version TEXT, results_dir TEXT NOT NULL, verdict TEXT,"
    " UNIQUE (scenario, date_utc, results_dir));"
    "CREATE TABLE IF NOT EXISTS metrics ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " arm TEXT NOT NULL, metric TEXT NOT NULL,"
    " value REAL, ci_low REAL, ci_high REAL,"
    " PRIMARY KEY (run_id, arm, metric));"
    "CREATE INDEX IF NOT EXISTS runs_by_scenario ON runs(scenario, date_utc);"
    "CREATE VIEW IF NOT EXISTS history AS"
    " SELECT r.scenario, m.arm, m.metric, m.value, m.ci_low, m.ci_high, r.date_utc,"
    " r.git_revision, r.pyab_version, r.results_dir, r.verdict, r.id AS run_id"
    " FROM metrics m JOIN runs r ON r.id = m.run_id;";

static const char *const metric_names[] = {
    "rss_slope", "pyheap_slope", "native_slope", "peak_rss_mb", "gc_pause_p99_ms",
    "latency_p99_ms", "throughput_rps",
};

static int db_fail(pyab_history *h, pyab_error *err, const char *what)
{
    return pyab_error_internal(err, "%s: %s: %s", h->path, what, sqlite3_errmsg(h->db));
}

static int exec(pyab_history *h, const char *sql, pyab_error *err)
{
    if (sqlite3_exec(h->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(h, err, "database error");
    return 0;
}

void pyab_history_close(pyab_history *h)
{
    if (h == NULL)
        return;
    sqlite3_close(h->db);
    free(h->path);
    free(h);
}

pyab_history *pyab_history_open(const char *path, pyab_error *err)
{
    pyab_history *h = xcalloc(1, sizeof(*h));
    char *dir = pyab_path_dirname(path);
    int rc;

    h->path = xstrdup(path);
    if ((rc = pyab_mkdirs(dir)) < 0) {
        pyab_error_set(err, "%s: cannot create its folder: %s", path, strerror(-rc));
        goto fail;
    }
    if (sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        pyab_error_set(err, "%s: cannot open the history database: %s", path,
                       h->db ? sqlite3_errmsg(h->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(h->db, BUSY_TIMEOUT_MS);
    /* Switching to WAL takes a lock the busy handler does not wait for; retry a while. */
    for (int tries = 0; tries < 600; tries++) {
        rc = sqlite3_exec(h->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            break;
        usleep(50000);
    }
    if (rc != SQLITE_OK) {
        pyab_error_set(err, "%s: not a usable history database: %s", path, sqlite3_errmsg(h->db));
        goto fail;
    }
    if (exec(h, "PRAGMA foreign_keys=ON; BEGIN IMMEDIATE", err) < 0)
        goto fail;
    if (exec(h, schema, err) < 0 || exec(h, "COMMIT", err) < 0) {
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    free(dir);
    return h;
fail:
    free(dir);
    pyab_history_close(h);
    return NULL;
}

/*
 * The figures one arm adds to the history: slopes with their pooled
 * interval, per-rep metrics as the median of the ok reps and their range
 * (latency p99: the arm's merged-histogram p99, the one figure shown
 * everywhere, with the reps' range).
 * The per-rep values are the budgets' (budget.h), so both read a metric
 * alike. New reference.
 */
static json_t *arm_metrics(json_t *arm)
{
    json_t *out = json_object();

    for (size_t i = 0; i < PYAB_ARRAY_LEN(metric_names); i++) {
        const char *m = metric_names[i];
        json_t *vals = pyab_budget_rep_values(arm, m), *entry = NULL;
        size_t n = json_array_size(vals);
        if (strstr(m, "_slope") != NULL) {
            char *key = xstrndup(m, strlen(m) - strlen("_slope"));
            json_t *s = json_object_get(json_object_get(arm, "slopes"), key);
            json_t *ci = json_object_get(s, "ci");
            free(key);
            if (json_is_number(json_object_get(s, "bytes_per_request")))
                entry = json_pack("{s:O, s:O}", "value", json_object_get(s, "bytes_per_request"),
                                  "ci", json_is_array(ci) ? ci : json_null());
        } else if (n > 0) {
            double *x = xcalloc(n, sizeof(double)), lo = INFINITY, hi = -INFINITY;
            for (size_t k = 0; k < n; k++) {
                x[k] = json_number_value(json_array_get(vals, k));
                lo = fmin(lo, x[k]);
                hi = fmax(hi, x[k]);
            }
            /* The arm's one p99 is its merged histogram's (results.c), as everywhere else. */
            json_t *merged = json_object_get(json_object_get(arm, "latency_ms"), "p99");
            double value = strcmp(m, "latency_p99_ms") == 0 && json_is_number(merged)
                               ? json_number_value(merged)
                               : pyab_stats_median(x, n);
            entry = json_pack("{s:f, s:[ff]}", "value", value, "ci", lo, hi);
            free(x);
        }
        if (entry)
            json_object_set_new(out, m, entry);
        json_decref(vals);
    }
    return out;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void bind_num(sqlite3_stmt *st, int i, json_t *v)
{
    if (json_is_number(v))
        sqlite3_bind_double(st, i, json_number_value(v));
    else
        sqlite3_bind_null(st, i);
}

static int insert_metrics(pyab_history *h, sqlite3_int64 run, json_t *summary, pyab_error *err)
{
    sqlite3_stmt *st = NULL;
    const char *arm_name, *metric;
    json_t *arm, *m;
    int rc = 0;

    if (sqlite3_prepare_v2(h->db, "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(h, err, "cannot prepare");
    json_object_foreach(json_object_get(summary, "arms"), arm_name, arm) {
        json_t *ms = arm_metrics(arm);
        json_object_foreach(ms, metric, m) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, run);
            bind_text(st, 2, arm_name);
            bind_text(st, 3, metric);
            bind_num(st, 4, json_object_get(m, "value"));
            bind_num(st, 5, json_array_get(json_object_get(m, "ci"), 0));
            bind_num(st, 6, json_array_get(json_object_get(m, "ci"), 1));
            if (sqlite3_step(st) != SQLITE_DONE && rc == 0)
                rc = db_fail(h, err, "cannot insert a metric");
        }
        json_decref(ms);
    }
    sqlite3_finalize(st);
    return rc;
}

static char *now_utc(void)
{
    char buf[32];
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return xstrdup(buf);
}

/* A rep's outcome and reason, for the message of an incomplete run. */
static void note_bad_rep(pyab_buf *b, json_t *reps)
{
    json_t *rep;
    size_t i;

    json_array_foreach(reps, i, rep) {
        const char *outcome = json_string_value(json_object_get(rep, "outcome"));
        const char *reason = json_string_value(json_object_get(rep, "reason"));
        if (outcome && strcmp(outcome, "ok") == 0)
            continue;
        size_t n = reason ? strlen(reason) : 0;
        while (n > 0 && (reason[n - 1] == '\n' || reason[n - 1] == ' '))
            n--; /* a traceback's last newline */
        pyab_buf_addf(b, " (rep %lld %s%s%.*s)", (long long)json_integer_value(
                      json_object_get(rep, "rep")), outcome ? outcome : "did not report",
                      reason ? ": " : "", (int)n, reason ? reason : "");
        return;
    }
}

char *pyab_history_incomplete(json_t *summary, json_t *manifest)
{
    const char *status = json_string_value(json_object_get(summary, "status"));
    json_int_t want = json_integer_value(json_object_get(manifest, "reps"));
    const char *name;
    json_t *arm;
    pyab_buf b;

    pyab_buf_init(&b);
    if (status && (strcmp(status, "interrupted") == 0 || strcmp(status, "failed") == 0))
        pyab_buf_addf(&b, "the run %s", status[0] == 'i' ? "was interrupted" : "failed");
    else if (status == NULL || strcmp(status, "complete") != 0)
        pyab_buf_addf(&b, "the run did not complete (status %s)", status ? status : "missing");
    json_object_foreach(json_object_get(summary, "arms"), name, arm) {
        json_int_t ok = json_integer_value(json_object_get(arm, "reps_ok"));
        if (ok >= want && ok > 0)
            continue;
        pyab_buf_addf(&b, "%sarm %s has %lld of %lld reps ok", b.len ? "; " : "", name,
                      (long long)ok, (long long)want);
        note_bad_rep(&b, json_object_get(arm, "reps"));
    }
    if (b.len == 0 && json_object_size(json_object_get(summary, "arms")) == 0)
        pyab_buf_adds(&b, "the run has no arms");
    if (b.len == 0) {
        pyab_buf_finish(&b);
        return NULL;
    }
    return b.data;
}

int pyab_history_append(pyab_history *h, json_t *summary, json_t *manifest, const char *dir,
                        const char *verdict, pyab_error *err)
{
    sqlite3_stmt *st = NULL;
    const char *date = json_string_value(json_object_get(manifest, "started_utc"));
    const char *status = json_string_value(json_object_get(summary, "status"));
    char *now = now_utc();
    int rc;

    /* An interrupted or failed run's figures are partial: its row says so, and it has none. */
    if (status && strcmp(status, "complete") != 0)
        verdict = "error";

    if ((rc = exec(h, "BEGIN IMMEDIATE", err)) < 0)
        goto out;
    if (sqlite3_prepare_v2(h->db, "INSERT OR REPLACE INTO runs (scenario, date_utc, git_revision,"
                           " pyab_version, results_dir, verdict) VALUES (?, ?, ?, ?, ?, ?)", -1,
                           &st, NULL) != SQLITE_OK) {
        rc = db_fail(h, err, "cannot prepare");
        goto rollback;
    }
    bind_text(st, 1, json_string_value(json_object_get(summary, "scenario")));
    bind_text(st, 2, date ? date : now);
    bind_text(st, 3, json_string_value(json_object_get(manifest, "git_revision")));
    bind_text(st, 4, json_string_value(
        json_object_get(json_object_get(manifest, "versions"), "pyab")));
    bind_text(st, 5, dir);
    bind_text(st, 6, verdict);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_fail(h, err, "cannot insert the run");
        goto rollback;
    }
    if (strcmp(verdict ? verdict : "", "error") != 0 &&
        (rc = insert_metrics(h, sqlite3_last_insert_rowid(h->db), summary, err)) < 0)
        goto rollback;
    rc = exec(h, "COMMIT", err);
    if (rc == 0)
        goto out;
rollback:
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(st);
    free(now);
    return rc;
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return json_null();
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    default:
        return json_string((const char *)sqlite3_column_text(st, i));
    }
}

static json_t *load_runs(pyab_history *h, const char *scenario, size_t last, pyab_error *err)
{
    sqlite3_stmt *st;
    json_t *runs = json_array();

    if (sqlite3_prepare_v2(h->db, "SELECT id, date_utc, git_revision, results_dir, verdict FROM"
                           " (SELECT * FROM runs WHERE scenario = ? ORDER BY date_utc DESC, id"
                           " DESC LIMIT ?) ORDER BY date_utc, id", -1, &st, NULL) != SQLITE_OK) {
        db_fail(h, err, "cannot prepare");
        json_decref(runs);
        return NULL;
    }
    sqlite3_bind_text(st, 1, scenario, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)last);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(runs, json_pack(
            "{s:I, s:o, s:o, s:o, s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0), "date_utc",
            col_json(st, 1), "git_revision", col_json(st, 2), "results_dir", col_json(st, 3),
            "verdict", col_json(st, 4)));
    sqlite3_finalize(st);
    return runs;
}

/* Fills arms.<arm>.<metric> arrays, one slot per run (null where a run lacks it). */
static int load_metrics(pyab_history *h, json_t *runs, json_t *arms, pyab_error *err)
{
    sqlite3_stmt *st;
    size_t i, nruns = json_array_size(runs);
    json_t *run;

    if (sqlite3_prepare_v2(h->db, "SELECT arm, metric, value, ci_low, ci_high FROM metrics"
                           " WHERE run_id = ? ORDER BY arm, metric", -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, "cannot prepare");
    json_array_foreach(runs, i, run) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, json_integer_value(json_object_get(run, "id")));
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *arm = (const char *)sqlite3_column_text(st, 0);
            const char *metric = (const char *)sqlite3_column_text(st, 1);
            json_t *a = json_object_get(arms, arm), *m;
            if (a == NULL)
                json_object_set_new(arms, arm, a = json_object());
            if ((m = json_object_get(a, metric)) == NULL) {
                m = json_object();
                static const char *const cols[] = {"values", "ci_low", "ci_high"};
                for (size_t c = 0; c < 3; c++) {
                    json_t *arr = json_array();
                    for (size_t k = 0; k < nruns; k++)
                        json_array_append_new(arr, json_null());
                    json_object_set_new(m, cols[c], arr);
                }
                json_object_set_new(a, metric, m);
            }
            json_array_set_new(json_object_get(m, "values"), i, col_json(st, 2));
            json_array_set_new(json_object_get(m, "ci_low"), i, col_json(st, 3));
            json_array_set_new(json_object_get(m, "ci_high"), i, col_json(st, 4));
        }
    }
    sqlite3_finalize(st);
    return 0;
}

json_t *pyab_history_trend(pyab_history *h, const char *scenario, size_t last, pyab_error *err)
{
    json_t *runs = load_runs(h, scenario, last, err), *arms, *a, *m;
    const char *arm, *metric;

    if (runs == NULL)
        return NULL;
    arms = json_object();
    if (load_metrics(h, runs, arms, err) < 0) {
        json_decref(runs);
        json_decref(arms);
        return NULL;
    }
    json_object_foreach(arms, arm, a)
        json_object_foreach(a, metric, m)
            pyab_changes_annotate(runs, metric, m);
    return json_pack("{s:s, s:o, s:o}", "scenario", scenario, "runs", runs, "arms", arms);
}

/*
 * Whether a results folder can serve as a baseline: its summary and
 * manifest read, and the run complete with every rep ok. Databases written
 * before interrupted checks were recorded as errors hold such runs as
 * "pass"; this keeps them out all the same.
 */
static int usable_baseline(const char *dir)
{
    char *sp = pyab_path_join(dir, "summary.json"), *mp = pyab_path_join(dir, "manifest.json");
    json_t *summary = json_load_file(sp, 0, NULL), *manifest = json_load_file(mp, 0, NULL);
    char *why = summary && manifest ? pyab_history_incomplete(summary, manifest) : NULL;
    int ok = summary && manifest && why == NULL;

    free(why);
    json_decref(summary);
    json_decref(manifest);
    free(sp);
    free(mp);
    return ok;
}

char *pyab_history_baseline(pyab_history *h, const char *scenario, const char *exclude)
{
    sqlite3_stmt *st;
    char *out = NULL;

    if (sqlite3_prepare_v2(h->db, "SELECT results_dir FROM runs WHERE scenario = ? AND verdict ="
                           " 'pass' ORDER BY date_utc DESC, id DESC", -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, scenario, -1, SQLITE_TRANSIENT);
    while (out == NULL && sqlite3_step(st) == SQLITE_ROW) {
        const char *dir = (const char *)sqlite3_column_text(st, 0);
        if ((exclude == NULL || strcmp(dir, exclude) != 0) && usable_baseline(dir))
            out = xstrdup(dir);
    }
    sqlite3_finalize(st);
    return out;
}

int pyab_history_import(pyab_history *h, const char *other, pyab_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (access(other, R_OK) != 0)
        return pyab_error_set(err, "%s: no such history database", other);
    if (sqlite3_prepare_v2(h->db, "ATTACH DATABASE ? AS other", -1, &st, NULL) != SQLITE_OK)
        return db_fail(h, err, "cannot prepare");
    sqlite3_bind_text(st, 1, other, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_fail(h, err, "cannot attach the other database");
    if ((rc = exec(h, "BEGIN IMMEDIATE", err)) < 0)
        goto detach;
    rc = exec(h,
        "INSERT OR IGNORE INTO main.runs (scenario, date_utc, git_revision, pyab_version,"
        " results_dir, verdict) SELECT scenario, date_utc, git_revision, pyab_version,"
        " results_dir, verdict FROM other.runs ORDER BY date_utc, id;"
        "INSERT OR IGNORE INTO main.metrics SELECT r.id, m.arm, m.metric, m.value, m.ci_low,"
        " m.ci_high FROM other.metrics m JOIN other.runs o ON o.id = m.run_id"
        " JOIN main.runs r ON r.scenario = o.scenario AND r.date_utc = o.date_utc"
        " AND r.results_dir = o.results_dir;", err);
    if (rc == 0)
        rc = exec(h, "COMMIT", err);
    else
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    if (rc < 0)
        pyab_error_prefix(err, "importing %s", other);
detach:
    sqlite3_exec(h->db, "DETACH DATABASE other", NULL, NULL, NULL);
    return rc;
}
