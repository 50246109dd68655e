#include "verdict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "stats.h"

/*
 * The decision rules. A metric of one rep is measured by trend.c on the
 * samples left after warm-up and settling (per cycle when periodic), then
 * classified, in this order ("growth" is slope x the measured span, in
 * requests; "the threshold" is defined below):
 *
 *   flat         the slope's interval includes zero and its upper end
 *                means growth under the threshold;
 *   uncertain    the interval includes zero but its upper end does not
 *                stay under the threshold;
 *   under-floor  the interval excludes zero, the growth is sustained (not
 *                a step, the second half at least LATE_MIN_RATIO of the
 *                whole) and even the interval's lower end means growth of
 *                a third of min_growth_pct of the level or half of
 *                min_growth_mb, yet the whole interval is under the
 *                threshold: the run is too short to call;
 *   immaterial   the interval excludes zero but the whole interval means
 *                growth under the threshold (when only the estimate is
 *                under it: uncertain);
 *   step         one change of level explains the curve at least twice as
 *                well as a line (SSE ratio < STEP_SSE_RATIO) and neither
 *                side of it grows past the threshold;
 *   stopped      the second half's slope is under LATE_MIN_RATIO of the
 *                whole one and its interval bounds its growth under the
 *                threshold (a cache that filled, then stayed full);
 *   slowing      the same, when the second half cannot be bounded;
 *   uncertain    the estimate is material but the interval's lower end is
 *                not: growth is likely, its size is not established;
 *   grows        significant, material even at the interval's lower end,
 *                and sustained.
 *
 * The threshold is max(PYAB_VERDICT_MATERIAL_REL x level,
 * PYAB_VERDICT_MATERIAL_ABS_MB) (verdict.h; the scenario may override
 * both): a few percent of what the process holds, and at least a
 * mebibyte. Reps are pooled per metric: the estimate is the median of the
 * per-rep slopes, its interval the wider of a t interval over those slopes
 * (the reps are the independent observations; samples within a rep are
 * autocorrelated) and the per-rep intervals combined. A metric grows for
 * the arm when the pooled interval's lower end means growth past the
 * threshold and a strict majority of reps grow on their own. A metric is
 * inconclusive when a strict majority of reps are under-floor (the floor
 * depends on how long the run was, not on the service, so a certain
 * ~1 KB/s leak over a short run is not "no leak"); evidence.next then
 * gives the requests per rep at which the measured slope passes the floor,
 * times UNDER_FLOOR_MARGIN. The arm leaks when the Python heap, the native
 * heap or the RSS grows; it is inconclusive when none grows but one cannot
 * be bounded or is under the floor; otherwise it does not leak.
 *
 * Requiring the lower end, not just the estimate, to be material is what
 * keeps noise from being called a leak with a single rep: on synthetic
 * flat series with AR(1) noise (tests/unit/test_analyze.c, and sweeps up
 * to a noise of 10% of the level with one rep) no seed gave "leak", while
 * a 256 B/request leak over 20k requests is found in every case.
 */
#define STEP_SSE_RATIO 0.5
#define LATE_MIN_RATIO 0.5
/* Certain sustained growth under the threshold but past this share of
 * min_growth_pct of the level, or this share of min_growth_mb, is
 * under-floor. The second: a big heap (a model or a vocabulary loaded at
 * import) made the first unreachable, and a certain 41 B/request over
 * 20k requests on a 220 MB heap (0.36% of it) read as no-leak (QA). */
#define UNDER_FLOOR_REL_SHARE (1.0 / 3)
#define UNDER_FLOOR_ABS_SHARE 0.5
/* An under-floor metric is settled by this many times the requests its estimate needs. */
#define UNDER_FLOOR_MARGIN 1.5

