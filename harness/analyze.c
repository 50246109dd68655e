#include "analyze.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "series.h"
#include "stats.h"
#include "trend.h"
#include "verdict.h"

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

static int option_number(const char *path, const char *key, json_t *v, double min, double max,
                         double *out, pyab_error *err)
{
    if (!json_is_number(v) || !(json_number_value(v) > min && json_number_value(v) < max))
        return pyab_error_set(err, "%s: scenario.analysis.%s must be a number above %g%s", path,
                              key, min, max < INFINITY ? " and below the maximum" : "");
    *out = json_number_value(v);
    return 0;
}

/* The scenario's "analysis" object, as manifest.json recorded it. */
static int parse_options(const char *path, json_t *analysis, options *o, pyab_error *err)
{
    const char *key;
    json_t *v;
    double pct = o->v.rel * 100, mb = o->v.abs / PYAB_MIB;

    if (analysis == NULL)
        return 0;
    if (!json_is_object(analysis))
        return pyab_error_set(err, "%s: scenario.analysis must be an object", path);
    json_object_foreach(analysis, key, v) {
        int rc = 0;
        if (strcmp(key, "control") == 0) {
            if (!json_is_string(v))
                return pyab_error_set(err, "%s: scenario.analysis.control must be an arm name", path);
            o->control = json_string_value(v);
        } else if (strcmp(key, "period_requests") == 0) {
            rc = option_number(path, key, v, 0, INFINITY, &o->period, err);
        } else if (strcmp(key, "confidence") == 0) {
            rc = option_number(path, key, v, 0.5, 1, &o->v.conf, err);
        } else if (strcmp(key, "min_growth_pct") == 0) {
            rc = option_number(path, key, v, 0, 100, &pct, err);
        } else if (strcmp(key, "min_growth_mb") == 0) {
            rc = option_number(path, key, v, 0, INFINITY, &mb, err);
        } else {
            return pyab_error_set(err, "%s: scenario.analysis: unknown key '%s' (known: control, "
                                  "period_requests, confidence, min_growth_pct, min_growth_mb)",
                                  path, key);
        }
        if (rc < 0)
            return rc;
    }
    o->v.rel = pct / 100;
    o->v.abs = mb * PYAB_MIB;
    return 0;
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
            rc = parse_options(path, json_object_get(json_object_get(*manifest, "scenario"),
                                                     "analysis"), o, err);
    }
    free(path);
    return rc;
}

/* GC pause p99 of one rep in ms from events.jsonl; NaN when there are no events. */
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

/* The rep's GC figures for comparisons: time share from samples.csv, pause p99 from events. */
static int rep_gc(const char *repdir, const pyab_series *s, json_t *rep, pyab_error *err)
{
    const double *pause = pyab_series_column(s, "gc_pause_s"), *t = pyab_series_column(s, "t_s");
    json_t *extra = json_object(), *gc = json_object_get(rep, "gc");
    double p99 = json_number_value(json_object_get(gc, "pause_p99_ms"));

    for (size_t r = s->n; pause && r-- > 0;)
        if (s->phase[r] != PYAB_PHASE_QUIESCE && !isnan(pause[r]) && t[r] > 0) {
            json_object_set_new(extra, "gc_time_share", jnum(pause[r] / t[r]));
            break;
        }
    if (!json_is_number(json_object_get(gc, "pause_p99_ms")) && pause_p99(repdir, &p99, err) < 0) {
        json_decref(extra);
        return -EINVAL;
    }
    if (isfinite(p99))
        json_object_set_new(extra, "gc_pause_p99_ms", json_real(p99));
    json_object_set_new(rep, "analysis", extra);
    return 0;
}

static int analyze_rep(const char *dir, const char *arm, const options *o, json_t *rep,
                       pyab_verdict_rep *vr, pyab_error *err)
{
    json_t *num = json_object_get(rep, "rep");
    char *repdir, *path;
    pyab_series *s;
    int rc;

    if (!json_is_integer(num))
        return pyab_error_set(err, "%s/summary.json: arms.%s.reps: an entry has no integer 'rep'",
                              dir, arm);
    vr->number = (int)json_integer_value(num);
    repdir = xasprintf("%s/arms/%s/rep-%d", dir, arm, vr->number);
    path = pyab_path_join(repdir, "samples.csv");
    s = pyab_series_load(path, err);
    if (s == NULL) {
        rc = -EINVAL;
        goto out;
    }
    for (int m = 0; m < PYAB_NMETRICS; m++) {
        const char *col = pyab_metric_column[m];
        if (pyab_series_column(s, col) == NULL && pyab_metric_fallback[m])
            col = pyab_metric_fallback[m];
        vr->available[m] = pyab_trend_measure(s, col, o->period, o->v.conf, &vr->tr[m]) == 0;
    }
    json_object_set_new(rep, "slopes", pyab_verdict_rep_json(vr, &o->v));
    rc = rep_gc(repdir, s, rep, err);
    pyab_series_destroy(s);
out:
    free(path);
    free(repdir);
    return rc;
}

static int analyze_arm(const char *dir, const char *name, json_t *arm, const options *o,
                       pyab_error *err)
{
    json_t *reps = json_object_get(arm, "reps"), *rep, *skipped;
    pyab_verdict_rep *vr;
    size_t i, n = 0;

    if (!json_is_array(reps))
        return pyab_error_set(err, "%s/summary.json: arms.%s.reps must be an array", dir, name);
    skipped = json_array();
    vr = xcalloc(json_array_size(reps) + 1, sizeof(*vr));
    json_array_foreach(reps, i, rep) {
        json_t *outcome = json_object_get(rep, "outcome");
        /* Crashed or cut-short reps have curves that end early: they would bias the slopes. */
        if (!json_is_string(outcome) || strcmp(json_string_value(outcome), "ok") != 0) {
            json_array_append_new(skipped, json_pack("{sOsO}", "rep", json_object_get(rep, "rep"),
                                                     "outcome", outcome ? outcome : json_null()));
            continue;
        }
        if (analyze_rep(dir, name, o, rep, &vr[n], err) < 0) {
            json_decref(skipped);
            free(vr);
            return -EINVAL;
        }
        n++;
    }
    pyab_verdict_arm(arm, vr, n, skipped, &o->v);
    free(vr);
    return 0;
}

/* The control arm: the scenario's choice, else the runner's, else the first arm. */
static char *choose_control(const char *dir, json_t *arms, json_t *summary, const options *o,
                            pyab_error *err)
{
    const char *c = json_string_value(json_object_get(summary, "control"));

    if (o->control) {
        if (json_object_get(arms, o->control) == NULL) {
            pyab_error_set(err, "%s/manifest.json: scenario.analysis.control: no arm named '%s'",
                           dir, o->control);
            return NULL;
        }
        return xstrdup(o->control);
    }
    if (c && json_object_get(arms, c))
        return xstrdup(c);
    return xstrdup(json_object_iter_key(json_object_iter(arms)));
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
