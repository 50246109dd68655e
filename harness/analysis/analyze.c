#include "analyze.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "refcount.h"
#include "series.h"
#include "stats.h"
#include "trend.h"
#include "verdict.h"
#include "wherearm.h"

/* The scenario's "analysis" options; the rule thresholds are in verdict.c. */
typedef struct options {
    const char *control; /* borrowed from the manifest, or NULL */
    double period;       /* requests per cycle of a periodic workload, 0 = detect */
    pyab_verdict_opts v;
} options;

/* jansson refuses NaN and infinities; JSON says null. */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int json_error(pyab_error *err, const char *path, const json_error_t *je)
{
    if (je->line > 0)
        return pyab_error_set(err, "%s:%d:%d: %s", path, je->line, je->column, je->text);
    return pyab_error_set(err, "%s: %s", path, je->text);
}

/* "<file>: key \"<prefix>.<key>\": <what>", the form the scenario loader's messages take. */
static int option_fail(const char *file, const char *prefix, const char *key, const char *what,
                       pyab_error *err)
{
    return pyab_error_set(err, "%s: key \"%s.%s\": %s", file, prefix, key, what);
}

/* A number strictly between min and max (max INFINITY: no upper bound). */
static int option_number(const char *file, const char *prefix, const char *key, json_t *v,
                         double min, double max, const char *example, double *out,
                         pyab_error *err)
{
    char what[160];

    if (json_is_number(v) && json_number_value(v) > min && json_number_value(v) < max) {
        *out = json_number_value(v);
        return 0;
    }
    if (max < INFINITY)
        snprintf(what, sizeof(what), "must be a number above %g and below %g (e.g. %s)", min, max,
                 example);
    else
        snprintf(what, sizeof(what), "must be a number above %g (e.g. %s)", min, example);
    return option_fail(file, prefix, key, what, err);
}

/*
 * The scenario's "analysis" object, found at key path `prefix` of `file`.
 * Fills o (when not NULL) over its defaults.
 */
static int parse_options(const char *file, const char *prefix, json_t *analysis, options *o,
                         pyab_error *err)
{
    const char *key;
    json_t *v;
    options tmp = {0};
    double pct, mb;

    if (o == NULL) {
        tmp.v.rel = PYAB_VERDICT_MATERIAL_REL;
        tmp.v.abs = PYAB_VERDICT_MATERIAL_ABS_MB * PYAB_MIB;
        o = &tmp;
    }
    pct = o->v.rel * 100;
    mb = o->v.abs / PYAB_MIB;
    if (analysis == NULL)
        return 0;
    if (!json_is_object(analysis))
        return pyab_error_set(err, "%s: key \"%s\": must be an object, e.g. {\"control\": "
                              "\"base\", \"confidence\": 0.95}", file, prefix);
    json_object_foreach(analysis, key, v) {
        int rc = 0;
        if (strcmp(key, "control") == 0) {
            if (!json_is_string(v) || json_string_length(v) == 0)
                return option_fail(file, prefix, key, "must be the name of an arm", err);
            o->control = json_string_value(v);
        } else if (strcmp(key, "period_requests") == 0) {
            rc = option_number(file, prefix, key, v, 0, INFINITY, "5000", &o->period, err);
        } else if (strcmp(key, "confidence") == 0) {
            rc = option_number(file, prefix, key, v, 0.5, 1, "0.95", &o->v.conf, err);
        } else if (strcmp(key, "min_growth_pct") == 0) {
            rc = option_number(file, prefix, key, v, 0, 100, "3", &pct, err);
        } else if (strcmp(key, "min_growth_mb") == 0) {
            rc = option_number(file, prefix, key, v, 0, INFINITY, "1", &mb, err);
        } else {
            return option_fail(file, prefix, key, "unknown key (known: control, period_requests, "
                               "confidence, min_growth_pct, min_growth_mb)", err);
        }
        if (rc < 0)
            return rc;
    }
    o->v.rel = pct / 100;
    o->v.abs = mb * PYAB_MIB;
    return 0;
}

int pyab_analyze_options(json_t *analysis, pyab_verdict_opts *v, double *period_requests)
{
    options o = {0};
    pyab_error err;

    o.v.conf = PYAB_VERDICT_CONFIDENCE;
    o.v.rel = PYAB_VERDICT_MATERIAL_REL;
    o.v.abs = PYAB_VERDICT_MATERIAL_ABS_MB * PYAB_MIB;
    if (parse_options("scenario", "analysis", analysis, &o, &err) < 0)
        return -EINVAL;
    *v = o.v;
    *period_requests = o.period;
    return 0;
}

int pyab_analyze_validate(json_t *analysis, const char *file, pyab_error *err)
{
    return parse_options(file, "analysis", analysis, NULL, err);
}

