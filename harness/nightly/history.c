#include "history.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"
#include "changes.h"
#include "history_store.h"
#include "stats.h"

struct pyab_history {
    const pyab_history_backend *be;
    pyab_history_store *store;
    char *shown;
};

void (*pyab_history_midway_hook)(void);

static const char *const metric_names[] = {
    "rss_slope", "pyheap_slope", "native_slope", "peak_rss_mb", "gc_pause_p99_ms",
    "latency_p99_ms", "throughput_rps",
};

/* The length of a target's scheme ("postgresql" in postgresql://...), or 0 for a path. */
static size_t scheme_len(const char *t)
{
    size_t n = 0;

    while (isalnum((unsigned char)t[n]) || t[n] == '+' || t[n] == '-' || t[n] == '.')
        n++;
    /* One letter before ":/" is a drive, not a scheme; pyab has none, but say so. */
    return n >= 2 && isalpha((unsigned char)t[0]) && t[n] == ':' && t[n + 1] == '/' ? n : 0;
}

int pyab_history_is_url(const char *target)
{
    return scheme_len(target) > 0;
}

const char *pyab_history_default(const char *fallback)
{
    const char *env = getenv("PYAB_HISTORY");

    return env && env[0] ? env : fallback;
}

char *pyab_history_shown(const char *target)
{
    size_t n = scheme_len(target);
    pyab_buf b;
    const char *at = NULL, *colon = NULL;

    pyab_buf_init(&b);
    /* scheme://user:PASSWORD@host...: the password goes, the rest stays. */
    if (n > 0 && strncmp(target + n, "://", 3) == 0) {
        const char *auth = target + n + 3, *end = auth + strcspn(auth, "/?#");
        for (const char *p = auth; p < end; p++)
            if (*p == '@')
                at = p; /* the last one: an unencoded '@' in a password comes before it */
        colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    }
    if (colon) {
        pyab_buf_add(&b, target, (size_t)(colon + 1 - target));
        pyab_buf_adds(&b, "***");
        pyab_buf_adds(&b, at);
    } else {
        pyab_buf_adds(&b, target);
    }
    /* ...?password=PASSWORD&... (or "host=db password=PASSWORD"): the same. */
    for (char *p = b.data; (p = strstr(p, "password=")) != NULL;) {
        if (p > b.data && strchr("?& \t", p[-1]) == NULL) {
            p++;
            continue;
        }
        size_t v = (size_t)(p - b.data) + strlen("password=");
        char *rest = xstrdup(b.data + v + strcspn(b.data + v, "&# \t"));
        b.len = v;
        b.data[b.len] = '\0';
        pyab_buf_adds(&b, "***");
        pyab_buf_adds(&b, rest);
        free(rest);
        p = b.data + v + 3; /* the buffer may have moved */
    }
    return b.data;
}

/* "host=db dbname=pyab ...": libpq's other form, which a path never looks like. */
static int looks_like_conninfo(const char *t)
{
    static const char *const keys[] = {"host=", "hostaddr=", "port=", "dbname=", "user=",
                                       "password=", "service=", "sslmode="};

    while (isspace((unsigned char)*t))
        t++;
    for (size_t i = 0; i < PYAB_ARRAY_LEN(keys); i++)
        if (strncmp(t, keys[i], strlen(keys[i])) == 0)
            return 1;
    return 0;
}

int pyab_history_writable(pyab_history *h, pyab_error *err)
{
    int rc = h->be->writable(h->store, err);

    if (rc < 0)
        err->exit_code = PYAB_EXIT_USAGE;
    return rc;
}

const char *pyab_history_name(pyab_history *h)
{
    return h->shown;
}

void pyab_history_close(pyab_history *h)
{
    if (h == NULL)
        return;
    if (h->store)
        h->be->close(h->store);
    free(h->shown);
    free(h);
}