const char *const pyab_verdict_metric_key[PYAB_NMETRICS] = {"rss", "pyheap", "native", "native_free"};
/*
 * "native" is malloc's in-use bytes that are not Python objects: the
 * child's native_other_bytes (native_heap_bytes less the blocks Python
 * itself got from malloc) when it writes that column, native_heap_bytes in
 * folders from before it did.
 */
const char *const pyab_verdict_metric_column[PYAB_NMETRICS] = {"rss_bytes", "pyheap_bytes",
                                                       "native_other_bytes", "native_free_bytes"};
const char *const pyab_verdict_metric_fallback[PYAB_NMETRICS] = {NULL, NULL, "native_heap_bytes", NULL};

const char *const pyab_class_name[PYAB_NCLASSES] = {"unavailable", "too-little-data", "flat",
                                                  "immaterial", "step", "stopped", "uncertain",
                                                  "slowing", "under-floor", "grows"};


static json_t *jpair(double lo, double hi)
{
    return json_pack("[oo]", pyab_pool_number(lo), pyab_pool_number(hi));
}

static double threshold(const pyab_verdict_opts *o, double level)
{
    return fmax(o->rel * fabs(level), o->abs);
}

static int classify(const pyab_trend *t, const pyab_verdict_opts *o, char *why, size_t len)
{
    const pyab_fit *f = &t->per_request;
    double thr, growth, hi_growth;

    if (!t->ok) {
        snprintf(why, len, "%s", t->note);
        return PYAB_CLASS_NODATA;
    }
    thr = threshold(o, t->level);
    growth = f->slope * t->span_requests;
    hi_growth = f->hi * t->span_requests;
    if (!(f->lo > 0)) {
        snprintf(why, len, "no significant growth: %.4g B/request [%.4g, %.4g]; the upper end "
                 "means %.2f MB over %.0f requests, %s the %.2f MB threshold",
                 f->slope, f->lo, f->hi, hi_growth / PYAB_MIB, t->span_requests,
                 hi_growth < thr ? "under" : "not under", thr / PYAB_MIB);
        return hi_growth < thr ? PYAB_CLASS_FLAT : PYAB_CLASS_WIDE;
    }
    if (growth < thr) {
        /*
         * Certain growth, sustained and not a step, that passes a third of
         * min_growth_pct of the level even at the interval's lower end,
         * held back only by the threshold: the threshold is growth over
         * the run, so it measures the run's length as much as the service
         * (124 B/request over 1700 requests of a Flask app is 1.2% of its
         * level), and this is not evidence of no leak. A longer run
         * settles it (advice.c).
         */
        int sustained = !(t->has_step && t->step.sse_ratio < STEP_SSE_RATIO) &&
                        t->late.slope >= LATE_MIN_RATIO * f->slope;
        double lo_growth = f->lo * t->span_requests;
        if (hi_growth < thr && sustained &&
            (lo_growth >= UNDER_FLOOR_REL_SHARE * o->rel * fabs(t->level) ||
             lo_growth >= UNDER_FLOOR_ABS_SHARE * o->abs)) {
            snprintf(why, len, "grows %.4g B/request [%.4g, %.4g]: %.2f MB over %.0f requests "
                     "(%.2f%% of the level, %.2f%% even at the interval's lower end), sustained, "
                     "but under the %.2f MB threshold: too short a run to call", f->slope, f->lo,
                     f->hi, growth / PYAB_MIB, t->span_requests, 100 * growth / t->level,
                     100 * f->lo * t->span_requests / t->level, thr / PYAB_MIB);
            return PYAB_CLASS_SHORT;
        }
        snprintf(why, len, "significant but immaterial: %.2f MB over %.0f requests (%.2f%% of "
                 "the level), under the %.2f MB threshold%s", growth / PYAB_MIB,
                 t->span_requests, 100 * growth / t->level, thr / PYAB_MIB,
                 hi_growth < thr ? "" : ", though the interval's upper end is not");
        return hi_growth < thr ? PYAB_CLASS_SMALL : PYAB_CLASS_WIDE;
    }
    if (t->has_step && t->step.sse_ratio < STEP_SSE_RATIO && t->step_seg_growth < thr) {
        snprintf(why, len, "a single step of %.2f MB at request %.0f, no material growth on "
                 "either side (step/line SSE ratio %.2f)", t->step.delta / PYAB_MIB, t->step_at,
                 t->step.sse_ratio);
        return PYAB_CLASS_STEP;
    }
    if (!(t->late.slope >= LATE_MIN_RATIO * f->slope)) {
        int stopped = t->late.hi * t->late_span < thr;
        snprintf(why, len, "growth %s: %.4g B/request over the whole, %.4g [%.4g, %.4g] over "
                 "the second half", stopped ? "stopped" : "slowed", f->slope, t->late.slope,
                 t->late.lo, t->late.hi);
        return stopped ? PYAB_CLASS_STOPPED : PYAB_CLASS_SLOWING;
    }
    if (f->lo * t->span_requests < thr) {
        snprintf(why, len, "probably grows, %.4g B/request, but the interval reaches down to "
                 "%.4g B/request: %.2f MB over %.0f requests, under the %.2f MB threshold",
                 f->slope, f->lo, f->lo * t->span_requests / PYAB_MIB, t->span_requests,
                 thr / PYAB_MIB);
        return PYAB_CLASS_WIDE;
    }
    snprintf(why, len, "grows %.4g B/request [%.4g, %.4g]: %.2f MB over %.0f requests "
             "(%.1f%% of the level)", f->slope, f->lo, f->hi, growth / PYAB_MIB, t->span_requests,
             100 * growth / t->level);
    return PYAB_CLASS_GROWS;
}

