#include "changes.h"

#include <math.h>
#include <stdlib.h>

#include "regress.h"
#include "stats.h"
#include "stats_shape.h"
#include "util.h"

/* Binary segmentation over y[lo, hi); appends indices to at[]. */
static void segment(const double *y, size_t lo, size_t hi, double min_effect, size_t *at,
                    size_t *n, size_t max)
{
    size_t len = hi - lo;
    double *x;
    pyab_step step;

    if (*n >= max || len < 2 * PYAB_CHANGES_SIDE_RUNS)
        return;
    x = xcalloc(len, sizeof(double));
    for (size_t i = 0; i < len; i++)
        x[i] = (double)i;
    int ok = pyab_stats_step(x, y + lo, len, PYAB_CHANGES_SIDE_RUNS, &step) == 0;
    free(x);
    if (!ok || step.at < PYAB_CHANGES_SIDE_RUNS || len - step.at < PYAB_CHANGES_SIDE_RUNS)
        return;
    double ss = 0;
    for (size_t i = 0; i < len; i++) {
        double d = y[lo + i] - (i < step.at ? step.before : step.after);
        ss += d * d;
    }
    double sd = sqrt(ss / (double)(len - 2));
    if (!(fabs(step.delta) > 4 * sd && fabs(step.delta) > min_effect))
        return;
    segment(y, lo, lo + step.at, min_effect, at, n, max);
    if (*n < max)
        at[(*n)++] = lo + step.at;
    segment(y, lo + step.at, hi, min_effect, at, n, max);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

size_t pyab_changes_find(const double *y, size_t n, double min_effect, size_t *at,
                                  size_t max)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++)
        if (isnan(y[i]))
            return 0; /* a gap: the caller passes only the measured points */
    segment(y, 0, n, min_effect, at, &k, max);
    qsort(at, k, sizeof(*at), cmp_size);
    return k;
}

/* Whether every one of y[0, t) lies beyond base +- effect on the same side. */
static int all_moved(const double *y, size_t t, double base, double effect)
{
    int up = 0, down = 0;

    for (size_t i = 0; i < t; i++) {
        up += y[i] > base + effect;
        down += y[i] < base - effect;
    }
    return up == (int)t || down == (int)t;
}

const char *pyab_changes_no_change_label(const char *metric, json_t *values)
{
    size_t n = json_array_size(values), k = 0;
    double *y = xcalloc(n ? n : 1, sizeof(double));
    const char *label = "steady";

    for (size_t i = 0; i < n; i++)
        if (json_is_number(json_array_get(values, i)))
            y[k++] = json_number_value(json_array_get(values, i));
    if (k < 2 * PYAB_CHANGES_SIDE_RUNS) {
        label = "too few runs to tell";
    } else {
        /* A step needs PYAB_CHANGES_SIDE_RUNS runs after it to be found; the newest
         * ones may have moved all the same. */
        for (size_t t = PYAB_CHANGES_SIDE_RUNS - 1; t >= 1; t--) {
            double base = pyab_stats_median(y, k - t);
            if (all_moved(y + k - t, t, base, pyab_regress_min_effect(metric, base))) {
                label = t == 1 ? "steady before the last run, which moved: too few runs to tell"
                               : "steady before the last runs, which moved: too few runs to tell";
                break;
            }
        }
    }
    free(y);
    return label;
}

void pyab_changes_annotate(json_t *runs, const char *metric, json_t *m)
{
    json_t *vals = json_object_get(m, "values"), *cps = json_array();
    size_t n = json_array_size(vals), k = 0, *at = xcalloc(8, sizeof(size_t));
    size_t *idx = xcalloc(n ? n : 1, sizeof(size_t));
    double *y = xcalloc(n ? n : 1, sizeof(double));

    for (size_t i = 0; i < n; i++)
        if (json_is_number(json_array_get(vals, i))) {
            idx[k] = i;
            y[k++] = json_number_value(json_array_get(vals, i));
        }
    size_t ncp = pyab_changes_find(y, k, pyab_regress_min_effect(metric,
                                            pyab_stats_median(y, k)), at, 8);
    for (size_t c = 0; c < ncp; c++) {
        size_t from = c ? at[c - 1] : 0, to = c + 1 < ncp ? at[c + 1] : k;
        double before = pyab_stats_median(y + from, at[c] - from);
        double after = pyab_stats_median(y + at[c], to - at[c]);
        json_t *run = json_array_get(runs, idx[at[c]]);
        json_array_append_new(cps, json_pack(
            "{s:I, s:f, s:f, s:f, s:O, s:O}", "run", (json_int_t)idx[at[c]], "before", before,
            "after", after, "delta", after - before, "date_utc", json_object_get(run, "date_utc"),
            "git_revision", json_object_get(run, "git_revision")));
    }
    json_object_set_new(m, "change_points", cps);
    free(at);
    free(idx);
    free(y);
}
