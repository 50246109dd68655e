#include "traceinfo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define MAX_BUCKETS 60

#define DAY 86400.0

/* The documented list (traceinfo.h, README): seconds, minutes, hours, a day; then whole days. */
static const double bucket_widths[] = {
    1, 2, 5, 10, 15, 30,                /* s */
    60, 120, 300, 600, 900, 1800,       /* 1, 2, 5, 10, 15, 30 min */
    3600, 7200, 21600, 43200, DAY,      /* 1, 2, 6, 12 h, 1 day */
};

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values: the value at rank ceil(p n). */
static size_t rank(size_t n, double p)
{
    size_t r = (size_t)ceil(p * (double)n);
    return r ? r - 1 : 0;
}

static double pick_width(double duration)
{
    for (size_t i = 0; i < PYAB_ARRAY_LEN(bucket_widths); i++)
        if (ceil(duration / bucket_widths[i]) <= MAX_BUCKETS)
            return bucket_widths[i];
    return DAY * ceil(duration / DAY / MAX_BUCKETS);
}

/*
 * Requests per bucket and their rates. The last bucket usually ends with
 * the trace, before its full width: its rate is over the time it covers,
 * not the width (a 5.03 s trace's last 0.03 s is not a quiet second). A
 * last bucket covering under half a width is left out of min/median/max,
 * as a handful of requests over a sliver of time is no rate; its count
 * and rate are still listed.
 */
static json_t *rate_figures(const pyab_trace *tr)
{
    double width = pick_width(tr->duration);
    size_t nb = (size_t)ceil(tr->duration / width), nr;
    size_t *counts;
    double *rates, last;
    json_t *rate = json_object(), *list = json_array(), *rps = json_array();

    nb = nb ? nb : 1;
    last = tr->duration - (double)(nb - 1) * width;
    if (!(last > 0) || last > width)
        last = width; /* a zero-length trace: one bucket of the full width */
    counts = xcalloc(nb, sizeof(*counts));
    rates = xcalloc(nb, sizeof(*rates));
    for (size_t i = 0; i < tr->count; i++) {
        size_t b = (size_t)(tr->recs[i].t / width);
        counts[b < nb ? b : nb - 1]++; /* the last request sits on the edge */
    }
    for (size_t b = 0; b < nb; b++) {
        rates[b] = (double)counts[b] / (b + 1 == nb ? last : width);
        json_array_append_new(list, json_integer((json_int_t)counts[b]));
        json_array_append_new(rps, json_real(rates[b]));
    }
    nr = nb > 1 && last < width / 2 ? nb - 1 : nb;
    pyab_stats_sort(rates, nr);
    json_object_set_new(rate, "bucket_s", json_real(width));
    json_object_set_new(rate, "last_bucket_s", json_real(last));
    json_object_set_new(rate, "counts", list);
    json_object_set_new(rate, "rates_rps", rps);
    json_object_set_new(rate, "min_rps", json_real(rates[0]));
    json_object_set_new(rate, "median_rps", json_real(rates[rank(nr, 0.5)]));
    json_object_set_new(rate, "max_rps", json_real(rates[nr - 1]));
    free(counts);
    free(rates);
    return rate;
}

typedef struct route_count {
    const char *route;
    size_t count;
} route_count;

static int cmp_route(const void *a, const void *b)
{
    const route_count *x = a, *y = b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->route, y->route);
}

static json_t *route_figures(const pyab_trace *tr)
{
    route_count *rc = xcalloc(tr->nroutes, sizeof(*rc));
    json_t *list = json_array();

    for (size_t r = 0; r < tr->nroutes; r++)
        rc[r].route = tr->routes[r];
    for (size_t i = 0; i < tr->count; i++)
        rc[tr->recs[i].route].count++;
    qsort(rc, tr->nroutes, sizeof(*rc), cmp_route);
    for (size_t r = 0; r < tr->nroutes; r++)
        json_array_append_new(list, json_pack("{s:s, s:I, s:f}", "route", rc[r].route, "count",
                                              (json_int_t)rc[r].count, "share",
                                              (double)rc[r].count / (double)tr->count));
    free(rc);
    return list;
}

static json_t *body_figures(const pyab_trace *tr)
{
    size_t *sizes = xcalloc(tr->count, sizeof(*sizes));
    size_t n = 0, total = 0;
    json_t *out;

    for (size_t i = 0; i < tr->count; i++) {
        json_t *rec = pyab_trace_record_json(tr, i);
        json_t *body = json_object_get(rec, "body");
        if (body) {
            sizes[n] = json_dumpb(body, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
            total += sizes[n++];
        }
        json_decref(rec);
    }
    if (n == 0) {
        free(sizes);
        return json_null();
    }
    qsort(sizes, n, sizeof(*sizes), cmp_size);
    out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "requests", (json_int_t)n,
                    "min", (json_int_t)sizes[0], "p50", (json_int_t)sizes[rank(n, 0.5)],
                    "p90", (json_int_t)sizes[rank(n, 0.9)], "p99", (json_int_t)sizes[rank(n, 0.99)],
                    "max", (json_int_t)sizes[n - 1], "mean", (double)total / (double)n);
    free(sizes);
    return out;
}