int pyab_verdict_decided(const pyab_trend *t, const pyab_verdict_opts *o, const char **cls,
                         char *why, size_t len)
{
    int c = classify(t, o, why, len);

    *cls = pyab_class_name[c];
    return c == PYAB_CLASS_FLAT || c == PYAB_CLASS_SMALL || c == PYAB_CLASS_STEP || c == PYAB_CLASS_STOPPED || c == PYAB_CLASS_GROWS;
}

static json_t *trend_json(const pyab_trend *t, int cls, const char *why)
{
    json_t *o = json_pack("{ss ss s{sI sI so}}", "class", pyab_class_name[cls], "reason", why,
                          "discarded", "warmup_phase", (json_int_t)t->n_warmup, "settling",
                          (json_int_t)t->n_settle, "settled_at_requests",
                          t->ok ? pyab_pool_number(t->settled_at) : json_null());
    if (!t->ok)
        return o;
    json_object_set_new(o, "bytes_per_request", pyab_pool_number(t->per_request.slope));
    json_object_set_new(o, "ci", jpair(t->per_request.lo, t->per_request.hi));
    json_object_set_new(o, "mb_per_hour", pyab_pool_number(t->per_second.slope * 3600 / PYAB_MIB));
    json_object_set_new(o, "ci_mb_per_hour",
                        jpair(t->per_second.lo * 3600 / PYAB_MIB, t->per_second.hi * 3600 / PYAB_MIB));
    json_object_set_new(o, "samples_used", json_integer((json_int_t)t->n_used));
    json_object_set_new(o, "level_bytes", pyab_pool_number(t->level));
    json_object_set_new(o, "growth_bytes", pyab_pool_number(t->per_request.slope * t->span_requests));
    json_object_set_new(o, "span_requests", pyab_pool_number(t->span_requests));
    json_object_set_new(o, "late_bytes_per_request", pyab_pool_number(t->late.slope));
    json_object_set_new(o, "residual_autocorrelation", pyab_pool_number(t->per_request.r1));
    json_object_set_new(o, "interval_method",
                        json_string(t->per_request.widened
                                        ? "Theil-Sen; Sen's interval widened in slope units by "
                                          "the AR(1) inflation (the inflated ranks ran out)"
                                        : "Theil-Sen; Sen's rank interval with its variance "
                                          "inflated for AR(1) residuals"));
    json_object_set_new(o, "period_requests", t->period > 0 ? pyab_pool_number(t->period) : json_null());
    if (t->period > 0)
        json_object_set_new(o, "period_source",
                            json_string(t->period_given ? "scenario" : "detected"));
    json_object_set_new(o, "cycles", json_integer((json_int_t)t->cycles));
    json_object_set_new(o, "step", !t->has_step ? json_null() :
                        json_pack("{sososo}", "at_requests", pyab_pool_number(t->step_at), "delta_bytes",
                                  pyab_pool_number(t->step.delta), "sse_ratio", pyab_pool_number(t->step.sse_ratio)));
    return o;
}