/* Reads manifest.json when there is one; a folder without it gets the defaults. */
static int read_options(const char *dir, options *o, json_t **manifest, pyab_error *err)
{
    char *path = pyab_path_join(dir, "manifest.json");
    json_error_t je;
    int rc = 0;

    o->control = NULL;
    o->period = 0;
    o->v.conf = PYAB_VERDICT_CONFIDENCE;
    o->v.rel = PYAB_VERDICT_MATERIAL_REL;
    o->v.abs = PYAB_VERDICT_MATERIAL_ABS_MB * PYAB_MIB;
    *manifest = NULL;
    if (access(path, F_OK) == 0) {
        *manifest = json_load_file(path, 0, &je);
        if (*manifest == NULL)
            rc = json_error(err, path, &je);
        else
            rc = parse_options(path, "scenario.analysis",
                               json_object_get(json_object_get(*manifest, "scenario"),
                                               "analysis"), o, err);
    }
    free(path);
    return rc;
}

/*
 * GC pause p99 of one rep in ms from events.jsonl, for folders whose rep
 * entries have no "gc" figures; NaN when there are no collections. Like the
 * rep's own figures (results.c), it leaves out the collections before the
 * replay started (t_s < 0: importing the service) and pyab's own quiesce
 * collection (events with a "cause").
 */
static int pause_p99(const char *repdir, double *out, pyab_error *err)
{
    char *path = pyab_path_join(repdir, "events.jsonl"), *text, *line, *save = NULL;
    double *d = NULL;
    size_t n = 0, cap = 0, lineno = 0, len;
    int rc = 0;

    *out = NAN;
    if (pyab_file_read(path, &text, &len) < 0) {
        free(path);
        return 0;
    }
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *ev = json_loads(line, 0, &je);
        lineno++; /* strtok_r skips empty lines, which do not occur in this file */
        if (ev == NULL || !json_is_number(json_object_get(ev, "duration_s"))) {
            rc = pyab_error_set(err, "%s:%zu: expected an object with a duration_s number",
                                path, lineno);
            json_decref(ev);
            break;
        }
        if (json_number_value(json_object_get(ev, "t_s")) < 0 ||
            json_object_get(ev, "cause") != NULL) {
            json_decref(ev);
            continue;
        }
        if (n == cap)
            d = xrealloc(d, (cap = cap ? 2 * cap : 256) * sizeof(*d));
        d[n++] = json_number_value(json_object_get(ev, "duration_s"));
        json_decref(ev);
    }
    if (rc == 0 && n > 0)
        *out = 1000 * pyab_stats_quantile(d, n, 0.99);
    free(d);
    free(text);
    free(path);
    return rc;
}

/*
 * The rep's GC figures for comparisons. The rep's own "gc" figures when it
 * has them (a rep without collections has a null pause p99: there is no
 * pause to compare, and none is made up); in older folders without them,
 * the time share from samples.csv and the pause p99 from events.jsonl.
 */
static int rep_gc(const char *repdir, const pyab_series *s, json_t *rep, pyab_error *err)
{
    const double *pause = pyab_series_column(s, "gc_pause_s"), *t = pyab_series_column(s, "t_s");
    json_t *extra = json_object(), *gc = json_object_get(rep, "gc");
    double p99 = NAN;

    if (json_is_object(gc)) {
        if (json_is_number(json_object_get(gc, "time_share")))
            json_object_set_new(extra, "gc_time_share",
                                jnum(json_number_value(json_object_get(gc, "time_share"))));
        if (json_is_number(json_object_get(gc, "pause_p99_ms")))
            p99 = json_number_value(json_object_get(gc, "pause_p99_ms"));
        if (isfinite(p99))
            json_object_set_new(extra, "gc_pause_p99_ms", json_real(p99));
        json_object_set_new(rep, "analysis", extra);
        return 0;
    }
    for (size_t r = s->n; pause && r-- > 0;)
        if (s->phase[r] != PYAB_PHASE_QUIESCE && !isnan(pause[r]) && t[r] > 0) {
            json_object_set_new(extra, "gc_time_share", jnum(pause[r] / t[r]));
            break;
        }
    if (pause_p99(repdir, &p99, err) < 0) {
        json_decref(extra);
        return -EINVAL;
    }
    if (isfinite(p99))
        json_object_set_new(extra, "gc_pause_p99_ms", json_real(p99));
    json_object_set_new(rep, "analysis", extra);
    return 0;
}