pyab_history *pyab_history_open(const char *target, pyab_error *err)
{
    pyab_history *h = xcalloc(1, sizeof(*h));
    size_t n = scheme_len(target);

    h->shown = pyab_history_shown(target);
    if (n == 0 && looks_like_conninfo(target)) {
        pyab_error_set(err, "%s: looks like a libpq connection string, not a file: give it as "
                       "a URL, postgresql://user@host:port/db", h->shown);
        goto fail;
    }
    if (n == 0)
        h->be = &pyab_history_sqlite;
    else if ((n == 10 && strncmp(target, "postgresql", n) == 0) ||
             (n == 8 && strncmp(target, "postgres", n) == 0))
        h->be = &pyab_history_pg;
    else {
        /* A URL taken for a path would make a folder named "mysql:"; say what is wrong. */
        pyab_error_set(err, "%s: unknown history scheme '%.*s' (give a file path for SQLite, "
                       "or postgresql://user@host:port/db)", h->shown, (int)n, target);
        goto fail;
    }
    if ((h->store = h->be->open(target, h->shown, err)) == NULL)
        goto fail;
    return h;
fail:
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

/* The run record of history_store.h for one analysed run. New reference. */
static json_t *run_record(json_t *summary, json_t *manifest, const char *dir,
                          const char *verdict)
{
    const char *date = json_string_value(json_object_get(manifest, "started_utc"));
    json_t *host = json_object_get(json_object_get(manifest, "host"), "hostname");
    json_t *rows = json_array(), *arm, *m;
    const char *arm_name, *metric;
    char *now = now_utc();
    json_t *run = json_pack("{s:O, s:s, s:O?, s:O?, s:s, s:s, s:O?, s:o}",
        "scenario", json_object_get(summary, "scenario"), "date_utc", date ? date : now,
        "git_revision", json_object_get(manifest, "git_revision"),
        "pyab_version", json_object_get(json_object_get(manifest, "versions"), "pyab"),
        "results_dir", dir, "verdict", verdict, "host", host, "metrics", rows);

    free(now);
    /* A merged run names every shard's host (results.c: manifest "shards"). */
    if (json_is_array(json_object_get(manifest, "shards"))) {
        pyab_buf b;
        json_t *sh;
        size_t i;
        pyab_buf_init(&b);
        json_array_foreach(json_object_get(manifest, "shards"), i, sh) {
            const char *hn = json_string_value(json_object_get(sh, "hostname"));
            if (hn && strstr(b.data ? b.data : "", hn) == NULL)
                pyab_buf_addf(&b, "%s%s", b.len ? "," : "", hn);
        }
        if (b.len)
            json_object_set_new(run, "host", json_string(b.data));
        pyab_buf_finish(&b);
    }
    if (strcmp(verdict, "error") == 0)
        return run;
    /* A passing run may be another machine's baseline, which has not its folder. */
    if (strcmp(verdict, "pass") == 0 && json_is_object(summary) && json_is_object(manifest))
        json_object_set_new(run, "documents", json_pack("{s:O, s:O}", "summary", summary,
                                                        "manifest", manifest));
    json_object_foreach(json_object_get(summary, "arms"), arm_name, arm) {
        json_t *ms = arm_metrics(arm);
        json_object_foreach(ms, metric, m) {
            json_t *ci = json_object_get(m, "ci");
            json_array_append_new(rows, json_pack("[s, s, O?, O?, O?]", arm_name, metric,
                                                  json_object_get(m, "value"),
                                                  json_array_get(ci, 0),
                                                  json_array_get(ci, 1)));
        }
        json_decref(ms);
    }
    return run;
}

int pyab_history_append(pyab_history *h, json_t *summary, json_t *manifest, const char *dir,
                        const char *verdict, pyab_error *err)
{
    const char *status = json_string_value(json_object_get(summary, "status"));
    json_t *runs;
    int rc;

    if (!json_is_string(json_object_get(summary, "scenario")))
        return pyab_error_internal(err, "%s: the summary names no scenario", dir);
    /* An interrupted or failed run's figures are partial: its row says so, and it has none. */
    if (verdict == NULL || (status && strcmp(status, "complete") != 0))
        verdict = "error";
    runs = json_pack("[o]", run_record(summary, manifest, dir, verdict));
    rc = h->be->write(h->store, runs, 0, err);
    json_decref(runs);
    return rc;
}

json_t *pyab_history_runs(pyab_history *h, const char *scenario, size_t last, pyab_error *err)
{
    return h->be->read(h->store, scenario, last, err);
}

/* arms.<arm>.<metric> of a trend: arrays with one slot per run, null where a run lacks it. */
static json_t *trend_slot(json_t *arms, const char *arm, const char *metric, size_t nruns)
{
    static const char *const cols[] = {"values", "ci_low", "ci_high"};
    json_t *a = json_object_get(arms, arm), *m;

    if (a == NULL)
        json_object_set_new(arms, arm, a = json_object());
    if ((m = json_object_get(a, metric)) != NULL)
        return m;
    m = json_object();
    for (size_t c = 0; c < 3; c++) {
        json_t *arr = json_array();
        for (size_t k = 0; k < nruns; k++)
            json_array_append_new(arr, json_null());
        json_object_set_new(m, cols[c], arr);
    }
    json_object_set_new(a, metric, m);
    return m;
}

json_t *pyab_history_trend(pyab_history *h, const char *scenario, size_t last, pyab_error *err)
{
    json_t *read = h->be->read(h->store, scenario, last, err), *runs, *arms, *run, *row, *a, *m;
    const char *arm, *metric;
    size_t i, k;

    if (read == NULL)
        return NULL;
    runs = json_array();
    arms = json_object();
    json_array_foreach(read, i, run) {
        json_array_append_new(runs, json_pack("{s:O, s:O?, s:O?, s:O?, s:O?}", "id",
            json_object_get(run, "id"), "date_utc", json_object_get(run, "date_utc"),
            "git_revision", json_object_get(run, "git_revision"), "results_dir",
            json_object_get(run, "results_dir"), "verdict", json_object_get(run, "verdict")));
        json_array_foreach(json_object_get(run, "metrics"), k, row) {
            m = trend_slot(arms, json_string_value(json_array_get(row, 0)),
                           json_string_value(json_array_get(row, 1)), json_array_size(read));
            json_array_set(json_object_get(m, "values"), i, json_array_get(row, 2));
            json_array_set(json_object_get(m, "ci_low"), i, json_array_get(row, 3));
            json_array_set(json_object_get(m, "ci_high"), i, json_array_get(row, 4));
        }
    }
    json_decref(read);
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

/*
 * A run's stored documents written into `cache` as a results folder's
 * summary.json and manifest.json, when they make a usable baseline:
 * 1 when they did, 0 when not.
 */
static int materialise(pyab_history *h, json_t *run, const char *cache)
{
    pyab_error err = {0};
    json_t *docs = h->be->documents(h->store, json_integer_value(json_object_get(run, "id")),
                                    &err);
    json_t *summary = json_object_get(docs, "summary"), *manifest = json_object_get(docs,
                                                                                   "manifest");
    char *why = summary && manifest ? pyab_history_incomplete(summary, manifest) : NULL;
    char *sp = pyab_path_join(cache, "summary.json"), *mp = pyab_path_join(cache,
                                                                           "manifest.json");
    int ok = summary && manifest && why == NULL && pyab_mkdirs(cache) == 0 &&
             pyab_json_write_atomic(sp, summary, JSON_INDENT(1) | JSON_REAL_PRECISION(17),
                                    &err) == 0 &&
             pyab_json_write_atomic(mp, manifest, JSON_INDENT(1), &err) == 0;

    free(why);
    free(sp);
    free(mp);
    json_decref(docs);
    return ok;
}

char *pyab_history_baseline(pyab_history *h, const char *scenario, const char *exclude,
                            const char *cache)
{
    pyab_error err = {0};
    json_t *runs = h->be->read(h->store, scenario, 0, &err), *run;
    char *out = NULL;

    for (size_t i = json_array_size(runs); out == NULL && i-- > 0;) {
        run = json_array_get(runs, i);
        const char *dir = json_string_value(json_object_get(run, "results_dir"));
        const char *verdict = json_string_value(json_object_get(run, "verdict"));
        if (dir == NULL || verdict == NULL || strcmp(verdict, "pass") != 0 ||
            (exclude && strcmp(dir, exclude) == 0))
            continue;
        /* The folder here, else (another machine's run) the copy the history keeps. */
        if (usable_baseline(dir))
            out = xstrdup(dir);
        else if (cache && materialise(h, run, cache))
            out = xstrdup(cache);
    }
    json_decref(runs);
    return out;
}

int pyab_history_import(pyab_history *h, const char *other, pyab_error *err)
{
    pyab_history *o;
    json_t *runs;
    int rc = -EIO;

    if (!pyab_history_is_url(other) && access(other, R_OK) != 0)
        return pyab_error_set(err, "%s: no such history database", other);
    if ((o = pyab_history_open(other, err)) == NULL)
        return err->exit_code == PYAB_EXIT_USAGE ? -EINVAL : -EIO;
    if ((runs = o->be->read(o->store, NULL, 0, err)) != NULL) {
        json_t *run, *docs;
        size_t i;
        json_array_foreach(runs, i, run) {
            const char *verdict = json_string_value(json_object_get(run, "verdict"));
            if (verdict && strcmp(verdict, "pass") == 0 &&
                (docs = o->be->documents(o->store, json_integer_value(json_object_get(run,
                                                                      "id")), err)) != NULL)
                json_object_set_new(run, "documents", docs);
        }
        /* Rows present in several shards' copies count once: the first stays. */
        rc = h->be->write(h->store, runs, 1, err);
        json_decref(runs);
    }
    if (rc < 0)
        pyab_error_prefix(err, "importing %s", o->shown);
    pyab_history_close(o);
    return rc;
}