/* The pooled interval: the wider of the t interval over reps and the per-rep intervals combined. */
static void pool_interval(const double *v, const double *lo, const double *hi, size_t n,
                          double conf, double *plo, double *phi)
{
    double m, hw, comb = 0;

    if (n == 1) {
        *plo = lo[0];
        *phi = hi[0];
        return;
    }
    m = pyab_stats_mean(v, n);
    hw = pyab_stats_t_quantile(0.5 + conf / 2, (double)(n - 1)) * pyab_stats_sd(v, n) /
         sqrt((double)n);
    for (size_t i = 0; i < n; i++)
        comb += (hi[i] - lo[i]) * (hi[i] - lo[i]) / 4;
    comb = sqrt(comb) / (double)n;
    *plo = m - fmax(hw, comb);
    *phi = m + fmax(hw, comb);
}

static void pool_estimates(const pyab_verdict_rep *rr, size_t nrr, int m, const pyab_verdict_opts *o, pyab_pool *p,
                           size_t *nok)
{
    double *v = xcalloc(nrr, sizeof(double)), *lo = xcalloc(nrr, sizeof(double));
    double *hi = xcalloc(nrr, sizeof(double)), *lev = xcalloc(nrr, sizeof(double));
    double *span = xcalloc(nrr, sizeof(double)), *span_s = xcalloc(nrr, sizeof(double));
    double *start = xcalloc(nrr, sizeof(double)), *lo_rep = xcalloc(nrr, sizeof(double));

    *nok = 0;
    for (size_t i = 0; i < nrr; i++)
        if (rr[i].tr[m].ok && rr[i].available[m]) {
            lev[*nok] = rr[i].tr[m].level;
            span[*nok] = rr[i].tr[m].span_requests;
            span_s[*nok] = rr[i].tr[m].span_s;
            start[*nok] = rr[i].tr[m].settled_at;
            lo_rep[*nok] = rr[i].tr[m].per_request.lo;
            (*nok)++;
        }
    if (*nok > 0) {
        size_t k = 0;
        for (size_t i = 0; i < nrr; i++)
            if (rr[i].tr[m].ok && rr[i].available[m]) {
                v[k] = rr[i].tr[m].per_request.slope;
                lo[k] = rr[i].tr[m].per_request.lo;
                hi[k++] = rr[i].tr[m].per_request.hi;
            }
        p->slope = pyab_stats_median(v, k);
        pool_interval(v, lo, hi, k, o->conf, &p->lo, &p->hi);
        k = 0;
        for (size_t i = 0; i < nrr; i++)
            if (rr[i].tr[m].ok && rr[i].available[m]) {
                v[k] = rr[i].tr[m].per_second.slope;
                lo[k] = rr[i].tr[m].per_second.lo;
                hi[k++] = rr[i].tr[m].per_second.hi;
            }
        p->slope_s = pyab_stats_median(v, k);
        pool_interval(v, lo, hi, k, o->conf, &p->lo_s, &p->hi_s);
        p->level = pyab_stats_median(lev, *nok);
        p->span = pyab_stats_median(span, *nok);
        p->span_s = pyab_stats_median(span_s, *nok);
        p->settled_at = pyab_stats_median(start, *nok);
        p->lo_rep = pyab_stats_median(lo_rep, *nok);
        p->threshold = threshold(o, p->level);
        p->growth = p->slope * p->span;
    }
    free(lo_rep);
    free(start);
    free(span_s);
    free(span);
    free(lev);
    free(hi);
    free(lo);
    free(v);
}

