#include "budget.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

enum { RULE_SLOPE, RULE_REPS_MAX, RULE_MIN };

/*
 * The budget keys. A slope budget reads the pooled slope's interval that
 * analyze.c wrote (arms.<arm>.slopes.<slope>.ci); the others read the ok
 * reps' own figures, because an arm's peak or p99 has no interval of its own.
 */
static const struct kind {
    const char *key;
    const char *metric; /* pyab_budget_rep_values name */
    const char *slope;  /* summary slopes key, for RULE_SLOPE */
    int rule;
    const char *unit;
} kinds[] = {
    {"rss_slope_bytes_per_request", "rss_slope", "rss", RULE_SLOPE, "B/request"},
    {"pyheap_slope_bytes_per_request", "pyheap_slope", "pyheap", RULE_SLOPE, "B/request"},
    {"native_slope_bytes_per_request", "native_slope", "native", RULE_SLOPE, "B/request"},
    {"peak_rss_mb", "peak_rss_mb", NULL, RULE_REPS_MAX, "MiB"},
    {"gc_pause_p99_ms", "gc_pause_p99_ms", NULL, RULE_REPS_MAX, "ms"},
    {"latency_p99_ms", "latency_p99_ms", NULL, RULE_REPS_MAX, "ms"},
    {"throughput_min_rps", "throughput_rps", NULL, RULE_MIN, "requests/s"},
};

static const struct kind *find_kind(const char *key)
{
    for (size_t i = 0; i < PYAB_ARRAY_LEN(kinds); i++)
        if (strcmp(kinds[i].key, key) == 0)
            return &kinds[i];
    return NULL;
}

int pyab_budget_validate(json_t *budgets, const char *file, const char *path, pyab_error *err)
{
    const char *key;
    json_t *v;

    if (budgets == NULL)
        return 0;
    if (!json_is_object(budgets))
        return pyab_error_set(err, "%s: key \"%s\": must be an object of budgets", file, path);
    json_object_foreach(budgets, key, v) {
        if (find_kind(key) == NULL)
            return pyab_error_set(err, "%s: key \"%s.%s\": unknown key (budgets: "
                                  "rss_slope_bytes_per_request, pyheap_slope_bytes_per_request, "
                                  "native_slope_bytes_per_request, peak_rss_mb, gc_pause_p99_ms, "
                                  "latency_p99_ms, throughput_min_rps)", file, path, key);
        if (!json_is_number(v))
            return pyab_error_set(err, "%s: key \"%s.%s\": must be a number", file, path, key);
        if (!(json_number_value(v) >= 0) || !isfinite(json_number_value(v)))
            return pyab_error_set(err, "%s: key \"%s.%s\": must be a finite number >= 0, not %g",
                                  file, path, key, json_number_value(v));
    }
    return 0;
}