static int analyze_rep(const char *dir, const char *arm, const options *o, json_t *rep,
                       pyab_verdict_rep *vr, pyab_refcount_rep *rr, pyab_error *err)
{
    json_t *num = json_object_get(rep, "rep");
    char *repdir, *path;
    pyab_series *s;
    int rc;

    if (!json_is_integer(num))
        return pyab_error_set(err, "%s/summary.json: arms.%s.reps: an entry has no integer 'rep'",
                              dir, arm);
    vr->number = (int)json_integer_value(num);
    if (json_is_false(json_object_get(json_object_get(rep, "settle"), "decided")) &&
        json_is_string(json_object_get(rep, "stop_reason")) &&
        strncmp(json_string_value(json_object_get(rep, "stop_reason")), "max_", 4) == 0) {
        vr->capped = 1;
        vr->cap = json_number_value(json_object_get(rep, "requests"));
    }
    repdir = xasprintf("%s/arms/%s/rep-%d", dir, arm, vr->number);
    path = pyab_path_join(repdir, "samples.csv");
    s = pyab_series_load(path, err);
    if (s == NULL) {
        rc = -EINVAL;
        goto out;
    }
    for (int m = 0; m < PYAB_NMETRICS; m++) {
        const char *col = pyab_verdict_metric_column[m];
        if (pyab_series_column(s, col) == NULL && pyab_verdict_metric_fallback[m])
            col = pyab_verdict_metric_fallback[m];
        vr->available[m] = pyab_trend_measure(s, col, o->period, o->v.conf, &vr->tr[m]) == 0;
    }
    json_object_set_new(rep, "slopes", pyab_verdict_rep_json(vr, &o->v));
    pyab_refcount_measure(s, o->period, o->v.conf, rr);
    if (rr->available)
        json_object_set_new(json_object_get(rep, "slopes"), "refcount",
                            pyab_refcount_rep_json(rr, &o->v));
    rc = rep_gc(repdir, s, rep, err);
    pyab_series_destroy(s);
out:
    free(path);
    free(repdir);
    return rc;
}

/*
 * Reps that ran until settled were looked at several times: their intervals
 * use the per-look confidence (settle.h): the highest over the arm's reps,
 * so every interval is at least as wide as each look needs.
 */
static double arm_confidence(json_t *reps, double conf)
{
    json_t *rep;
    size_t i;

    json_array_foreach(reps, i, rep) {
        json_t *c = json_object_get(json_object_get(rep, "settle"), "confidence_per_look");
        if (json_is_number(c) && json_number_value(c) > conf && json_number_value(c) < 1)
            conf = json_number_value(c);
    }
    return conf;
}

static int analyze_arm(const char *dir, const char *name, json_t *arm, const options *arm_o,
                       pyab_error *err)
{
    json_t *reps = json_object_get(arm, "reps"), *rep, *skipped;
    options arm_opts = *arm_o, *o = &arm_opts;
    pyab_verdict_rep *vr;
    pyab_refcount_rep *rr;
    size_t i, n = 0;

    if (!json_is_array(reps))
        return pyab_error_set(err, "%s/summary.json: arms.%s.reps must be an array", dir, name);
    o->v.conf = arm_confidence(reps, o->v.conf);
    skipped = json_array();
    vr = xcalloc(json_array_size(reps) + 1, sizeof(*vr));
    rr = xcalloc(json_array_size(reps) + 1, sizeof(*rr));
    json_array_foreach(reps, i, rep) {
        json_t *outcome = json_object_get(rep, "outcome");
        pyab_error rep_err = {0};
        /* A fresh analysis: nothing left over from an earlier one decides anything. */
        json_object_del(rep, "analysis_skipped");
        /* Crashed or cut-short reps have curves that end early: they would bias the slopes. */
        if (!json_is_string(outcome) || strcmp(json_string_value(outcome), "ok") != 0) {
            json_array_append_new(skipped, json_pack("{sOsOsO*}", "rep", json_object_get(rep, "rep"),
                                                     "outcome", outcome ? outcome : json_null(),
                                                     "reason", json_object_get(rep, "reason")));
            continue;
        }
        if (!json_is_integer(json_object_get(rep, "rep"))) {
            json_decref(skipped);
            free(vr);
            free(rr);
            return pyab_error_set(err, "%s/summary.json: arms.%s.reps[%zu]: no integer 'rep'",
                                  dir, name, i);
        }
        memset(&vr[n], 0, sizeof(vr[n]));
        if (analyze_rep(dir, name, o, rep, &vr[n], &rr[n], &rep_err) < 0) {
            /*
             * One ok rep whose folder, samples.csv or events.jsonl is missing
             * or unreadable: the others still make a verdict. It is listed
             * with the reason, and left out of the comparisons too.
             */
            json_object_del(rep, "slopes");
            json_object_del(rep, "analysis");
            json_object_set_new(rep, "analysis_skipped", json_string(rep_err.text));
            json_array_append_new(skipped, json_pack("{sOsssO}", "rep", json_object_get(rep, "rep"),
                                                     "outcome", "ok", "skipped", json_object_get(rep, "analysis_skipped")));
            continue;
        }
        n++;
    }
    pyab_verdict_arm(arm, vr, n, skipped, &o->v);
    pyab_refcount_arm(arm, rr, n, &o->v);
    free(vr);
    free(rr);
    json_object_del(arm, "where");
    json_t *where = pyab_wherearm(dir, name, reps, o->v.conf);
    if (where)
        json_object_set_new(arm, "where", where);
    return 0;
}

