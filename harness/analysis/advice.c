/*
 * advice: what would settle an inconclusive verdict, naming the lever and
 * the number (requests per rep, sample.every_requests, reps, the
 * until-settled cap), for evidence.next and the terminal's "needs:" line.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pool.h"
#include "trend.h"

/* Whole cycles the advice asks for: a sawtooth of about the threshold's size decides by then. */
#define CYCLES_TO_BOUND 20
/* What would settle an inconclusive metric, in words (into buf when it needs numbers). */
const char *pyab_advice_next(const pyab_pool *p, char *buf, size_t len)
{
    if (isfinite(p->needed)) {
        double rate = p->span_s > 0 ? p->span / p->span_s : NAN;
        snprintf(buf, len, "a longer run: %.0f requests per rep (now %.0f measured after the "
                 "first %.0f); at the measured %.4g B/request the growth passes the %.2f MB "
                 "threshold after %.0f measured requests; the rest is a margin for the interval's "
                 "lower end to pass it too", p->needed, p->span, p->settled_at, p->slope,
                 p->floor_bytes / PYAB_MIB, p->floor_bytes / p->slope);
        if (isfinite(rate) && rate > 0)
            snprintf(buf + strlen(buf), len - strlen(buf), " (about %.0f s per rep at the "
                     "measured %.0f requests/s)", (p->needed - p->settled_at) / rate + 0.5, rate);
        return buf;
    }
    if (p->capped) {
        snprintf(buf, len, "a higher cap: the reps ran until settled and reached %.0f requests "
                 "undecided; raise \"load\": {\"max_requests\": %.0f} (and max_seconds if it "
                 "stopped them), or more reps", p->cap, 4 * p->cap);
        return buf;
    }
    if (p->counts[PYAB_CLASS_NODATA] > 0 && p->nodata_period > 0) {
        snprintf(buf, len, "a longer run: the curve repeats every %.0f requests and its growth is "
                 "measured cycle to cycle; %d whole cycles measure it, about %d bound it: about "
                 "%.0f requests per rep after warm-up (at least %.0f), or \"load\": {\"until\": "
                 "\"settled\"}", p->nodata_period, PYAB_TREND_MIN_CYCLES, CYCLES_TO_BOUND,
                 ceil(p->nodata_period * (CYCLES_TO_BOUND + 1)),
                 ceil(p->nodata_period * (PYAB_TREND_MIN_CYCLES + 1)));
        return buf;
    }
    if (p->counts[PYAB_CLASS_NODATA] > 0) {
        double every = floor(p->nodata_span / (4.0 * PYAB_TREND_MIN_SAMPLES));
        snprintf(buf, len, "more samples: %.0f after warm-up over %.0f requests, and the slope "
                 "needs %d; set \"sample\": {\"every_requests\": %.0f} (%d samples), a shorter "
                 "interval_ms, or a longer run", p->nodata_samples, p->nodata_span,
                 PYAB_TREND_MIN_SAMPLES, every > 1 ? every : 1, 4 * PYAB_TREND_MIN_SAMPLES);
        return buf;
    }
    if (p->counts[PYAB_CLASS_SLOWING] > 0) {
        snprintf(buf, len, "a longer run, to see whether the slowing growth levels off: about "
                 "%.0f requests per rep (twice the measured span after the first %.0f), or "
                 "\"load\": {\"until\": \"settled\"}", p->settled_at + 2 * p->span,
                 p->settled_at);
        return buf;
    }
    if (p->counts[PYAB_CLASS_GROWS] > 0) {
        snprintf(buf, len, "more reps: %zu of %zu grow and the others do not; %zu reps per arm",
                 p->counts[PYAB_CLASS_GROWS], p->nreps, 2 * p->nreps + 1);
        return buf;
    }
    snprintf(buf, len, "a narrower interval: \"load\": {\"until\": \"settled\"} replays each "
             "rep until it is decided, up to 16x the requests; by hand, about %.0f requests per "
             "rep (4x the measured span: Sen's interval narrows about 8x) or more reps",
             p->settled_at + 4 * p->span);
    return buf;
}

/*
 * Which undecided metric's advice to give when several are undecided: the
 * one that blocks the most (a cap reached, whole cycles missing, too few
 * samples) before those that only need a narrower interval.
 */
int pyab_advice_rank(const pyab_pool *p)
{
    if (p->capped)
        return 6;
    if (p->counts[PYAB_CLASS_NODATA] > 0)
        return p->nodata_period > 0 ? 5 : 4;
    if (isfinite(p->needed))
        return 3;
    if (p->counts[PYAB_CLASS_SLOWING] > 0)
        return 2;
    return p->counts[PYAB_CLASS_GROWS] > 0 ? 1 : 0;
}
