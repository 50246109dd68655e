#include "curves.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"

/* Header names of the columns in enum order (notes/layout.md). */
static const char *const col_names[PYAB_CURVE_NCOLS] = {
    "t_s", "requests", "rss_bytes", "pyheap_bytes", "native_heap_bytes",
    "native_free_bytes", "latency_p50_ms", "latency_p99_ms",
};

/* The keys the page reads for the memory series, in enum order from RSS. */
static const char *const mem_keys[] = {"rss", "pyheap", "native", "native_free"};

#define MAX_FIELDS 64

static void rows_init(pyab_curve_rows *r)
{
    memset(r, 0, sizeof(*r));
}

static void rows_finish(pyab_curve_rows *r)
{
    for (int k = 0; k < PYAB_CURVE_NCOLS; k++)
        free(r->col[k]);
    rows_init(r);
}

static void rows_push(pyab_curve_rows *r, const double *v)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        for (int k = 0; k < PYAB_CURVE_NCOLS; k++)
            r->col[k] = xrealloc(r->col[k], r->cap * sizeof(double));
    }
    for (int k = 0; k < PYAB_CURVE_NCOLS; k++)
        r->col[k][r->n] = v[k];
    r->n++;
}

void pyab_curves_init(pyab_curves *c)
{
    memset(c, 0, sizeof(*c));
    c->warmup_t = c->warmup_requests = NAN;
}

void pyab_curves_finish(pyab_curves *c)
{
    if (c == NULL)
        return;
    rows_finish(&c->rows);
    rows_finish(&c->quiesce);
    free(c->events);
    pyab_curves_init(c);
}

/* Splits a line at commas in place; returns the field count (at most max). */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;

    fields[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ',') {
            *p = '\0';
            fields[n++] = p + 1;
        }
    return n;
}

/*
 * Maps our columns (and "phase") to their positions in the header. The
 * native curve is native_other_bytes (malloc in use outside the Python
 * heap, what the verdict's "native" metric judges) when the file has it;
 * older files have only native_heap_bytes, which includes Python's blocks
 * over 512 bytes.
 */
static int read_header(pyab_curves *c, char *line, const char *path, int *pos, int *phase_pos,
                       size_t *nfields, pyab_error *err)
{
    char *f[MAX_FIELDS];
    size_t n = split_fields(line, f, MAX_FIELDS);
    int other = -1;

    *phase_pos = -1;
    for (int k = 0; k < PYAB_CURVE_NCOLS; k++)
        pos[k] = -1;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < PYAB_CURVE_NCOLS; k++)
            if (strcmp(f[i], col_names[k]) == 0)
                pos[k] = (int)i;
        if (strcmp(f[i], "phase") == 0)
            *phase_pos = (int)i;
        if (strcmp(f[i], "native_other_bytes") == 0)
            other = (int)i;
    }
    c->native_other = other >= 0;
    if (other >= 0)
        pos[PYAB_CURVE_NATIVE] = other;
    for (int k = 0; k < PYAB_CURVE_NCOLS; k++)
        if (pos[k] < 0)
            return pyab_error_set(err, "%s:1: header has no column \"%s\"", path, col_names[k]);
    if (*phase_pos < 0)
        return pyab_error_set(err, "%s:1: header has no column \"phase\"", path);
    *nfields = n;
    return 0;
}

