#include "results.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "stats.h"

const char pyab_results_csv_header[] =
    "t_s,requests,rss_bytes,pyheap_bytes,pymalloc_arena_bytes,native_heap_bytes,"
    "native_free_bytes,gc_count0,gc_count1,gc_count2,gc_collections,gc_pause_s,errors,"
    "latency_p50_ms,latency_p99_ms,phase,native_other_bytes,pyheap_malloc_bytes,refcount_total";

static const char *const phase_names[] = {"warmup", "run", "warmup_end", "end", "quiesce"};

void pyab_results_series_init(pyab_results_series *s)
{
    memset(s, 0, sizeof(*s));
}

void pyab_results_series_finish(pyab_results_series *s)
{
    free(s->t);
    free(s->requests);
    free(s->rss);
    free(s->pyheap);
    free(s->native);
    free(s->native_free);
    free(s->phase);
    for (int g = 0; g < 3; g++)
        free(s->gc_pause[g]);
    memset(s, 0, sizeof(*s));
}

static void grow(pyab_results_series *s)
{
    s->cap = s->cap ? s->cap * 2 : 256;
    s->t = xrealloc(s->t, s->cap * sizeof(double));
    s->requests = xrealloc(s->requests, s->cap * sizeof(double));
    s->rss = xrealloc(s->rss, s->cap * sizeof(double));
    s->pyheap = xrealloc(s->pyheap, s->cap * sizeof(double));
    s->native = xrealloc(s->native, s->cap * sizeof(double));
    s->native_free = xrealloc(s->native_free, s->cap * sizeof(double));
    s->phase = xrealloc(s->phase, s->cap);
}

int pyab_results_series_add_row(pyab_results_series *s, const char *row)
{
    double v[15];
    const char *p = row;
    char *end;
    int i;

    for (i = 0; i < 15; i++) {
        v[i] = *p == ',' ? NAN : strtod(p, &end);
        if (*p != ',')
            p = end;
        if (*p != ',')
            return -EINVAL;
        p++;
    }
    size_t plen = strcspn(p, ",");
    for (i = 0; i < (int)PYAB_ARRAY_LEN(phase_names); i++)
        if (strlen(phase_names[i]) == plen && strncmp(p, phase_names[i], plen) == 0)
            break;
    if (i == (int)PYAB_ARRAY_LEN(phase_names))
        return -EINVAL;
    if (s->n == s->cap)
        grow(s);
    s->t[s->n] = v[0];
    s->requests[s->n] = v[1];
    s->rss[s->n] = v[2];
    s->pyheap[s->n] = v[3];
    /* The native curve is malloc in use outside the Python heap when the
     * row has that column, else all of malloc in use. */
    s->native[s->n] = p[plen] == ',' ? strtod(p + plen + 1, NULL) : v[5];
    s->native_free[s->n] = v[6];
    s->phase[s->n] = (unsigned char)i;
    s->n++;
    return 0;
}

void pyab_results_series_add_event(pyab_results_series *s, const json_t *ev)
{
    json_int_t g = json_integer_value(json_object_get(ev, "gen"));
    double d = json_number_value(json_object_get(ev, "duration_s"));

    /* Collections before the replay started (importing the service) and
     * pyab's own quiesce collection are in events.jsonl but not in the
     * rep's figures. */
    if (g < 0 || g > 2 || json_number_value(json_object_get(ev, "t_s")) < 0 ||
        json_object_get(ev, "cause") != NULL)
        return;
    if (s->ngc[g] == s->gccap[g]) {
        s->gccap[g] = s->gccap[g] ? s->gccap[g] * 2 : 256;
        s->gc_pause[g] = xrealloc(s->gc_pause[g], s->gccap[g] * sizeof(double));
    }
    s->gc_pause[g][s->ngc[g]++] = d;
}