/* First per-rep reason of a class, to quote it in the arm's reason. */
static const char *first_why(const pyab_verdict_rep *rr, size_t nrr, int m, int lo_cls, int hi_cls)
{
    for (size_t i = 0; i < nrr; i++)
        if (rr[i].cls[m] >= lo_cls && rr[i].cls[m] <= hi_cls)
            return rr[i].why[m];
    return "";
}

static void pool_metric(const pyab_verdict_rep *rr, size_t nrr, int m, const pyab_verdict_opts *o, pyab_pool *p)
{
    size_t nok, unsure;

    memset(p, 0, sizeof(*p));
    p->slope = p->lo = p->hi = p->slope_s = p->lo_s = p->hi_s = NAN;
    for (size_t i = 0; i < nrr; i++)
        if (rr[i].cls[m] != PYAB_CLASS_UNAVAILABLE) {
            p->nreps++;
            p->counts[rr[i].cls[m]]++;
        }
    if (p->nreps == 0) {
        p->cls = PYAB_CLASS_UNAVAILABLE;
        snprintf(p->why, sizeof(p->why), "column %s not recorded", pyab_verdict_metric_column[m]);
        return;
    }
    pool_estimates(rr, nrr, m, o, p, &nok);
    p->needed = NAN;
    for (size_t i = 0; i < nrr; i++) {
        if (rr[i].cls[m] == PYAB_CLASS_NODATA && p->nodata_span == 0) {
            p->nodata_samples = (double)rr[i].tr[m].n_used;
            p->nodata_span = rr[i].tr[m].span_requests;
            p->nodata_period = rr[i].tr[m].period;
        }
        if (rr[i].capped) {
            p->capped = 1;
            p->cap = rr[i].cap;
        }
    }
    unsure = p->counts[PYAB_CLASS_NODATA] + p->counts[PYAB_CLASS_WIDE] + p->counts[PYAB_CLASS_SLOWING];
    if (nok > 0 && p->lo * p->span >= p->threshold && 2 * p->counts[PYAB_CLASS_GROWS] > p->nreps) {
        p->cls = PYAB_CLASS_GROWS;
        snprintf(p->why, sizeof(p->why), "grows in %zu of %zu reps: %.4g B/request [%.4g, %.4g], "
                 "%.2f MB over %.0f requests (threshold %.2f MB)", p->counts[PYAB_CLASS_GROWS], p->nreps,
                 p->slope, p->lo, p->hi, p->growth / PYAB_MIB, p->span, p->threshold / PYAB_MIB);
    } else if (nok > 0 && 2 * p->counts[PYAB_CLASS_SHORT] > p->nreps && p->slope > 0 && p->lo > 0) {
        /*
         * Certain, sustained and material against the level in most reps
         * (and certain across reps: the pooled interval's lower end is
         * above zero), only under the absolute floor: inconclusive, and the run length
         * that would settle it. At the measured slope the growth passes
         * the floor after floor / slope requests; UNDER_FLOOR_MARGIN more,
         * and at least floor / (the per-rep interval's lower end), so that
         * the interval's lower end passes it too.
         */
        double lo = p->lo_rep > 0 ? p->lo_rep : p->slope;
        p->cls = PYAB_CLASS_WIDE;
        p->floor_bytes = p->threshold;
        p->needed = ceil(p->settled_at + fmax(UNDER_FLOOR_MARGIN * p->threshold / p->slope,
                                              p->threshold / lo));
        snprintf(p->why, sizeof(p->why), "grows in %zu of %zu reps, sustained, %.4g B/request "
                 "[%.4g, %.4g]: %.2f MB over %.0f requests (%.2f%% of the level) but under the "
                 "%.2f MB threshold (max(min_growth_pct %.2f%% of the level, min_growth_mb))",
                 p->counts[PYAB_CLASS_SHORT] + p->counts[PYAB_CLASS_GROWS], p->nreps, p->slope, p->lo, p->hi,
                 p->growth / PYAB_MIB, p->span, 100 * p->growth / p->level, p->threshold / PYAB_MIB,
                 100 * o->rel);
    } else if (p->counts[PYAB_CLASS_GROWS] == 0 && unsure == 0) {
        p->cls = PYAB_CLASS_FLAT;
        snprintf(p->why, sizeof(p->why), "no sustained material growth in %zu reps (flat %zu, "
                 "immaterial %zu, step %zu, stopped %zu, under the floor %zu); e.g. %s",
                 p->nreps, p->counts[PYAB_CLASS_FLAT], p->counts[PYAB_CLASS_SMALL], p->counts[PYAB_CLASS_STEP],
                 p->counts[PYAB_CLASS_STOPPED], p->counts[PYAB_CLASS_SHORT],
                 first_why(rr, nrr, m, PYAB_CLASS_FLAT, PYAB_CLASS_STOPPED));
    } else {
        p->cls = PYAB_CLASS_WIDE;
        snprintf(p->why, sizeof(p->why), "%zu of %zu reps grow, %zu cannot tell; %s",
                 p->counts[PYAB_CLASS_GROWS], p->nreps, unsure,
                 unsure ? first_why(rr, nrr, m, PYAB_CLASS_WIDE, PYAB_CLASS_SLOWING)[0]
                              ? first_why(rr, nrr, m, PYAB_CLASS_WIDE, PYAB_CLASS_SLOWING)
                              : first_why(rr, nrr, m, PYAB_CLASS_NODATA, PYAB_CLASS_NODATA)
                        : "the pooled interval includes zero or the pooled growth is immaterial");
    }
}