/* Parses one data row into v; sets *quiesce and *warmup_end from its phase. */
static int read_row(char *line, const char *path, long lineno, const int *pos, int phase_pos,
                    size_t nfields, double *v, int *quiesce, int *warmup_end, pyab_error *err)
{
    char *f[MAX_FIELDS];
    size_t n = split_fields(line, f, MAX_FIELDS);

    if (n != nfields)
        return pyab_error_set(err, "%s:%ld: %zu fields, the header has %zu", path, lineno, n,
                              nfields);
    for (int k = 0; k < PYAB_CURVE_NCOLS; k++) {
        const char *s = f[pos[k]];
        if (*s == '\0' && k != PYAB_CURVE_T && k != PYAB_CURVE_REQUESTS) {
            v[k] = NAN;
            continue;
        }
        if (pyab_parse_double(s, &v[k]) < 0)
            return pyab_error_set(err, "%s:%ld: %s is \"%s\", not a number", path, lineno,
                                  col_names[k], s);
    }
    *quiesce = strcmp(f[phase_pos], "quiesce") == 0;
    *warmup_end = strcmp(f[phase_pos], "warmup_end") == 0;
    return 0;
}

/* A .part file is still being written (or its writer was killed): only whole lines count. */
static size_t whole_lines(const char *text, size_t len)
{
    while (len > 0 && text[len - 1] != '\n')
        len--;
    return len;
}

static int load_samples(pyab_curves *c, const char *path, int part, pyab_error *err)
{
    char *text, *line, *next;
    size_t len, nfields = 0;
    int pos[PYAB_CURVE_NCOLS], phase_pos = -1, rc;
    long lineno = 0;

    if ((rc = pyab_file_read(path, &text, &len)) < 0) {
        pyab_error_set(err, "%s: %s", path, strerror(-rc));
        return rc;
    }
    if (part)
        len = whole_lines(text, len);
    for (line = text; line < text + len; line = next) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        int quiesce = 0, warmup_end = 0;
        double v[PYAB_CURVE_NCOLS];

        next = nl ? nl + 1 : text + len;
        if (nl)
            *nl = '\0';
        if (nl && nl > line && nl[-1] == '\r')
            nl[-1] = '\0';
        lineno++;
        if (lineno == 1) {
            if ((rc = read_header(c, line, path, pos, &phase_pos, &nfields, err)) < 0)
                goto out;
            continue;
        }
        if (*line == '\0')
            continue;
        rc = read_row(line, path, lineno, pos, phase_pos, nfields, v, &quiesce, &warmup_end,
                      err);
        if (rc < 0 && nl == NULL) {
            /* The writer was killed mid-line: keep what came before. */
            rc = 0;
            break;
        }
        if (rc < 0)
            goto out;
        rows_push(quiesce ? &c->quiesce : &c->rows, v);
        if (warmup_end) {
            c->warmup_t = v[PYAB_CURVE_T];
            c->warmup_requests = v[PYAB_CURVE_REQUESTS];
        }
    }
    if (lineno == 0)
        rc = pyab_error_set(err, "%s:1: empty file, expected a header line", path);
out:
    free(text);
    return rc;
}

static int event_field(json_t *ev, const char *key, double *out)
{
    json_t *v = json_object_get(ev, key);

    if (!json_is_number(v))
        return -EINVAL;
    *out = json_number_value(v);
    return 0;
}

static int load_events(pyab_curves *c, const char *path, int part, pyab_error *err)
{
    char *text, *line, *next;
    size_t len, cap = 0;
    long lineno = 0;
    int rc;

    if ((rc = pyab_file_read(path, &text, &len)) < 0)
        return rc == -ENOENT ? 0 : pyab_error_set(err, "%s: %s", path, strerror(-rc));
    if (part)
        len = whole_lines(text, len);
    for (line = text; line < text + len; line = next) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        double gen, dur, t;
        json_t *ev;

        next = nl ? nl + 1 : text + len;
        lineno++;
        ev = json_loadb(line, (size_t)(next - line), 0, NULL);
        if (ev == NULL && nl == NULL)
            break; /* cut short, like a last CSV line */
        if (ev == NULL || event_field(ev, "t_s", &t) < 0 || event_field(ev, "gen", &gen) < 0 ||
            event_field(ev, "duration_s", &dur) < 0) {
            json_decref(ev);
            if (strspn(line, " \t\r\n") == (size_t)(next - line))
                continue;
            rc = pyab_error_set(err, "%s:%ld: expected {\"gen\", \"t_s\", \"duration_s\", ...}",
                                path, lineno);
            goto out;
        }
        /* The service's collections during the replay: not those of its
         * import (t < 0) nor pyab's own quiesce collection ("cause"). */
        int skip = t < 0 || json_object_get(ev, "cause") != NULL;
        json_decref(ev);
        if (skip)
            continue;
        if (c->nevents == cap) {
            cap = cap ? cap * 2 : 256;
            c->events = xrealloc(c->events, cap * sizeof(*c->events));
        }
        c->events[c->nevents++] = (pyab_curve_event){t, dur * 1e3, (int)gen};
    }
    rc = 0;