json_t *pyab_traceinfo_compute(const pyab_trace *tr)
{
    json_t *info = json_object();
    size_t loaded = pyab_trace_memory(tr);

    json_object_set_new(info, "requests", json_integer((json_int_t)tr->count));
    json_object_set_new(info, "duration_s", json_real(tr->duration));
    json_object_set_new(info, "mean_rate_rps", tr->duration > 0 ?
                        json_real((double)tr->count / tr->duration) : json_null());
    json_object_set_new(info, "reordered", json_integer((json_int_t)tr->reordered));
    json_object_set_new(info, "rate", rate_figures(tr));
    json_object_set_new(info, "routes", route_figures(tr));
    json_object_set_new(info, "body_bytes", body_figures(tr));
    json_object_set_new(info, "memory", json_pack("{s:I, s:I, s:f}",
                        "file_bytes", (json_int_t)tr->file_bytes,
                        "loaded_bytes", (json_int_t)loaded, "ratio",
                        tr->file_bytes ? (double)loaded / (double)tr->file_bytes : 0.0));
    return info;
}

static double num(const json_t *obj, const char *key)
{
    return json_number_value(json_object_get(obj, key));
}

/* One character per bucket, from ' ' (empty) to '@' (the busiest bucket), by rate. */
static void print_sparkline(FILE *f, const json_t *counts)
{
    static const char levels[] = " .:-=+*#%@";
    double max = 0;
    size_t i;
    json_t *c;

    json_array_foreach(counts, i, c)
        if (json_number_value(c) > max)
            max = json_number_value(c);
    fputs("  |", f);
    json_array_foreach(counts, i, c) {
        double v = json_number_value(c);
        int level = v <= 0 ? 0 : 1 + (int)floor(v / max * (double)(sizeof(levels) - 3) + 0.5);
        fputc(levels[level], f);
    }
    fputs("|\n", f);
}

/* "30 s", "5 min", "6 h", "2 days". */
static const char *width_text(double s, char *buf, size_t size)
{
    if (s >= DAY)
        snprintf(buf, size, "%g day%s", s / DAY, s == DAY ? "" : "s");
    else if (s >= 3600)
        snprintf(buf, size, "%g h", s / 3600);
    else if (s >= 60)
        snprintf(buf, size, "%g min", s / 60);
    else
        snprintf(buf, size, "%g s", s);
    return buf;
}

/* Milliseconds up to ~11 days; beyond, 4 significant digits (t may be 1e308, 309 digits in %f). */
static const char *seconds_text(double s, char *buf, size_t size)
{
    if (s < 1e6)
        snprintf(buf, size, "%.3f s", s);
    else
        snprintf(buf, size, "%.4g s (%.4g days)", s, s / DAY);
    return buf;
}

void pyab_traceinfo_print(FILE *f, const char *path, const json_t *info)
{
    char width[32], duration[64];
    double nreq = num(info, "requests"), reordered = num(info, "reordered");
    const json_t *rate = json_object_get(info, "rate"), *body = json_object_get(info, "body_bytes");
    const json_t *mem = json_object_get(info, "memory"), *routes = json_object_get(info, "routes");
    const json_t *r;
    size_t i;

    fprintf(f, "trace %s\n", path);
    fprintf(f, "requests   %.0f over %s", nreq,
            seconds_text(num(info, "duration_s"), duration, sizeof(duration)));
    if (json_is_number(json_object_get(info, "mean_rate_rps")))
        fprintf(f, ", mean %.2f req/s", num(info, "mean_rate_rps"));
    fputc('\n', f);
    if (reordered > 0)
        fprintf(f, "reordered  %.0f line%s out of time order (replayed sorted)\n", reordered,
                reordered == 1 ? " was" : "s were");
    fprintf(f, "rate       per %s bucket: min %.2f, median %.2f, max %.2f req/s",
            width_text(num(rate, "bucket_s"), width, sizeof(width)), num(rate, "min_rps"),
            num(rate, "median_rps"), num(rate, "max_rps"));
    if (num(rate, "last_bucket_s") < num(rate, "bucket_s"))
        fprintf(f, " (the last bucket covers %.3g s%s)", num(rate, "last_bucket_s"),
                num(rate, "last_bucket_s") < num(rate, "bucket_s") / 2 ? ", left out" : "");
    fputc('\n', f);
    print_sparkline(f, json_object_get(rate, "rates_rps"));
    fprintf(f, "routes     %zu\n", json_array_size(routes));
    json_array_foreach(routes, i, r)
        fprintf(f, "  %-40s %10.0f  %5.1f%%\n", json_string_value(json_object_get(r, "route")),
                num(r, "count"), 100 * num(r, "share"));
    if (json_is_object(body))
        fprintf(f, "body       %.0f request%s with a body, compact JSON bytes: min %.0f, "
                "p50 %.0f, p90 %.0f, p99 %.0f, max %.0f, mean %.1f\n", num(body, "requests"),
                num(body, "requests") == 1 ? "" : "s",
                num(body, "min"), num(body, "p50"), num(body, "p90"), num(body, "p99"),
                num(body, "max"), num(body, "mean"));
    else
        fprintf(f, "body       none of the requests has a body\n");
    fprintf(f, "memory     %.0f bytes loaded for a %.0f-byte file (%.2fx)\n",
            num(mem, "loaded_bytes"), num(mem, "file_bytes"), num(mem, "ratio"));
}
