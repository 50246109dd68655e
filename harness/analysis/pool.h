/*
 * pool: what verdict.c, advice.c and attribution.c share inside analysis/:
 * the classes a metric can get and one metric pooled over an arm's reps.
 * Not for other folders: their interface is verdict.h.
 */
#ifndef PYAB_POOL_H
#define PYAB_POOL_H

#include <jansson.h>
#include <math.h>
#include <stddef.h>

#include "verdict.h"

enum { PYAB_CLASS_UNAVAILABLE, PYAB_CLASS_NODATA, PYAB_CLASS_FLAT, PYAB_CLASS_SMALL, PYAB_CLASS_STEP, PYAB_CLASS_STOPPED, PYAB_CLASS_WIDE, PYAB_CLASS_SLOWING,
       PYAB_CLASS_SHORT, PYAB_CLASS_GROWS, PYAB_NCLASSES };
extern const char *const pyab_class_name[PYAB_NCLASSES];

/* One metric of one arm, pooled over its reps (verdict.c fills it). */
typedef struct pyab_pool {
    int cls; /* PYAB_CLASS_GROWS, PYAB_CLASS_FLAT, PYAB_CLASS_WIDE or PYAB_CLASS_UNAVAILABLE */
    size_t nreps, counts[PYAB_NCLASSES];
    double slope, lo, hi, slope_s, lo_s, hi_s;
    double level, span, threshold, growth;
    double span_s, settled_at, lo_rep; /* medians over the reps: seconds, start, per-rep lower end */
    double needed;                     /* requests per rep that would settle an under-floor metric */
    double floor_bytes;                 /* the absolute floor (min_growth_mb) in bytes */
    /* The first rep with too little data: its samples, span and period (0: not periodic). */
    double nodata_samples, nodata_span, nodata_period;
    int capped; /* a rep ran until settled and reached its cap undecided */
    double cap;
    char why[600];
} pyab_pool;

/* jansson refuses NaN and infinities; JSON says null. New reference. */
static inline json_t *pyab_pool_number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* advice.c: what would settle an inconclusive metric, in words (in buf when it needs numbers). */
const char *pyab_advice_next(const pyab_pool *p, char *buf, size_t len);
/* advice.c: how much a metric's advice blocks: the highest is given first. */
int pyab_advice_rank(const pyab_pool *p);

/* Shares of an arm's memory growth per side (attribution.c). */
typedef struct pyab_shares {
    double py, native, other;
} pyab_shares;

/*
 * attribution.c: where a leaking arm's growth went ("python-heap",
 * "native-heap", "python-heap+native-heap", "retention", "outside-malloc"),
 * with the shares in *s; p is the arm's pools indexed by PYAB_METRIC_*;
 * ev (borrowed) gets the RSS evidence when neither heap is named. A
 * static string.
 */
const char *pyab_attribution_name(const pyab_pool *p, const pyab_verdict_rep *reps, size_t n,
                                  json_t *ev, pyab_shares *s);

#endif