const char pyab_verdict_rule[] =
    "leak when the Python heap, the native heap or the RSS grows: the pooled slope's interval "
    "excludes zero, the growth over the measured span passes max(min_growth_pct of the level, "
    "min_growth_mb), and a strict majority of reps grow on their own, sustained (the second "
    "half's slope is at least half the whole one) and not as a single step; warm-up samples and "
    "the samples before the curve settles are discarded; periodic curves are measured cycle to "
    "cycle; inconclusive when no metric grows but one cannot be bounded under the threshold, or "
    "when a strict majority of reps grow with certainty, sustained and past min_growth_pct of "
    "the level even at the interval's lower end, but under the min_growth_mb floor (a run too "
    "short to call; evidence.next gives the requests per rep that would settle it)";

json_t *pyab_verdict_rep_json(pyab_verdict_rep *r, const pyab_verdict_opts *o)
{
    json_t *slopes = json_object();
    for (int m = 0; m < PYAB_NMETRICS; m++) {
        r->why[m][0] = '\0';
        if (!r->available[m]) {
            r->cls[m] = PYAB_CLASS_UNAVAILABLE;
            continue;
        }
        r->cls[m] = classify(&r->tr[m], o, r->why[m], sizeof(r->why[m]));
        json_object_set_new(slopes, pyab_verdict_metric_key[m], trend_json(&r->tr[m], r->cls[m], r->why[m]));
    }
    return slopes;
}

