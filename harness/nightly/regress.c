#include "regress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "history.h"
#include "stats.h"
#include "util.h"

/*
 * What "worse" means per metric, and the smallest change that counts: the
 * larger of a share of the baseline and an absolute floor. The floors sit
 * above the rep-to-rep noise of a quiet service on a shared machine (a
 * flat service's slopes scatter by a few B/request, its peak RSS by a MiB
 * or two, GC p99 by a millisecond, throughput by 10-20% when the machine is shared), so noise alone
 * never clears them.
 */
static const struct metric {
    const char *name;
    const char *slope; /* summary slopes key, or NULL */
    int higher_is_worse;
    int timing;        /* moves with the machine's load: needs MIN_TIMING_REPS a side */
    double rel, floor;
    const char *unit;
} metrics[] = {
    {"rss_slope", "rss", 1, 0, 0.25, 64, "B/request"},
    {"pyheap_slope", "pyheap", 1, 0, 0.25, 16, "B/request"},
    {"peak_rss_mb", NULL, 1, 0, 0.10, 8, "MiB"},
    {"gc_pause_p99_ms", NULL, 1, 1, 0.50, 2, "ms"},
    {"throughput_rps", NULL, 0, 1, 0.30, 0, "requests/s"},
    {"cpu_us_per_request", NULL, 1, 1, 1.00, 1, "us"},
};

/*
 * One rep against one rep cannot tell a slower service from a busier
 * machine, so timing metrics are tested only with 3 reps or more a side.
 * Even CPU time is not immune to a busy host: two CPU hogs on a 2-CPU VM
 * raised a quiet service's CPU cost per request by 51% (median of 3 reps)
 * and 60% (one rep), hence its minimum effect of a doubling.
 */
#define MIN_TIMING_REPS 3

#define BOOT_ITERS 2000
#define BOOT_SEED 7
#define BOOT_CONF 0.95

static size_t values(json_t *arm, const char *metric, double **out)
{
    json_t *arr = pyab_budget_rep_values(arm, metric);
    size_t n = json_array_size(arr);

    *out = xcalloc(n ? n : 1, sizeof(double));
    for (size_t i = 0; i < n; i++)
        (*out)[i] = json_number_value(json_array_get(arr, i));
    json_decref(arr);
    return n;
}

/* The pooled slope intervals must not overlap either: current lo > baseline hi. */
static int slopes_separate(const struct metric *m, json_t *arm, json_t *base_arm)
{
    json_t *a = json_object_get(json_object_get(json_object_get(arm, "slopes"), m->slope), "ci");
    json_t *b = json_object_get(
        json_object_get(json_object_get(base_arm, "slopes"), m->slope), "ci");

    if (!json_is_number(json_array_get(a, 0)) || !json_is_number(json_array_get(b, 1)))
        return 1; /* no pooled interval: the per-rep test decides alone */
    return json_number_value(json_array_get(a, 0)) > json_number_value(json_array_get(b, 1));
}

/*
 * A metric regressed when (1) the difference of medians, oriented so that
 * positive is worse, exceeds the minimum effect; (2) its 95% bootstrap
 * interval (each run's reps resampled on their own) lies above zero, which
 * with 3 reps a side takes every current rep worse than every baseline
 * rep; and (3) for slopes, the pooled 95% intervals do not overlap.
 */
static json_t *compare_metric(const struct metric *m, json_t *arm, json_t *base_arm)
{
    double *bv, *cv, lo, hi, p;
    size_t nb = values(base_arm, m->name, &bv), nc = values(arm, m->name, &cv);
    json_t *c = json_pack("{s:s, s:s, s:s, s:s}", "kind", "regression", "name", m->name,
                          "metric", m->name, "rule",
                          "fail when the median is worse than the baseline's by more than the "
                          "minimum effect, the 95% bootstrap interval of the difference excludes "
                          "zero, and (slopes) the pooled intervals do not overlap");

    if (nc == 0 || nb == 0) {
        json_object_set_new(c, "status", json_string("skip"));
        json_object_set_new(c, "message", json_sprintf("%s: no ok rep measured it in %s",
                                                       m->name, nc ? "the baseline" : "this run"));
        free(bv);
        free(cv);
        return c;
    }
    double cur = pyab_stats_median(cv, nc), base = pyab_stats_median(bv, nb);
    double sign = m->higher_is_worse ? 1 : -1, delta = sign * (cur - base);
    double min_effect = fmax(m->rel * fabs(base), m->floor);
    pyab_stats_bootstrap_diff(bv, nb, cv, nc, PYAB_STATS_MEDIAN, BOOT_ITERS, BOOT_SEED, BOOT_CONF,
                              &lo, &hi);
    if (!m->higher_is_worse) {
        double t = lo;
        lo = -hi;
        hi = -t;
    }
    p = pyab_stats_mann_whitney(bv, nb, cv, nc, NULL);
    int few = m->timing && (nc < MIN_TIMING_REPS || nb < MIN_TIMING_REPS);
    int worse = !few && delta > min_effect && lo > 0 &&
                (!m->slope || slopes_separate(m, arm, base_arm));
    json_object_set_new(c, "status", json_string(worse ? "fail" : "pass"));
    json_object_set_new(c, "value", json_real(cur));
    json_object_set_new(c, "baseline", json_real(base));
    json_object_set_new(c, "delta", json_real(delta));
    json_object_set_new(c, "min_effect", json_real(min_effect));
    json_object_set_new(c, "ci", json_pack("[ff]", lo, hi));
    json_object_set_new(c, "p", isnan(p) ? json_null() : json_real(p));
    json_object_set_new(c, "message", json_sprintf(
        "%s %.4g %s vs baseline %.4g (%zu vs %zu rep%s): worse by %.4g, minimum effect %.4g, "
        "95%% CI of the worsening [%.4g, %.4g], rank test p=%.3g: %s", m->name, cur, m->unit, base,
        nc, nb, PYAB_PLURAL(nb), delta, min_effect, lo, hi, p,
        worse ? "regressed" : few ? "not tested: timing needs 3 reps a side"
              : delta > min_effect ? "within noise" : "no material change"));
    free(bv);
    free(cv);
    return c;
}