out:
    free(text);
    return rc;
}

/* REPDIR/NAME, or REPDIR/NAME.part when only that exists (*part set): a new string. */
static char *rep_file(const char *repdir, const char *name, int *part)
{
    char *path = pyab_path_join(repdir, name), *alt;

    *part = 0;
    if (access(path, F_OK) == 0 || errno != ENOENT)
        return path;
    alt = xasprintf("%s.part", path);
    if (access(alt, F_OK) == 0) {
        free(path);
        *part = 1;
        return alt;
    }
    free(alt);
    return path;
}

int pyab_curves_load(pyab_curves *c, const char *repdir, pyab_error *err)
{
    int part_samples, part_events, rc;
    char *samples = rep_file(repdir, "samples.csv", &part_samples);
    char *events = rep_file(repdir, "events.jsonl", &part_events);

    c->partial = part_samples;
    rc = load_samples(c, samples, part_samples, err);
    if (rc == 0)
        rc = load_events(c, events, part_events, err);
    free(samples);
    free(events);
    return rc;
}

/* JSON has no NaN: a missing value is null. */
static void add_num(pyab_buf *b, double v, int digits)
{
    if (isfinite(v))
        pyab_buf_addf(b, "%.*g", digits, v);
    else
        pyab_buf_adds(b, "null");
}

/*
 * The bucket plan: nb buckets of consecutive samples, and ppb points per
 * bucket. Short series are not cut (one sample per bucket, one point);
 * long ones get two points per bucket, at the bucket's first and last x.
 */
typedef struct plan {
    size_t n, nb, ppb;
} plan;

static plan make_plan(size_t n, size_t buckets)
{
    plan p = {n, n, 1};

    if (n > 2 * buckets) {
        p.nb = buckets;
        p.ppb = 2;
    }
    return p;
}

static void bucket(const plan *p, size_t b, size_t *lo, size_t *hi)
{
    *lo = b * p->n / p->nb;
    *hi = (b + 1) * p->n / p->nb;
}

static void add_x(const plan *p, const double *x, int digits, pyab_buf *b)
{
    for (size_t k = 0; k < p->nb; k++) {
        size_t lo, hi;
        bucket(p, k, &lo, &hi);
        pyab_buf_adds(b, k ? "," : "");
        add_num(b, x[lo], digits);
        if (p->ppb == 2) {
            pyab_buf_adds(b, ",");
            add_num(b, x[hi - 1], digits);
        }
    }
}

/* Min and max of each bucket, in the order they occurred: the line keeps its spikes. */
static void add_envelope(const plan *p, const double *y, pyab_buf *b)
{
    for (size_t k = 0; k < p->nb; k++) {
        size_t lo, hi, imin = SIZE_MAX, imax = SIZE_MAX;
        bucket(p, k, &lo, &hi);
        for (size_t i = lo; i < hi; i++) {
            if (isnan(y[i]))
                continue;
            if (imin == SIZE_MAX || y[i] < y[imin])
                imin = i;
            if (imax == SIZE_MAX || y[i] > y[imax])
                imax = i;
        }
        pyab_buf_adds(b, k ? "," : "");
        if (p->ppb == 1) {
            add_num(b, imin == SIZE_MAX ? NAN : y[imin], 7);
            continue;
        }
        size_t first = imin < imax ? imin : imax, second = imin < imax ? imax : imin;
        add_num(b, first == SIZE_MAX ? NAN : y[first], 7);
        pyab_buf_adds(b, ",");
        add_num(b, second == SIZE_MAX ? NAN : y[second], 7);
    }
}