static json_t *pool_json(const pyab_pool *p)
{
    json_t *o = json_pack("{ss ss sI}", "class", pyab_class_name[p->cls], "reason", p->why, "reps",
                          (json_int_t)p->nreps);
    json_t *by = json_object();
    for (int c = 0; c < PYAB_NCLASSES; c++)
        if (p->counts[c])
            json_object_set_new(by, pyab_class_name[c], json_integer((json_int_t)p->counts[c]));
    json_object_set_new(o, "reps_by_class", by);
    json_object_set_new(o, "bytes_per_request", pyab_pool_number(p->slope));
    json_object_set_new(o, "ci", jpair(p->lo, p->hi));
    json_object_set_new(o, "growth_bytes", pyab_pool_number(p->growth));
    json_object_set_new(o, "level_bytes", pyab_pool_number(p->level));
    json_object_set_new(o, "threshold_bytes", pyab_pool_number(p->threshold));
    json_object_set_new(o, "span_requests", pyab_pool_number(p->span));
    if (isfinite(p->needed))
        json_object_set_new(o, "requests_needed", pyab_pool_number(p->needed));
    return o;
}

static json_t *slopes_json(const pyab_pool *p)
{
    json_t *o = json_object();
    for (int m = 0; m < PYAB_NMETRICS; m++) {
        if (p[m].cls == PYAB_CLASS_UNAVAILABLE)
            continue;
        json_object_set_new(o, pyab_verdict_metric_key[m],
                            json_pack("{sososososs sI}", "bytes_per_request", pyab_pool_number(p[m].slope),
                                      "ci", jpair(p[m].lo, p[m].hi), "mb_per_hour",
                                      pyab_pool_number(p[m].slope_s * 3600 / PYAB_MIB), "ci_mb_per_hour",
                                      jpair(p[m].lo_s * 3600 / PYAB_MIB, p[m].hi_s * 3600 / PYAB_MIB),
                                      "class", pyab_class_name[p[m].cls], "reps", (json_int_t)p[m].nreps));
    }
    return o;
}

/* What was discarded from the RSS curve of each rep, and why. */
static json_t *discarded_json(const pyab_verdict_rep *r, size_t n)
{
    json_t *w = json_array(), *s = json_array(), *at = json_array(), *per = json_array();
    for (size_t i = 0; i < n; i++) {
        const pyab_trend *t = &r[i].tr[PYAB_METRIC_RSS];
        json_array_append_new(w, json_integer((json_int_t)t->n_warmup));
        json_array_append_new(s, json_integer((json_int_t)t->n_settle));
        json_array_append_new(at, t->ok ? pyab_pool_number(t->settled_at) : json_null());
        json_array_append_new(per, t->period > 0 ? pyab_pool_number(t->period) : json_null());
    }
    return json_pack("{so so so so ss}", "warmup_phase_samples", w, "settling_samples", s,
                     "settled_at_requests", at, "period_requests", per, "why",
                     "samples in the warmup phase are always excluded; of the rest, those before "
                     "the curve settles (MSER-5 on the residuals from the trend of the last half) "
                     "are excluded too; per rep, for the RSS curve");
}

static const int decisive[] = {PYAB_METRIC_PYHEAP, PYAB_METRIC_NATIVE, PYAB_METRIC_RSS};
static const int native_first[] = {PYAB_METRIC_NATIVE, PYAB_METRIC_PYHEAP, PYAB_METRIC_RSS};

/* Whether a skipped rep (borrowed array of {"rep", "outcome", ...}) passed limits.rss_mb. */
static int any_over_limit(json_t *skipped)
{
    json_t *s;
    size_t i;

    json_array_foreach(skipped, i, s) {
        const char *outcome = json_string_value(json_object_get(s, "outcome"));
        if (outcome && strcmp(outcome, "over-limit") == 0)
            return 1;
    }
    return 0;
}