static json_t *find(json_t *checks, const char *name)
{
    size_t i;
    json_t *c;

    json_array_foreach(checks, i, c)
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
            return c;
    return NULL;
}

/*
 * Wall-clock throughput falls whenever the machine is busy with something
 * else (measured: a quiet service's throughput halves between runs on a
 * loaded CI host). The CPU time each request costs hardly moves with such
 * contention, so a throughput drop is a regression only when the CPU cost
 * per request rose by its own rule too; otherwise it is reported, not failed.
 */
static void gate_throughput(json_t *checks)
{
    json_t *tput = find(checks, "throughput_rps"), *cpu = find(checks, "cpu_us_per_request");
    const char *st = json_string_value(json_object_get(tput, "status"));
    const char *cst = json_string_value(json_object_get(cpu, "status"));

    if (st == NULL || strcmp(st, "fail") != 0 || (cst && strcmp(cst, "fail") == 0))
        return;
    json_object_set_new(tput, "status", json_string("pass"));
    json_object_set_new(tput, "message", json_sprintf(
        "%s; but the CPU cost per request did not rise (%s), so the machine was busier, not the "
        "service slower", json_string_value(json_object_get(tput, "message")),
        cst ? cst : "not measured"));
}

json_t *pyab_regress_arm(json_t *arm, json_t *base_arm)
{
    json_t *out = json_array();

    for (size_t i = 0; i < PYAB_ARRAY_LEN(metrics); i++)
        json_array_append_new(out, compare_metric(&metrics[i], arm, base_arm));
    gate_throughput(out);
    return out;
}

double pyab_regress_min_effect(const char *metric, double baseline)
{
    for (size_t i = 0; i < PYAB_ARRAY_LEN(metrics); i++)
        if (strcmp(metrics[i].name, metric) == 0)
            return fmax(metrics[i].rel * fabs(baseline), metrics[i].floor);
    return 0.10 * fabs(baseline);
}

static json_t *load_json(const char *dir, const char *name)
{
    char *p = pyab_path_join(dir, name);
    json_t *j = json_load_file(p, 0, NULL);

    free(p);
    return j;
}

/* The scenario of DIR/summary.json, or NULL (borrowed from summary, which is new or NULL). */
static const char *scenario_of(const char *dir, json_t **summary)
{
    *summary = load_json(dir, "summary.json");
    return json_string_value(json_object_get(*summary, "scenario"));
}

char *pyab_regress_baseline_dir(const char *dir, const char *scenario, char **why)
{
    json_t *top, *sub_summary = NULL, *summary, *manifest;
    const char *top_name = scenario_of(dir, &top), *sub_name;
    char *sub = pyab_path_join(dir, scenario), *out = NULL, *bad;

    *why = NULL;
    if (top_name && strcmp(top_name, scenario) == 0)
        out = xstrdup(dir);
    else if ((sub_name = scenario_of(sub, &sub_summary)) && strcmp(sub_name, scenario) == 0)
        out = xstrdup(sub);
    if (out == NULL) {
        *why = top_name ? xasprintf("--baseline %s: holds the results of scenario \"%s\", not "
                                    "\"%s\"", dir, top_name, scenario)
                        : xasprintf("--baseline %s: no results of scenario \"%s\" (neither "
                                    "%s/summary.json nor %s/summary.json is of it)", dir,
                                    scenario, dir, sub);
        goto done;
    }
    summary = strcmp(out, dir) == 0 ? top : sub_summary;
    manifest = load_json(out, "manifest.json");
    bad = manifest ? pyab_history_incomplete(summary, manifest) : xstrdup("no manifest.json");
    json_decref(manifest);
    if (bad) {
        *why = xasprintf("--baseline %s: cannot be the baseline of \"%s\": %s", out, scenario,
                         bad);
        free(bad);
        free(out);
        out = NULL;
    }
done:
    json_decref(top);
    json_decref(sub_summary);
    free(sub);
    return out;
}