/* The control arm: the scenario's choice, else the runner's, else the first arm. */
static char *choose_control(const char *dir, json_t *arms, json_t *summary, const options *o,
                            pyab_error *err)
{
    const char *c = json_string_value(json_object_get(summary, "control"));

    if (o->control) {
        if (json_object_get(arms, o->control) == NULL) {
            pyab_error_set(err, "%s/manifest.json: key \"scenario.analysis.control\": no arm "
                           "named '%s'", dir, o->control);
            return NULL;
        }
        return xstrdup(o->control);
    }
    if (c && json_object_get(arms, c))
        return xstrdup(c);
    return xstrdup(json_object_iter_key(json_object_iter(arms)));
}

/*
 * A comparison between arms that run different interpreters says so: when
 * Python and glibc both differ, RSS and speed differ for both reasons
 * (summary.interpreters, written by the runner).
 */
static void note_interpreters(json_t *summary)
{
    json_t *all = json_object_get(summary, "interpreters"), *c;
    size_t i;

    json_array_foreach(json_object_get(summary, "comparisons"), i, c) {
        const char *an = json_string_value(json_object_get(c, "arm"));
        const char *cn = json_string_value(json_object_get(c, "control"));
        json_t *a = json_object_get(all, an ? an : ""), *b = json_object_get(all, cn ? cn : "");
        const char *apy = json_string_value(json_object_get(a, "python_short"));
        const char *bpy = json_string_value(json_object_get(b, "python_short"));
        const char *alc = json_string_value(json_object_get(a, "glibc"));
        const char *blc = json_string_value(json_object_get(b, "glibc"));
        int py = apy && bpy && strcmp(apy, bpy) != 0, libc = alc && blc && strcmp(alc, blc) != 0;

        if (py && libc)
            json_object_set_new(c, "interpreter_note",
                                json_sprintf("%s runs Python %s on glibc %s, %s Python %s on glibc "
                                             "%s: differences in RSS, the native heap and speed "
                                             "have both causes", an, apy, alc, cn, bpy, blc));
        else if (py)
            json_object_set_new(c, "interpreter_note",
                                json_sprintf("%s runs Python %s, %s Python %s", an, apy, cn, bpy));
    }
}

static json_t *analysis_json(const options *o)
{
    return json_pack("{sf sf sf so ss}", "confidence", o->v.conf, "min_growth_pct",
                     100 * o->v.rel, "min_growth_mb", o->v.abs / PYAB_MIB, "period_requests",
                     o->period > 0 ? json_real(o->period) : json_null(), "rule", pyab_verdict_rule);
}

json_t *pyab_analyze_summary(const char *dir, pyab_error *err)
{
    char *path = pyab_path_join(dir, "summary.json"), *control = NULL;
    json_t *manifest = NULL, *summary = NULL, *arms, *arm;
    const char *name;
    json_error_t je;
    options o;

    if (read_options(dir, &o, &manifest, err) < 0)
        goto fail;
    summary = json_load_file(path, 0, &je);
    if (summary == NULL) {
        json_error(err, path, &je);
        goto fail;
    }
    arms = json_object_get(summary, "arms");
    if (!json_is_object(arms) || json_object_size(arms) == 0) {
        pyab_error_set(err, "%s: 'arms' must be an object with at least one arm", path);
        goto fail;
    }
    if ((control = choose_control(dir, arms, summary, &o, err)) == NULL)
        goto fail;
    json_object_foreach(arms, name, arm) {
        if (!json_is_object(arm)) {
            pyab_error_set(err, "%s: arms.%s must be an object", path, name);
            goto fail;
        }
        if (analyze_arm(dir, name, arm, &o, err) < 0)
            goto fail;
    }
    json_object_set_new(summary, "control", json_string(control));
    json_object_set_new(summary, "analysis", analysis_json(&o));
    json_object_set_new(summary, "comparisons", pyab_compare_arms(summary, control, o.v.conf));
    note_interpreters(summary);
    free(control);
    json_decref(manifest);
    free(path);
    return summary;
fail:
    free(control);
    json_decref(summary);
    json_decref(manifest);
    free(path);
    return NULL;
}

int pyab_analyze_dir(const char *dir, pyab_error *err)
{
    json_t *summary = pyab_analyze_summary(dir, err);
    char *path;
    int rc;

    if (summary == NULL)
        return -EINVAL;
    path = pyab_path_join(dir, "summary.json");
    rc = pyab_json_write_atomic(path, summary, JSON_INDENT(2), err);
    free(path);
    json_decref(summary);
    return rc;
}