static void add_value_per_point(const plan *p, double v, size_t k, pyab_buf *b)
{
    pyab_buf_adds(b, k ? "," : "");
    add_num(b, v, 6);
    if (p->ppb == 2) {
        pyab_buf_adds(b, ",");
        add_num(b, v, 6);
    }
}

/* Latency per bucket: the mean of p50 (a typical value) or the max of p99 (the worst). */
static void add_latency(const plan *p, const double *y, int use_max, pyab_buf *b)
{
    for (size_t k = 0; k < p->nb; k++) {
        size_t lo, hi, n = 0;
        double acc = use_max ? -INFINITY : 0;
        bucket(p, k, &lo, &hi);
        for (size_t i = lo; i < hi; i++) {
            if (isnan(y[i]))
                continue;
            acc = use_max ? fmax(acc, y[i]) : acc + y[i];
            n++;
        }
        add_value_per_point(p, n == 0 ? NAN : use_max ? acc : acc / (double)n, k, b);
    }
}

/*
 * Requests per second over a window ending at each bucket's last sample:
 * at least a 200th of the run, and at least back to the previous bucket.
 * Samples by work can be microseconds apart; a rate between two of them
 * would be noise.
 */
static void add_throughput(const plan *p, const pyab_curve_rows *r, pyab_buf *b)
{
    const double *t = r->col[PYAB_CURVE_T], *req = r->col[PYAB_CURVE_REQUESTS];
    double min_dt = r->n > 1 ? (t[r->n - 1] - t[0]) / 200 : 0;
    size_t prev = 0, from = 0;

    for (size_t k = 0; k < p->nb; k++) {
        size_t lo, hi;
        bucket(p, k, &lo, &hi);
        while (from + 1 < hi && t[from + 1] <= t[hi - 1] - min_dt)
            from++;
        size_t start = from < prev ? from : prev;
        double dt = t[hi - 1] - t[start];
        add_value_per_point(p, dt > 0 ? (req[hi - 1] - req[start]) / dt : NAN, k, b);
        prev = hi - 1;
    }
}

/* Many pauses: keep the longest of each bucket of consecutive events. */
static void add_events(const pyab_curves *c, size_t buckets, pyab_buf *b)
{
    size_t nb = c->nevents > 2 * buckets ? buckets : c->nevents;
    pyab_buf t, ms, gen;

    pyab_buf_init(&t);
    pyab_buf_init(&ms);
    pyab_buf_init(&gen);
    for (size_t k = 0; k < nb; k++) {
        size_t lo = k * c->nevents / nb, hi = (k + 1) * c->nevents / nb, best = lo;
        for (size_t i = lo; i < hi; i++)
            if (c->events[i].pause_ms > c->events[best].pause_ms)
                best = i;
        const char *sep = k ? "," : "";
        pyab_buf_addf(&t, "%s%.7g", sep, c->events[best].t_s);
        pyab_buf_addf(&ms, "%s%.5g", sep, c->events[best].pause_ms);
        pyab_buf_addf(&gen, "%s%d", sep, c->events[best].gen);
    }
    pyab_buf_addf(b, "\"gc\":{\"n\":%zu,\"shown\":%zu,\"t\":[%s],\"ms\":[%s],\"gen\":[%s]}",
                  c->nevents, nb, t.data, ms.data, gen.data);
    pyab_buf_finish(&t);
    pyab_buf_finish(&ms);
    pyab_buf_finish(&gen);
}