/* Least-squares slope of y on x over the points with use[i] set; NAN if < 3 points. */
static double ls_slope(const double *x, const double *y, const unsigned char *use, size_t n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0, m = 0;

    for (size_t i = 0; i < n; i++) {
        if (!use[i])
            continue;
        sx += x[i];
        sy += y[i];
        m++;
    }
    if (m < 3)
        return NAN;
    sx /= m;
    sy /= m;
    for (size_t i = 0; i < n; i++) {
        if (!use[i])
            continue;
        sxx += (x[i] - sx) * (x[i] - sx);
        sxy += (x[i] - sx) * (y[i] - sy);
    }
    return sxx > 0 ? sxy / sxx : NAN;
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *slopes_json(const pyab_results_series *s)
{
    const double *metrics[] = {s->rss, s->pyheap, s->native, s->native_free};
    static const char *const names[] = {"rss", "pyheap", "native", "native_free"};
    unsigned char *use = xcalloc(s->n ? s->n : 1, 1);
    json_t *out = json_object();

    /* After warm-up, before quiesce: the steady replay. */
    for (size_t i = 0; i < s->n; i++)
        use[i] = s->phase[i] == PYAB_RESULTS_PHASE_RUN || s->phase[i] == PYAB_RESULTS_PHASE_WARMUP_END ||
                 s->phase[i] == PYAB_RESULTS_PHASE_END;
    for (size_t m = 0; m < PYAB_ARRAY_LEN(names); m++) {
        double per_req = ls_slope(s->requests, metrics[m], use, s->n);
        double per_s = ls_slope(s->t, metrics[m], use, s->n);
        json_object_set_new(out, names[m],
                            json_pack("{s:o,s:o,s:s}", "bytes_per_request", num(per_req),
                                      "mb_per_hour", num(per_s * 3600 / 1048576.0), "method",
                                      "least-squares"));
    }
    free(use);
    return out;
}

static double quantile(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return NAN;
    size_t i = (size_t)ceil(q * (double)n);
    return sorted[i ? i - 1 : 0];
}

static json_t *gc_json(pyab_results_series *s, double duration, double requests)
{
    json_t *out = json_object(), *gens = json_object();
    double total = 0;
    size_t count = 0;
    char key[8];

    for (int g = 0; g < 3; g++) {
        double sum = 0;
        if (s->ngc[g])
            pyab_stats_sort(s->gc_pause[g], s->ngc[g]);
        for (size_t i = 0; i < s->ngc[g]; i++)
            sum += s->gc_pause[g][i];
        total += sum;
        count += s->ngc[g];
        snprintf(key, sizeof(key), "%d", g);
        json_object_set_new(gens, key, json_pack("{s:I,s:o,s:o,s:o,s:f}", "collections",
                            (json_int_t)s->ngc[g],
                            "pause_p50_ms", num(quantile(s->gc_pause[g], s->ngc[g], 0.5) * 1e3),
                            "pause_p99_ms", num(quantile(s->gc_pause[g], s->ngc[g], 0.99) * 1e3),
                            "pause_max_ms", num(s->ngc[g] ? s->gc_pause[g][s->ngc[g] - 1] * 1e3 : NAN),
                            "pause_total_s", sum));
    }
    /* All generations together, for the headline pause percentiles. */
    double *all = xmalloc((count ? count : 1) * sizeof(double));
    size_t k = 0;
    for (int g = 0; g < 3; g++)
        for (size_t i = 0; i < s->ngc[g]; i++)
            all[k++] = s->gc_pause[g][i];
    pyab_stats_sort(all, count);
    json_object_set_new(out, "collections", json_integer((json_int_t)count));
    json_object_set_new(out, "pause_p50_ms", num(quantile(all, count, 0.5) * 1e3));
    json_object_set_new(out, "pause_p99_ms", num(quantile(all, count, 0.99) * 1e3));
    json_object_set_new(out, "pause_max_ms", num(count ? all[count - 1] * 1e3 : NAN));
    json_object_set_new(out, "pause_total_s", json_real(total));
    json_object_set_new(out, "time_share", num(duration > 0 ? total / duration : NAN));
    json_object_set_new(out, "collections_per_1000_requests",
                        num(requests > 0 ? (double)count * 1000 / requests : NAN));
    json_object_set_new(out, "by_generation", gens);
    free(all);
    return out;
}

void pyab_results_derive(const pyab_results_series *cs, json_t *rep)
{
    pyab_results_series *s = (pyab_results_series *)cs; /* gc_json sorts the pause arrays in place */
    double duration = json_number_value(json_object_get(rep, "duration_s"));
    double requests = (double)json_integer_value(json_object_get(rep, "requests"));
    double peak = 0;

    for (size_t i = 0; i < s->n; i++)
        if (s->rss[i] > peak)
            peak = s->rss[i];
    json_object_set_new(rep, "samples", json_integer((json_int_t)s->n));
    json_object_set_new(rep, "peak_rss_bytes", json_integer((json_int_t)peak));
    json_object_set_new(rep, "slopes", slopes_json(s));
    json_object_set_new(rep, "gc", gc_json(s, duration, requests));
}

static double median_of(json_t *reps, const char *key, const char *sub)
{
    double v[1024];
    size_t n = 0, i;
    json_t *rep;

    json_array_foreach(reps, i, rep) {
        json_t *x = json_object_get(rep, key);
        if (sub)
            x = json_object_get(x, sub);
        if (strcmp(json_string_value(json_object_get(rep, "outcome")) ?: "", "ok") == 0 &&
            json_is_number(x) && n < PYAB_ARRAY_LEN(v))
            v[n++] = json_number_value(x);
    }
    if (n == 0)
        return NAN;
    pyab_stats_sort(v, n);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static json_t *merge_routes(json_t *reps)
{
    json_t *out = json_object(), *rep, *r;
    const char *route;
    size_t i;

    json_array_foreach(reps, i, rep) {
        json_object_foreach(json_object_get(rep, "routes"), route, r) {
            json_int_t errors = json_integer_value(json_object_get(r, "errors"));
            json_t *agg = json_object_get(out, route);
            if (errors == 0)
                continue;
            if (agg == NULL) {
                json_t *ex = json_array_get(json_object_get(r, "exceptions"), 0);
                agg = json_pack("{s:I,s:O?}", "count", (json_int_t)0, "first", ex);
                json_object_set_new(out, route, agg);
            }
            json_object_set_new(agg, "count",
                                json_integer(json_integer_value(json_object_get(agg, "count")) +
                                             errors));
        }
    }
    return out;
}

/*
 * Status classes per route ("2xx": n, ...), summed over every rep that
 * reported them (a WSGI app's responses, or a handler returning an int).
 * Routes without a counted status are left out.
 */
static json_t *merge_status(json_t *reps)
{
    json_t *out = json_object(), *rep, *r, *n;
    const char *route, *cls;
    size_t i;

    json_array_foreach(reps, i, rep) {
        json_object_foreach(json_object_get(rep, "routes"), route, r) {
            json_object_foreach(json_object_get(r, "status"), cls, n) {
                json_t *agg = json_object_get(out, route);
                if (!json_is_integer(n))
                    continue;
                if (agg == NULL) {
                    agg = json_object();
                    json_object_set_new(out, route, agg);
                }
                json_int_t sum = json_integer_value(n) +
                                 json_integer_value(json_object_get(agg, cls));
                json_object_set_new(agg, cls, json_integer(sum));
            }
        }
    }
    return out;
}

json_t *pyab_results_aggregate(json_t *reps)
{
    json_t *arm = json_object(), *slopes = json_object(), *gc = json_object(), *rep;
    static const char *const metrics[] = {"rss", "pyheap", "native", "native_free"};
    static const char *const gc_keys[] = {"pause_p50_ms", "pause_p99_ms", "pause_max_ms",
                                          "time_share", "collections_per_1000_requests"};
    pyab_hist lat;
    double peak = 0;
    json_int_t errors = 0, ok = 0;
    size_t i;

    memset(&lat, 0, sizeof(lat));
    json_array_foreach(reps, i, rep) {
        if (strcmp(json_string_value(json_object_get(rep, "outcome")) ?: "", "ok") == 0) {
            ok++;
            pyab_hist_add_json(&lat, json_object_get(rep, "latency_hist"));
        }
        errors += json_integer_value(json_object_get(rep, "errors"));
        peak = fmax(peak, (double)json_integer_value(json_object_get(rep, "peak_rss_bytes")));
    }
    for (size_t m = 0; m < PYAB_ARRAY_LEN(metrics); m++) {
        double bpr = NAN, mph = NAN;
        double v[1024];
        size_t n = 0;
        json_array_foreach(reps, i, rep) {
            json_t *sl = json_object_get(json_object_get(rep, "slopes"), metrics[m]);
            if (json_is_number(json_object_get(sl, "bytes_per_request")) && n < 1024)
                v[n++] = json_number_value(json_object_get(sl, "bytes_per_request"));
        }
        pyab_stats_sort(v, n);
        if (n)
            bpr = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        n = 0;
        json_array_foreach(reps, i, rep) {
            json_t *sl = json_object_get(json_object_get(rep, "slopes"), metrics[m]);
            if (json_is_number(json_object_get(sl, "mb_per_hour")) && n < 1024)
                v[n++] = json_number_value(json_object_get(sl, "mb_per_hour"));
        }
        pyab_stats_sort(v, n);
        if (n)
            mph = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        json_object_set_new(slopes, metrics[m], json_pack("{s:o,s:o,s:s}", "bytes_per_request",
                                                          num(bpr), "mb_per_hour", num(mph),
                                                          "method", "median of reps"));
    }
    for (size_t k = 0; k < PYAB_ARRAY_LEN(gc_keys); k++)
        json_object_set_new(gc, gc_keys[k], num(median_of(reps, "gc", gc_keys[k])));
    json_object_set_new(arm, "reps", json_incref(reps));
    json_object_set_new(arm, "reps_ok", json_integer(ok));
    json_object_set_new(arm, "throughput_rps", num(median_of(reps, "throughput_rps", NULL)));
    json_object_set_new(arm, "latency_ms",
                        json_pack("{s:o,s:o,s:o,s:o}", "p50", num(pyab_hist_quantile_ms(&lat, .5)),
                                  "p90", num(pyab_hist_quantile_ms(&lat, .9)), "p99",
                                  num(pyab_hist_quantile_ms(&lat, .99)), "max",
                                  num(pyab_hist_max_ms(&lat))));
    json_object_set_new(arm, "peak_rss_bytes", json_integer((json_int_t)peak));
    json_object_set_new(arm, "errors", json_integer(errors));
    json_object_set_new(arm, "errors_by_route", merge_routes(reps));
    json_object_set_new(arm, "status_by_route", merge_status(reps));
    json_object_set_new(arm, "gc", gc);
    json_object_set_new(arm, "slopes", slopes);
    return arm;
}

static double getnum(const json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* One number of the arm table into a 32-byte cell; "-" when there is none. */
static void cell(char *buf, int decimals, const char *suffix, double v)
{
    if (isfinite(v))
        snprintf(buf, 32, "%.*f%s", decimals, v, suffix);
    else
        snprintf(buf, 32, "-");
}

void pyab_results_print(FILE *f, const json_t *summary)
{
    json_t *arms = json_object_get(summary, "arms"), *arm;
    const char *name;

    /* Load and cost per arm; the slopes and verdicts follow in the analysis table. */
    fprintf(f, "\n%-14s %5s %10s %9s %9s %10s %10s %9s %8s\n", "arm", "reps", "req/s", "p50 ms",
            "p99 ms", "peak RSS", "GC p99 ms", "GC time", "errors");
    json_object_foreach(arms, name, arm) {
        json_t *gc = json_object_get(arm, "gc");
        char reps[32], c[6][32];
        snprintf(reps, sizeof(reps), "%lld/%zu",
                 (long long)json_integer_value(json_object_get(arm, "reps_ok")),
                 json_array_size(json_object_get(arm, "reps")));
        /* An arm without ok reps has no figures: "-", not "nan". */
        cell(c[0], 0, "", getnum(arm, "throughput_rps", NULL));
        cell(c[1], 3, "", getnum(arm, "latency_ms", "p50"));
        cell(c[2], 3, "", getnum(arm, "latency_ms", "p99"));
        cell(c[3], 1, "MB", getnum(arm, "peak_rss_bytes", NULL) / 1048576.0);
        cell(c[4], 3, "", getnum(gc, "pause_p99_ms", NULL));
        cell(c[5], 1, "%", getnum(gc, "time_share", NULL) * 100);
        fprintf(f, "%-14.14s %5s %10s %9s %9s %10s %10s %9s %8lld\n", name, reps, c[0], c[1], c[2],
                c[3], c[4], c[5], (long long)json_integer_value(json_object_get(arm, "errors")));
    }
}