void pyab_verdict_arm(json_t *arm, const pyab_verdict_rep *reps, size_t n, json_t *skipped,
                      const pyab_verdict_opts *o)
{
    pyab_pool p[PYAB_NMETRICS];
    json_t *ev = json_object(), *metrics = json_object(), *reasons = json_array();
    const char *verdict = "no-leak", *attribution = "none", *next = NULL;
    pyab_shares sh = {0, 0, 0};
    char next_buf[400];
    int grows = 0, wide = 0, seen = 0, next_metric = 0;

    for (int m = 0; m < PYAB_NMETRICS; m++) {
        pool_metric(reps, n, m, o, &p[m]);
        json_object_set_new(metrics, pyab_verdict_metric_key[m], pool_json(&p[m]));
    }
    for (size_t i = 0; i < PYAB_ARRAY_LEN(decisive); i++) {
        const pyab_pool *q = &p[decisive[i]];
        seen += q->cls != PYAB_CLASS_UNAVAILABLE;
        grows += q->cls == PYAB_CLASS_GROWS;
        if (q->cls == PYAB_CLASS_WIDE) {
            wide++;
            if (next == NULL || pyab_advice_rank(q) > pyab_advice_rank(&p[next_metric])) {
                next_metric = decisive[i];
                next = pyab_advice_next(q, next_buf, sizeof(next_buf));
            }
        }
    }
    if (n > 0 && grows)
        attribution = pyab_attribution_name(p, reps, n, ev, &sh);
    /* The reasons, the metric the attribution names first: the terminal shows the first. */
    const int *order = strncmp(attribution, "native", 6) == 0 ? native_first : decisive;
    for (size_t i = 0; i < PYAB_ARRAY_LEN(decisive); i++) {
        const pyab_pool *q = &p[order[i]];
        if ((grows && q->cls == PYAB_CLASS_GROWS) || (!grows && wide && q->cls == PYAB_CLASS_WIDE) ||
            (!grows && !wide && q->cls != PYAB_CLASS_UNAVAILABLE))
            json_array_append_new(reasons, json_sprintf("%s: %s", pyab_verdict_metric_key[order[i]],
                                                        q->why));
    }
    if (n == 0 && any_over_limit(skipped)) {
        /* The memory outgrew what the scenario allows: a finding, not a lack of data. */
        verdict = "over-limit";
        json_array_append_new(reasons, json_string(
            "every rep was stopped for passing limits.rss_mb (see the reps' reasons): the "
            "service's memory outgrew the limit before a slope could be measured; raise "
            "limits.rss_mb or shorten the run to measure the slope"));
    } else if (n == 0) {
        verdict = "inconclusive";
        next = "reps that finish ok: none did";
    } else if (grows) {
        verdict = "leak";
    } else if (wide || !seen) {
        verdict = "inconclusive";
        if (!seen)
            next = "samples.csv with the memory columns (rss_bytes, pyheap_bytes, native_heap_bytes)";
    }
    json_object_set_new(ev, "rule", json_string(pyab_verdict_rule));
    /* The intervals' confidence: analysis.confidence, or the per-look one of reps run until settled. */
    json_object_set_new(ev, "confidence", json_real(o->conf));
    json_object_set_new(ev, "reps_used", json_integer((json_int_t)n));
    json_object_set_new(ev, "reps_skipped", skipped);
    json_object_set_new(ev, "metrics", metrics);
    json_object_set_new(ev, "discarded", discarded_json(reps, n));
    json_object_set_new(ev, "reasons", reasons);
    if (next && strcmp(verdict, "inconclusive") == 0)
        json_object_set_new(ev, "next", json_string(next));
    json_object_set_new(arm, "slopes", slopes_json(p));
    json_object_set_new(arm, "verdict", json_string(verdict));
    json_object_set_new(arm, "attribution", json_string(attribution));
    if (strcmp(verdict, "leak") == 0)
        json_object_set_new(arm, "attribution_shares",
                            json_pack("{sf sf sf}", "python-heap", sh.py, "native-heap", sh.native,
                                      "other", sh.other));
    json_object_set_new(arm, "evidence", ev);
}
