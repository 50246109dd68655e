#include "ablate.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rng.h"
#include "stats.h"

/* A swap "explains" the growth when it removes at least this share of it. */
#define EXPLAINS 0.5
#define BOOT_ITERS 4000
#define BOOT_CONF 0.95

static const char *const metrics[] = {"auto", "rss", "pyheap", "native"};

/* ---- validation ------------------------------------------------------- */

static int fail(pyab_error *err, const char *file, const char *key, const char *what)
{
    return pyab_error_set(err, "%s: key \"%s\": %s", file, key, what);
}

/* A dotted Python module name: identifiers joined by '.'. */
static int module_name_ok(const char *s)
{
    int start = 1;

    for (; *s; s++) {
        if (*s == '.') {
            if (start)
                return 0;
            start = 1;
        } else if (isalpha((unsigned char)*s) || *s == '_' || (!start && isdigit((unsigned char)*s))) {
            start = 0;
        } else {
            return 0;
        }
    }
    return !start;
}

static int check_suspects(json_t *sus, const char *file, const char *base_dir, pyab_error *err)
{
    const char *name;
    json_t *v;

    if (!json_is_object(sus) || json_object_size(sus) == 0)
        return fail(err, file, "ablate.suspects",
                    "must be an object mapping module names to stand-ins, e.g. "
                    "{\"tensorflow\": \"mocks/tf_standin.py\"}");
    json_object_foreach(sus, name, v) {
        char *key = xasprintf("ablate.suspects.%s", name), *path;
        struct stat st;
        int rc = 0;

        if (!module_name_ok(name) || strlen(name) > 58)
            rc = fail(err, file, key, "must be a module name (identifiers joined by '.', "
                      "at most 58 characters)");
        else if (!json_is_string(v) || json_string_length(v) == 0)
            rc = fail(err, file, key, "must be a non-empty string: the stand-in's file or "
                      "package folder");
        if (rc == 0) {
            path = json_string_value(v)[0] == '/' ? xstrdup(json_string_value(v))
                                                  : pyab_path_join(base_dir, json_string_value(v));
            if (stat(path, &st) != 0) {
                char *what = xasprintf("no such stand-in file or folder: %s", path);
                rc = fail(err, file, key, what);
                free(what);
            }
            free(path);
        }
        free(key);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int pyab_ablate_validate(json_t *ablate, const char *file, const char *base_dir,
                         pyab_error *err)
{
    const char *key;
    json_t *v, *metric;

    if (!json_is_object(ablate))
        return fail(err, file, "ablate", "must be an object with \"suspects\"");
    json_object_foreach(ablate, key, v) {
        if (strcmp(key, "suspects") != 0 && strcmp(key, "metric") != 0) {
            char *kp = xasprintf("ablate.%s", key);
            int rc = fail(err, file, kp, "unknown key (known: suspects, metric)");
            free(kp);
            return rc;
        }
    }
    metric = json_object_get(ablate, "metric");
    if (metric) {
        int ok = 0;
        for (size_t i = 0; json_is_string(metric) && i < PYAB_ARRAY_LEN(metrics); i++)
            ok |= strcmp(json_string_value(metric), metrics[i]) == 0;
        if (!ok)
            return fail(err, file, "ablate.metric",
                        "must be one of \"auto\", \"rss\", \"pyheap\", \"native\"");
    }
    if (json_object_get(ablate, "suspects") == NULL)
        return fail(err, file, "ablate.suspects", "missing (e.g. {\"tensorflow\": "
                    "\"mocks/tf_standin.py\"})");
    return check_suspects(json_object_get(ablate, "suspects"), file, base_dir, err);
}

/* ---- ranking ---------------------------------------------------------- */

/* jansson refuses NaN and infinities; JSON says null. */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* The per-rep slopes (bytes per request) of an arm's ok reps. New array in *out. */
static size_t rep_slopes(json_t *summary, const char *arm, const char *metric, double **out)
{
    json_t *reps = json_object_get(json_object_get(json_object_get(summary, "arms"), arm), "reps");
    json_t *rep;
    size_t i, n = 0;

    *out = xcalloc(json_array_size(reps) + 1, sizeof(double));
    json_array_foreach(reps, i, rep) {
        json_t *v = json_object_get(json_object_get(json_object_get(rep, "slopes"), metric),
                                    "bytes_per_request");
        if (json_is_number(v))
            (*out)[n++] = json_number_value(v);
    }
    return n;
}

static double mean(const double *x, size_t n)
{
    double s = 0;

    for (size_t i = 0; i < n; i++)
        s += x[i];
    return n ? s / (double)n : NAN;
}

/*
 * The B/request shown per arm (headline and ranking): the median of the
 * per-rep slopes, the statistic of the arm table and the verdicts (the
 * pooled slope), so the figures read the same everywhere. The share
 * removed is a ratio of means (below), which the bootstrap resamples.
 */
static double shown_slope(const double *x, size_t n)
{
    return n ? pyab_stats_median(x, n) : NAN;
}

static double resampled_mean(const double *x, size_t n, uint64_t *rng)
{
    double s = 0;

    for (size_t i = 0; i < n; i++)
        s += x[pyab_rng_below(rng, n)];
    return s / (double)n;
}

/*
 * Share of the control's growth removed: 1 - mean(arm) / mean(control),
 * with a percentile bootstrap interval that resamples the reps of each arm
 * on its own (resamples whose control mean is not positive are dropped:
 * there is no growth to take a share of).
 */
static void share_removed(const double *c, size_t nc, const double *a, size_t na, uint64_t seed,
                          double *est, double *lo, double *hi)
{
    double *boot = xmalloc(BOOT_ITERS * sizeof(double));
    uint64_t rng = seed;
    size_t k = 0;

    *est = *lo = *hi = NAN;
    if (nc == 0 || na == 0 || !(mean(c, nc) > 0)) {
        free(boot);
        return;
    }
    *est = 1 - mean(a, na) / mean(c, nc);
    for (size_t i = 0; i < BOOT_ITERS; i++) {
        double mc = resampled_mean(c, nc, &rng), ma = resampled_mean(a, na, &rng);
        if (mc > 0)
            boot[k++] = 1 - ma / mc;
    }
    if (k >= BOOT_ITERS / 2) {
        pyab_stats_sort(boot, k);
        *lo = boot[(size_t)floor((1 - BOOT_CONF) / 2 * (double)(k - 1))];
        *hi = boot[(size_t)ceil((1 + BOOT_CONF) / 2 * (double)(k - 1))];
    }
    free(boot);
}

/* The metric where the control's growth lives: native or pyheap when only that one grows. */
static const char *choose_metric(json_t *summary, const char *control, const char *want)
{
    json_t *slopes = json_object_get(json_object_get(json_object_get(summary, "arms"), control),
                                     "slopes");
    const char *py = json_string_value(json_object_get(json_object_get(slopes, "pyheap"), "class"));
    const char *nat = json_string_value(json_object_get(json_object_get(slopes, "native"), "class"));
    int py_grows = py && strcmp(py, "grows") == 0, nat_grows = nat && strcmp(nat, "grows") == 0;

    if (want && strcmp(want, "auto") != 0)
        return want;
    if (nat_grows && !py_grows)
        return "native";
    if (py_grows && !nat_grows)
        return "pyheap";
    return "rss";
}

static json_t *entry(json_t *summary, const char *suspect, const char *arm, const double *c,
                     size_t nc, const char *metric, uint64_t seed)
{
    double *a, est, lo, hi;
    size_t na = rep_slopes(summary, arm, metric, &a);
    json_t *e;

    share_removed(c, nc, a, na, seed, &est, &lo, &hi);
    e = json_pack("{sssosossso sI}", "suspect", suspect, "growth_removed", jnum(est), "ci",
                  json_pack("[oo]", jnum(lo), jnum(hi)), "arm", arm, "bytes_per_request",
                  jnum(shown_slope(a, na)), "reps", (json_int_t)na);
    free(a);
    return e;
}

static int cmp_entry(const void *pa, const void *pb)
{
    double a = json_number_value(json_object_get(*(json_t *const *)pa, "growth_removed"));
    double b = json_number_value(json_object_get(*(json_t *const *)pb, "growth_removed"));
    int na = !json_is_number(json_object_get(*(json_t *const *)pa, "growth_removed"));
    int nb = !json_is_number(json_object_get(*(json_t *const *)pb, "growth_removed"));

    if (na || nb)
        return na - nb; /* no estimate: last */
    return a > b ? -1 : a < b;
}

static double removed(json_t *e)
{
    json_t *v = json_object_get(e, "growth_removed");
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Suspects whose swap alone explains the growth, sure at the interval's lower end too. */
static json_t *implicated(json_t *ranking)
{
    json_t *out = json_array(), *e;
    size_t i;

    json_array_foreach(ranking, i, e) {
        double lo = json_number_value(json_array_get(json_object_get(e, "ci"), 0));
        if (removed(e) >= EXPLAINS && json_is_number(json_array_get(json_object_get(e, "ci"), 0)) &&
            lo > 0)
            json_array_append(out, json_object_get(e, "suspect"));
    }
    return out;
}

/*
 * Sets "implicated", "interaction" and "conclusion" from the ranking and the
 * all-swapped arm. A control that does not leak implicates nothing: shares
 * of a growth that is not there are noise.
 */
static void conclude(json_t *ab, json_t *ranking, json_t *all, const char *control_verdict)
{
    json_t *top = json_array_get(ranking, 0);
    double best = removed(top), together = removed(all);
    const char *name = json_string_value(json_object_get(top, "suspect"));
    int interaction = 0, leaks = control_verdict && strcmp(control_verdict, "leak") == 0;
    char *text;

    if (!leaks || !isfinite(best) || !isfinite(together))
        text = xasprintf("the control arm does not leak (verdict %s): no suspect is implicated; "
                         "any shares below are of noise", control_verdict ? control_verdict : "?");
    else if (best >= EXPLAINS)
        text = xasprintf("swapping out %s alone removes %.0f%% of the control's growth; with "
                         "every suspect swapped, %.0f%%", name, 100 * best, 100 * together);
    else if (together >= EXPLAINS) {
        interaction = 1;
        text = xasprintf("no single swap removes half of the control's growth (at most %.0f%%, "
                         "%s), but swapping all of them together removes %.0f%%: the suspects "
                         "leak only in combination, or each holds a part of it", 100 * best, name,
                         100 * together);
    } else
        text = xasprintf("even with every suspect swapped, %.0f%% of the control's growth "
                         "remains: it comes from somewhere else", 100 * (1 - together));
    json_object_set_new(ab, "implicated", leaks ? implicated(ranking) : json_array());
    json_object_set_new(ab, "interaction", json_boolean(interaction));
    json_object_set_new(ab, "conclusion", json_string(text));
    free(text);
}

json_t *pyab_ablate_rank(json_t *summary, const char *control, const char *const *suspects,
                         const char *const *arms, size_t n, const char *all_arm,
                         const char *metric)
{
    const char *m = choose_metric(summary, control, metric);
    json_t *carm = json_object_get(json_object_get(summary, "arms"), control);
    json_t *ab = json_object(), *ranking = json_array(), **list = xcalloc(n + 1, sizeof(json_t *));
    json_t *all;
    double *c;
    size_t nc = rep_slopes(summary, control, m, &c);

    for (size_t i = 0; i < n; i++)
        list[i] = entry(summary, suspects[i], arms[i], c, nc, m, 1 + i);
    if (all_arm)
        all = entry(summary, "(all)", all_arm, c, nc, m, 1 + n);
    else
        all = json_deep_copy(list[0]);
    qsort(list, n, sizeof(json_t *), cmp_entry);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ranking, list[i]);
    json_object_set_new(ab, "metric", json_string(m));
    json_object_set_new(ab, "metric_choice", json_string(
        metric && strcmp(metric, "auto") != 0 ? "ablate.metric"
        : "auto: native when only the native heap grows in the control, pyheap when only the "
          "Python heap does, otherwise rss"));
    json_object_set_new(ab, "measure", json_string(
        "growth_removed = 1 - mean(arm's per-rep slope) / mean(control's per-rep slope), in "
        "bytes per request of the metric; ci: 95% percentile bootstrap resampling each arm's "
        "reps; bytes_per_request (control and each arm) is the median of the per-rep slopes, "
        "as in the arm table"));
    json_object_set_new(ab, "control", json_pack("{sssosIso}", "arm", control,
                                                 "bytes_per_request", jnum(shown_slope(c, nc)), "reps",
                                                 (json_int_t)nc, "verdict",
                                                 json_incref(json_object_get(carm, "verdict")) ?: json_null()));
    json_object_set_new(ab, "ranking", ranking);
    json_object_set_new(ab, "all_swapped", all);
    conclude(ab, ranking, all, json_string_value(json_object_get(carm, "verdict")));
    free(list);
    free(c);
    return ab;
}

/* A share in percent, without the "-0" that rounding a small negative gives. */
static double pct(double x)
{
    return fabs(100 * x) < 0.5 ? 0 : 100 * x;
}

static void print_share(FILE *f, json_t *e)
{
    json_t *ci = json_object_get(e, "ci");
    double v = removed(e), lo = json_number_value(json_array_get(ci, 0)),
           hi = json_number_value(json_array_get(ci, 1));

    if (!isfinite(v))
        fprintf(f, "  %8s  %-20s", "-", "");
    else if (json_is_number(json_array_get(ci, 0)))
        fprintf(f, "  %7.0f%%  [%5.0f%%, %5.0f%%]    ", pct(v), pct(lo), pct(hi));
    else
        fprintf(f, "  %7.0f%%  %-20s", pct(v), "");
    fprintf(f, "  %12.1f  %s\n", json_number_value(json_object_get(e, "bytes_per_request")),
            json_string_value(json_object_get(e, "arm")));
}

void pyab_ablate_print(FILE *f, json_t *ab)
{
    json_t *ranking = json_object_get(ab, "ranking"), *e;
    json_t *control = json_object_get(ab, "control");
    size_t i;

    long long reps = (long long)json_integer_value(json_object_get(control, "reps"));

    fprintf(f, "\nablation: metric %s, control %.1f B/request (median of %lld rep%s, as in the "
            "arm table), verdict %s\n",
            json_string_value(json_object_get(ab, "metric")),
            json_number_value(json_object_get(control, "bytes_per_request")), reps,
            PYAB_PLURAL(reps),
            json_string_value(json_object_get(control, "verdict")) ?: "?");
    fprintf(f, "  %-4s  %-24s  %8s  %-20s  %12s  %s\n", "rank", "suspect", "removed",
            "95% CI", "median B/req", "arm");
    json_array_foreach(ranking, i, e) {
        fprintf(f, "  %-4zu  %-24s", i + 1, json_string_value(json_object_get(e, "suspect")));
        print_share(f, e);
    }
    fprintf(f, "  %-4s  %-24s", "", "all swapped");
    print_share(f, json_object_get(ab, "all_swapped"));
    fprintf(f, "  %s\n", json_string_value(json_object_get(ab, "conclusion")));
    fprintf(f, "  (removed: 1 - mean arm slope / mean control slope, over the reps)\n");
}
