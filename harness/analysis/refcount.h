/*
 * refcount: the reference total of a debug interpreter, judged per request.
 *
 * A debug build of CPython (Py_REF_DEBUG) counts every reference it hands
 * out; a child built against one writes that total, sys.gettotalrefcount(),
 * into samples.csv as refcount_total. A missing Py_DECREF in a C extension
 * leaves one reference behind per call: the total grows by about one per
 * request, even when the object is immortal-ish (None, a cached int) and no
 * memory grows at all. That is the signal CPython's own `regrtest -R`
 * hunts; here it gets the same statistics as the memory curves (trend.c:
 * warm-up and settling dropped, a Theil-Sen slope with an interval widened
 * for autocorrelation, sustained and not a step) and can make an arm's
 * verdict `leak` with attribution `references`.
 */
#ifndef PYAB_REFCOUNT_H
#define PYAB_REFCOUNT_H

#include <jansson.h>

#include "trend.h"
#include "verdict.h"

/* Growth under this many references over a rep is never material. */
#define PYAB_REFCOUNT_FLOOR 1000

typedef struct pyab_refcount_rep {
    int available; /* the rep recorded refcount_total (a debug child) */
    pyab_trend tr;
    int cls;
    char why[300];
} pyab_refcount_rep;

/* Measures refcount_total of s into out (out->available 0 when it has none). */
void pyab_refcount_measure(const pyab_series *s, double period, double conf,
                           pyab_refcount_rep *out);

/* Classifies one rep's total; the rep's "slopes.refcount" object. New reference. */
json_t *pyab_refcount_rep_json(pyab_refcount_rep *r, const pyab_verdict_opts *o);

/*
 * Pools the arm's reps (nothing when none recorded the total) into
 * arm.slopes.refcount and arm.evidence.metrics.refcount; when the total
 * grows, names it in arm.evidence.reasons and makes a verdict that was not
 * `leak` one, with attribution `references`. arm is borrowed.
 */
void pyab_refcount_arm(json_t *arm, const pyab_refcount_rep *reps, size_t n,
                       const pyab_verdict_opts *o);

#endif