static const char *str_at(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* One rep's value of a metric; NAN when the rep does not have it. */
static double rep_value(json_t *rep, const char *metric)
{
    json_t *v = NULL;

    if (strcmp(metric, "peak_rss_mb") == 0)
        return json_number_value(json_object_get(rep, "peak_rss_bytes")) / 1048576.0;
    if (strcmp(metric, "cpu_us_per_request") == 0) {
        double req = json_number_value(json_object_get(rep, "requests"));
        v = json_object_get(rep, "cpu_s");
        return json_is_number(v) && req > 0 ? json_number_value(v) * 1e6 / req : NAN;
    }
    if (strcmp(metric, "throughput_rps") == 0)
        v = json_object_get(rep, "throughput_rps");
    else if (strcmp(metric, "latency_p99_ms") == 0)
        v = json_object_get(json_object_get(rep, "latency_ms"), "p99");
    else if (strcmp(metric, "gc_pause_p99_ms") == 0) {
        json_t *gc = json_object_get(rep, "gc");
        /* A rep without a single collection paused for nothing. */
        if (json_is_object(gc) && json_is_null(json_object_get(gc, "pause_p99_ms")))
            return 0;
        v = json_object_get(gc, "pause_p99_ms");
    } else if (strstr(metric, "_slope") != NULL) {
        char *slope = xstrndup(metric, strlen(metric) - strlen("_slope"));
        v = json_object_get(json_object_get(json_object_get(rep, "slopes"), slope),
                            "bytes_per_request");
        free(slope);
    }
    return json_is_number(v) ? json_number_value(v) : NAN;
}

json_t *pyab_budget_rep_values(json_t *arm, const char *metric)
{
    json_t *out = json_array(), *rep;
    size_t i;

    json_array_foreach(json_object_get(arm, "reps"), i, rep) {
        const char *outcome = str_at(rep, "outcome");
        double x;
        if (outcome == NULL || strcmp(outcome, "ok") != 0)
            continue;
        if (!isnan(x = rep_value(rep, metric)))
            json_array_append_new(out, json_real(x));
    }
    return out;
}

static size_t to_doubles(json_t *arr, double **out)
{
    size_t n = json_array_size(arr);

    *out = xcalloc(n ? n : 1, sizeof(double));
    for (size_t i = 0; i < n; i++)
        (*out)[i] = json_number_value(json_array_get(arr, i));
    return n;
}

/*
 * Slope rule: fail when the lower end of the pooled slope's 95% interval is
 * above the budget. A slope whose interval reaches below the budget is
 * within it, however high its point estimate.
 */
static void eval_slope(const struct kind *k, double budget, json_t *arm, json_t *c)
{
    json_t *s = json_object_get(json_object_get(arm, "slopes"), k->slope);
    json_t *ci = json_object_get(s, "ci");
    double est = json_number_value(json_object_get(s, "bytes_per_request"));
    double lo = json_number_value(json_array_get(ci, 0));
    double hi = json_number_value(json_array_get(ci, 1));

    json_object_set_new(c, "rule", json_string("fail when the slope's 95% interval lies above "
                                               "the budget (its lower end > budget)"));
    if (s == NULL || !json_is_number(json_object_get(s, "bytes_per_request"))) {
        json_object_set_new(c, "status", json_string("error"));
        const char *cls = json_string_value(json_object_get(s, "class"));
        json_object_set_new(c, "message", json_sprintf(
            "no %s slope could be measured (%s): %s", k->slope, cls ? cls : "no ok rep",
            "no rep finished ok, or too few samples after warm-up (sample more often or run "
            "more requests)"));
        return;
    }
    json_object_set_new(c, "value", json_real(est));
    if (json_is_number(json_array_get(ci, 0)) && json_is_number(json_array_get(ci, 1)))
        json_object_set_new(c, "ci", json_pack("[ff]", lo, hi));
    else
        lo = -INFINITY;
    int over = lo > budget;
    json_object_set_new(c, "status", json_string(over ? "fail" : "pass"));
    json_object_set_new(c, "message", json_sprintf(
        "%s slope %.4g %s, 95%% CI [%.4g, %.4g], budget %.4g: %s", k->slope, est, k->unit, lo,
        json_is_number(json_array_get(ci, 1)) ? hi : INFINITY, budget,
        over ? "the whole interval is above the budget" :
        est > budget ? "the estimate is above but the interval reaches the budget (within)" :
                       "within"));
}

/*
 * Per-rep rule (peak RSS, GC pause p99, latency p99): fail when the median
 * rep is above the budget and at most one rep is at or under it (with
 * fewer than 3 reps: every rep above). One lucky or unlucky rep decides
 * nothing either way.
 */
static void eval_reps_max(const struct kind *k, double budget, json_t *vals, json_t *c)
{
    double *x;
    size_t n = to_doubles(vals, &x), above = 0;
    double med = pyab_stats_median(x, n);

    for (size_t i = 0; i < n; i++)
        above += x[i] > budget;
    int over = n > 0 && med > budget && (n < 3 ? above == n : above + 1 >= n);
    json_object_set_new(c, "rule", json_string("fail when the median rep is above the budget and "
                                               "at most one rep is not (every rep, under 3 reps)"));
    json_object_set_new(c, "value", json_real(med));
    json_object_set_new(c, "status", json_string(over ? "fail" : "pass"));
    json_object_set_new(c, "message", json_sprintf(
        "%s median %.4g %s over %zu rep%s (%zu above), budget %.4g: %s", k->metric, med, k->unit,
        n, PYAB_PLURAL(n), above, budget, over ? "exceeded" : "within"));
    free(x);
}

/*
 * Minimum rule (throughput): fail when the upper end of the median's 95%
 * bootstrap interval (3 or more reps) or the best rep (fewer) is below it.
 */
static void eval_min(const struct kind *k, double budget, json_t *vals, json_t *c)
{
    double *x, lo, hi;
    size_t n = to_doubles(vals, &x);
    double med = pyab_stats_median(x, n);

    if (n >= 3 && pyab_stats_bootstrap(x, n, PYAB_STATS_MEDIAN, 2000, 1, 0.95, &lo, &hi) == 0) {
        json_object_set_new(c, "ci", json_pack("[ff]", lo, hi));
    } else {
        hi = -INFINITY;
        for (size_t i = 0; i < n; i++)
            hi = fmax(hi, x[i]);
    }
    int under = hi < budget;
    json_object_set_new(c, "rule", json_string("fail when the upper end of the median's 95% "
                                               "bootstrap interval (the best rep, under 3 reps) "
                                               "is below the minimum"));
    json_object_set_new(c, "value", json_real(med));
    json_object_set_new(c, "status", json_string(under ? "fail" : "pass"));
    json_object_set_new(c, "message", json_sprintf(
        "throughput median %.4g %s over %zu rep%s, upper bound %.4g, minimum %.4g: %s", med,
        k->unit, n, PYAB_PLURAL(n), hi, budget, under ? "below the minimum" : "within"));
    free(x);
}

json_t *pyab_budget_evaluate(json_t *budgets, json_t *arm)
{
    json_t *out = json_array(), *v;
    const char *key;

    json_object_foreach(budgets, key, v) {
        const struct kind *k = find_kind(key);
        double budget = json_number_value(v);
        json_t *c, *vals;
        if (k == NULL)
            continue;
        c = json_pack("{s:s, s:s, s:s, s:f, s:n, s:n}", "kind", "budget", "name", key, "metric",
                      k->metric, "budget", budget, "value", "ci");
        vals = pyab_budget_rep_values(arm, k->metric);
        json_object_set(c, "reps", vals);
        if (k->rule == RULE_SLOPE) {
            eval_slope(k, budget, arm, c);
        } else if (json_array_size(vals) == 0) {
            json_object_set_new(c, "status", json_string("error"));
            json_object_set_new(c, "message", json_sprintf("no %s: no rep finished ok",
                                                           k->metric));
        } else if (k->rule == RULE_REPS_MAX) {
            eval_reps_max(k, budget, vals, c);
        } else {
            eval_min(k, budget, vals, c);
        }
        json_decref(vals);
        json_array_append_new(out, c);
    }
    return out;
}