static void add_quiesce(const pyab_curves *c, pyab_buf *b)
{
    const pyab_curve_rows *q = &c->quiesce;
    static const char *const keys[] = {"t", "r", "rss", "pyheap", "native", "native_free"};
    static const int cols[] = {PYAB_CURVE_T, PYAB_CURVE_REQUESTS, PYAB_CURVE_RSS,
                               PYAB_CURVE_PYHEAP, PYAB_CURVE_NATIVE, PYAB_CURVE_NATIVE_FREE};

    pyab_buf_adds(b, "\"quiesce\":{");
    for (size_t k = 0; k < PYAB_ARRAY_LEN(keys); k++) {
        pyab_buf_addf(b, "%s\"%s\":[", k ? "," : "", keys[k]);
        for (size_t i = 0; i < q->n; i++) {
            pyab_buf_adds(b, i ? "," : "");
            add_num(b, q->col[cols[k]][i], 9);
        }
        pyab_buf_adds(b, "]");
    }
    pyab_buf_adds(b, "}");
}

void pyab_curves_add_json(const pyab_curves *c, size_t buckets, pyab_buf *b)
{
    const pyab_curve_rows *r = &c->rows;
    plan p = make_plan(r->n, buckets);

    pyab_buf_addf(b, "\"samples\":%zu,\"points\":%zu,\"partial\":%s,\"native_column\":\"%s\","
                  "\"t\":[", r->n, p.nb * p.ppb, c->partial ? "true" : "false",
                  c->native_other ? "native_other_bytes" : "native_heap_bytes");
    add_x(&p, r->col[PYAB_CURVE_T], 7, b);
    pyab_buf_adds(b, "],\"r\":[");
    add_x(&p, r->col[PYAB_CURVE_REQUESTS], 10, b);
    pyab_buf_adds(b, "]");
    for (int k = PYAB_CURVE_RSS; k <= PYAB_CURVE_NATIVE_FREE; k++) {
        pyab_buf_addf(b, ",\"%s\":[", mem_keys[k - PYAB_CURVE_RSS]);
        add_envelope(&p, r->col[k], b);
        pyab_buf_adds(b, "]");
    }
    pyab_buf_adds(b, ",\"tput\":[");
    add_throughput(&p, r, b);
    pyab_buf_adds(b, "],\"p50\":[");
    add_latency(&p, r->col[PYAB_CURVE_P50], 0, b);
    pyab_buf_adds(b, "],\"p99\":[");
    add_latency(&p, r->col[PYAB_CURVE_P99], 1, b);
    pyab_buf_adds(b, "],\"warmup\":");
    if (isnan(c->warmup_t)) {
        pyab_buf_adds(b, "null");
    } else {
        pyab_buf_addf(b, "{\"t\":%.7g,\"r\":", c->warmup_t);
        add_num(b, c->warmup_requests, 10);
        pyab_buf_adds(b, "}");
    }
    pyab_buf_adds(b, ",");
    add_quiesce(c, b);
    pyab_buf_adds(b, ",");
    add_events(c, buckets, b);
}

static double median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    pyab_stats_sort(v, n);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * y at x on one rep's curve, linear between samples. x only grows along
 * the grid, so each rep keeps a cursor and the whole grid costs one pass.
 */
