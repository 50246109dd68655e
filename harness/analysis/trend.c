#include "trend.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Period detection works on at most this many evenly spaced points. */
#define GRID_MAX 2048
/* A cycle sampled fewer times than this is aliased noise, not a shape to average. */
#define MIN_SAMPLES_PER_CYCLE 4

/* The points a fit runs on: raw samples, or one mean per cycle. */
typedef struct points {
    double *req, *t, *y;
    size_t n;
} points;

static void points_init(points *p, size_t cap)
{
    p->req = xmalloc((cap ? cap : 1) * sizeof(double));
    p->t = xmalloc((cap ? cap : 1) * sizeof(double));
    p->y = xmalloc((cap ? cap : 1) * sizeof(double));
    p->n = 0;
}

static void points_finish(points *p)
{
    free(p->req);
    free(p->t);
    free(p->y);
}

static void points_add(points *p, double req, double t, double y)
{
    p->req[p->n] = req;
    p->t[p->n] = t;
    p->y[p->n] = y;
    p->n++;
}

/* Keeps the samples outside warm-up and quiesce that have a value. */
static void collect(const pyab_series *s, const double *col, points *raw, pyab_trend *c)
{
    const double *req = pyab_series_column(s, "requests"), *t = pyab_series_column(s, "t_s");
    for (size_t r = 0; r < s->n; r++) {
        if (s->phase[r] == PYAB_PHASE_WARMUP)
            c->n_warmup++;
        else if (s->phase[r] == PYAB_PHASE_QUIESCE)
            c->quiesce_value = col[r];
        else if (!isnan(col[r]))
            points_add(raw, req[r], t[r], col[r]);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median gap in requests between consecutive points of p[from, to). */
static double median_gap(const points *p, size_t from, size_t to)
{
    size_t n = to - from - 1;
    double *g = xmalloc(n * sizeof(*g)), m;

    for (size_t i = 0; i < n; i++)
        g[i] = p->req[from + i + 1] - p->req[from + i];
    qsort(g, n, sizeof(*g), cmp_double);
    m = n % 2 ? g[n / 2] : 0.5 * (g[n / 2 - 1] + g[n / 2]);
    free(g);
    return m;
}

/*
 * Evenly spaced in requests. Samples come by time and by work, and the
 * work-driven ones thin out when their cost cap is reached (the child
 * doubles their stride), so a rep can be sampled densely early and
 * sparsely late; a fit would then weigh the early part more, and a
 * sawtooth's first ramp could read as growth. When the first half is
 * sampled more than THIN_RATIO times as densely as the second, points
 * closer than the second half's median gap to the last one kept are
 * dropped.
 */
#define THIN_RATIO 1.5

static void thin(points *p)
{
    double gap, last;
    size_t k = 1;

    if (p->n < 2 * PYAB_TREND_MIN_SAMPLES)
        return;
    gap = median_gap(p, p->n / 2, p->n);
    if (!(gap > THIN_RATIO * median_gap(p, 0, p->n / 2)))
        return;
    last = p->req[0];
    for (size_t i = 1; i < p->n; i++) {
        if (p->req[i] - last < 0.999 * gap && i != p->n - 1)
            continue;
        last = p->req[i];
        p->req[k] = p->req[i];
        p->t[k] = p->t[i];
        p->y[k++] = p->y[i];
    }
    p->n = k;
}

/*
 * A periodic swing smaller than this (bytes, or share of the level) is
 * noise, not a workload's cycle: a flat curve with a wiggle (malloc's
 * chunk headers on a batch of Python objects freed together move the
 * native curve by tens of KiB) must not send the analysis to
 * cycle-to-cycle growth, which needs several whole cycles and would leave
 * the curve unmeasured. A quarter of the default 1 MiB floor: a swing that
 * small is absorbed by a raw fit's interval and cannot fake material growth.
 */
#define PERIOD_MIN_SWING_BYTES 262144.0
#define PERIOD_MIN_SWING_SHARE 0.01

static double detect_period(const points *raw)
{
    double span = raw->req[raw->n - 1] - raw->req[0], step, *grid, *x, a, b;
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    size_t m = GRID_MAX, lag = 0; /* a fine grid: the lag (the period) is resolved to span / GRID_MAX */

    if (!(span > 0) || m < 2)
        return 0;
    /* Samples come by time and by work, the period is in requests: regrid. */
    step = span / (double)(m - 1);
    grid = xmalloc(m * sizeof(*grid));
    x = xmalloc(m * sizeof(*x));
    pyab_stats_resample(raw->req, raw->y, raw->n, raw->req[0], step, grid, m);
    for (size_t i = 0; i < m; i++)
        x[i] = (double)i;
    /* The swing is the periodic part's: measured around the trend, since a
     * leak's own rise would otherwise count as a swing of its whole size. */
    if (pyab_stats_line(x, grid, m, &a, &b) == 0) {
        for (size_t i = 0; i < m; i++) {
            double r = grid[i] - a - b * x[i];
            lo = fmin(lo, r);
            hi = fmax(hi, r);
            sum += grid[i];
        }
        if (hi - lo >= fmax(PERIOD_MIN_SWING_BYTES, PERIOD_MIN_SWING_SHARE * fabs(sum / (double)m)))
            lag = pyab_stats_period(grid, m, NULL);
    }
    free(x);
    free(grid);
    return (double)lag * step;
}

/* One mean per whole cycle: over a whole cycle the periodic part averages out. */
static void cycle_means(const points *raw, double period, size_t cycles, points *out)
{
    size_t r = 0;
    for (size_t k = 0; k < cycles; k++) {
        double end = raw->req[0] + (double)(k + 1) * period, sr = 0, st = 0, sy = 0;
        size_t cnt = 0;
        for (; r < raw->n && raw->req[r] < end; r++, cnt++) {
            sr += raw->req[r];
            st += raw->t[r];
            sy += raw->y[r];
        }
        if (cnt > 0)
            points_add(out, sr / (double)cnt, st / (double)cnt, sy / (double)cnt);
    }
}

/* Decides between raw samples and cycle means; 0, or -1 with c->note set. */
static int choose_points(const points *raw, double period_requests, pyab_trend *c, points *pts)
{
    double span = raw->req[raw->n - 1] - raw->req[0];

    c->period_given = period_requests > 0;
    c->period = c->period_given ? period_requests : detect_period(raw);
    if (c->period > 0) {
        size_t cycles = (size_t)floor(span / c->period);
        if (cycles < PYAB_TREND_MIN_CYCLES) {
            snprintf(c->note, sizeof(c->note),
                     "periodic with a period of %.0f requests but only %zu whole cycles after "
                     "warm-up; need %d (at least %.0f requests)",
                     c->period, cycles, PYAB_TREND_MIN_CYCLES,
                     c->period * PYAB_TREND_MIN_CYCLES);
            return -1;
        }
        if (raw->n / cycles >= MIN_SAMPLES_PER_CYCLE) {
            c->cycles = cycles;
            cycle_means(raw, c->period, cycles, pts);
            return 0;
        }
    }
    for (size_t i = 0; i < raw->n; i++)
        points_add(pts, raw->req[i], raw->t[i], raw->y[i]);
    return 0;
}

/* Is the curve one jump rather than a trend? Measures the best step and the growth beside it. */
static void find_step(const points *p, size_t from, pyab_trend *c)
{
    size_t n = p->n - from, min_seg = n / 10 > 3 ? n / 10 : 3;
    const double *x = p->req + from, *y = p->y + from;
    pyab_fit fb, fa;

    if (n < 2 * min_seg || pyab_stats_step(x, y, n, min_seg, &c->step) < 0)
        return;
    c->has_step = 1;
    c->step_at = x[c->step.at];
    c->step_seg_growth = 0;
    if (pyab_stats_theil_sen(x, y, c->step.at, 0.95, &fb) == 0)
        c->step_seg_growth = fabs(fb.slope * (x[c->step.at - 1] - x[0]));
    if (pyab_stats_theil_sen(x + c->step.at, y + c->step.at, n - c->step.at, 0.95, &fa) == 0 &&
        fabs(fa.slope * (x[n - 1] - x[c->step.at])) > c->step_seg_growth)
        c->step_seg_growth = fabs(fa.slope * (x[n - 1] - x[c->step.at]));
}

static void fit(const points *p, size_t from, const points *raw, double conf, pyab_trend *c)
{
    size_t n = p->n - from, half = from + n / 2;

    pyab_stats_theil_sen(p->req + from, p->y + from, n, conf, &c->per_request);
    if (pyab_stats_theil_sen(p->t + from, p->y + from, n, conf, &c->per_second) < 0)
        c->per_second.slope = c->per_second.lo = c->per_second.hi = NAN;
    if (pyab_stats_theil_sen(p->req + half, p->y + half, p->n - half, conf, &c->late) < 0)
        c->late.slope = c->late.lo = c->late.hi = NAN;
    c->late_span = p->req[p->n - 1] - p->req[half];
    c->level = pyab_stats_median(p->y + from, n);
    c->settled_at = from ? (c->cycles ? raw->req[0] + (double)from * c->period : p->req[from])
                         : raw->req[0];
    c->span_requests = raw->req[raw->n - 1] - c->settled_at;
    c->n_used = 0;
    for (size_t i = 0; i < raw->n; i++)
        c->n_used += raw->req[i] >= c->settled_at;
    c->n_settle = raw->n - c->n_used;
    for (size_t i = 0; i < raw->n; i++)
        if (raw->req[i] >= c->settled_at) {
            c->span_s = raw->t[raw->n - 1] - raw->t[i];
            break;
        }
    c->end_value = raw->y[raw->n - 1];
}

/*
 * A warm-up transient (a cache filling, pools growing) lies below the later
 * trend, so discarding it flattens the slope. A cut that steepens it has
 * found noise, not a transient: keeping every sample then is the
 * conservative choice, since it can only make growth look smaller.
 */
static int cut_steepens(const points *p, size_t from)
{
    pyab_fit all, kept;
    if (pyab_stats_theil_sen(p->req, p->y, p->n, 0.95, &all) < 0 ||
        pyab_stats_theil_sen(p->req + from, p->y + from, p->n - from, 0.95, &kept) < 0)
        return 1;
    return kept.slope > all.slope;
}

int pyab_trend_measure(const pyab_series *s, const char *column, double period_requests,
                       double conf, pyab_trend *c)
{
    const double *col = pyab_series_column(s, column);
    points raw, pts;
    size_t from;

    memset(c, 0, sizeof(*c));
    c->quiesce_value = NAN;
    if (col == NULL)
        return -ENOENT;
    points_init(&raw, s->n);
    points_init(&pts, s->n);
    collect(s, col, &raw, c);
    thin(&raw);
    if (raw.n == 0 && isnan(c->quiesce_value)) {
        points_finish(&raw);
        points_finish(&pts);
        return -ENOENT;
    }
    c->n_used = raw.n;
    c->span_requests = raw.n ? raw.req[raw.n - 1] - raw.req[0] : 0;
    if (raw.n < PYAB_TREND_MIN_SAMPLES || !(raw.req[raw.n - 1] > raw.req[0])) {
        snprintf(c->note, sizeof(c->note),
                 "%zu sample%s over %.0f requests after warm-up; need at least %d samples",
                 raw.n, raw.n == 1 ? "" : "s", raw.n ? raw.req[raw.n - 1] - raw.req[0] : 0.0,
                 PYAB_TREND_MIN_SAMPLES);
        goto out;
    }
    if (choose_points(&raw, period_requests, c, &pts) < 0)
        goto out;
    /* The early transient (a cache filling, imports, pools growing) is not the trend. */
    from = pyab_stats_settle(pts.req, pts.y, pts.n);
    if (from > 0 && cut_steepens(&pts, from))
        from = 0;
    fit(&pts, from, &raw, conf, c);
    find_step(&pts, from, c);
    c->ok = 1;
out:
    points_finish(&raw);
    points_finish(&pts);
    return 0;
}