static double value_at(const pyab_curve_rows *r, int xcol, int ycol, double x, size_t *cursor)
{
    const double *xs = r->col[xcol], *ys = r->col[ycol];

    if (r->n == 0 || x < xs[0] || x > xs[r->n - 1])
        return NAN;
    while (*cursor < r->n && xs[*cursor] < x)
        (*cursor)++;
    size_t i = *cursor;
    if (xs[i] == x || i == 0)
        return ys[i];
    double f = (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
    return ys[i - 1] + f * (ys[i] - ys[i - 1]);
}

static void add_median_axis(const pyab_curves *reps, size_t nreps, size_t grid, int xcol,
                            pyab_buf *b)
{
    double xmax = 0, *vals = xmalloc((nreps ? nreps : 1) * sizeof(double));
    size_t *cursor = xcalloc(nreps ? nreps : 1, sizeof(size_t));

    for (size_t i = 0; i < nreps; i++)
        if (reps[i].rows.n > 0)
            xmax = fmax(xmax, reps[i].rows.col[xcol][reps[i].rows.n - 1]);
    pyab_buf_adds(b, "{\"x\":[");
    for (size_t g = 0; g < grid; g++) {
        pyab_buf_adds(b, g ? "," : "");
        add_num(b, xmax * (double)g / (double)(grid - 1), 10);
    }
    pyab_buf_adds(b, "]");
    for (int k = PYAB_CURVE_RSS; k <= PYAB_CURVE_NATIVE_FREE; k++) {
        memset(cursor, 0, nreps * sizeof(size_t));
        pyab_buf_addf(b, ",\"%s\":[", mem_keys[k - PYAB_CURVE_RSS]);
        for (size_t g = 0; g < grid; g++) {
            double x = xmax * (double)g / (double)(grid - 1);
            size_t n = 0;
            for (size_t i = 0; i < nreps; i++) {
                double v = value_at(&reps[i].rows, xcol, k, x, &cursor[i]);
                if (!isnan(v))
                    vals[n++] = v;
            }
            pyab_buf_adds(b, g ? "," : "");
            add_num(b, median(vals, n), 7);
        }
        pyab_buf_adds(b, "]");
    }
    pyab_buf_adds(b, "}");
    free(vals);
    free(cursor);
}

void pyab_curves_add_median_json(const pyab_curves *reps, size_t nreps, size_t grid,
                                 pyab_buf *b)
{
    if (grid < 2)
        grid = 2;
    pyab_buf_adds(b, "{\"time\":");
    add_median_axis(reps, nreps, grid, PYAB_CURVE_T, b);
    pyab_buf_adds(b, ",\"requests\":");
    add_median_axis(reps, nreps, grid, PYAB_CURVE_REQUESTS, b);
    pyab_buf_adds(b, "}");
}

enum { HIST_PER_DECADE = 4, HIST_LO_EXP = -2, HIST_HI_EXP = 4 }; /* 10^-2 ms .. 10^4 ms */

void pyab_curves_add_pause_histogram_json(const pyab_curves *reps, size_t nreps, pyab_buf *b)
{
    enum { NEDGES = (HIST_HI_EXP - HIST_LO_EXP) * HIST_PER_DECADE + 1 };
    size_t counts[NEDGES + 1] = {0}, total = 0;
    double sum = 0;

    /* Bin i holds [edge[i-1], edge[i]); bin 0 is below the first edge, the last above the last. */
    for (size_t i = 0; i < nreps; i++)
        for (size_t e = 0; e < reps[i].nevents; e++) {
            double ms = reps[i].events[e].pause_ms;
            double pos = (log10(fmax(ms, 1e-12)) - HIST_LO_EXP) * HIST_PER_DECADE;
            long bin = pos < 0 ? 0 : (long)floor(pos) + 1;
            if (bin > NEDGES)
                bin = NEDGES;
            counts[bin]++;
            total++;
            sum += ms;
        }
    pyab_buf_adds(b, "{\"edges_ms\":[");
    for (int i = 0; i < NEDGES; i++)
        pyab_buf_addf(b, "%s%.4g", i ? "," : "",
                      pow(10.0, HIST_LO_EXP + (double)i / HIST_PER_DECADE));
    pyab_buf_adds(b, "],\"counts\":[");
    for (int i = 0; i <= NEDGES; i++)
        pyab_buf_addf(b, "%s%zu", i ? "," : "", counts[i]);
    pyab_buf_addf(b, "],\"total\":%zu,\"sum_ms\":%.6g}", total, sum);
}
