#include "refcount.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "stats.h"

/* As verdict.c: a step explains the curve this much better than a line; a second half this slow is not sustained. */
#define STEP_SSE_RATIO 0.5
#define LATE_MIN_RATIO 0.5

void pyab_refcount_measure(const pyab_series *s, double period, double conf,
                           pyab_refcount_rep *out)
{
    const double *col = pyab_series_column(s, "refcount_total");
    int any = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; col && i < s->n && !any; i++)
        any = !isnan(col[i]);
    /* A release child leaves the column empty: nothing to judge. */
    out->available = any && pyab_trend_measure(s, "refcount_total", period, conf, &out->tr) == 0;
}

static double threshold(const pyab_verdict_opts *o, double level)
{
    return fmax(o->rel * fabs(level), PYAB_REFCOUNT_FLOOR);
}

static int classify(const pyab_trend *t, const pyab_verdict_opts *o, char *why, size_t len)
{
    const pyab_fit *f = &t->per_request;
    double thr = threshold(o, t->level), growth = f->slope * t->span_requests;

    if (!t->ok) {
        snprintf(why, len, "%s", t->note);
        return PYAB_CLASS_NODATA;
    }
    if (!(f->lo > 0)) {
        snprintf(why, len, "no significant growth: %.3g references/request [%.3g, %.3g]",
                 f->slope, f->lo, f->hi);
        return f->hi * t->span_requests < thr ? PYAB_CLASS_FLAT : PYAB_CLASS_WIDE;
    }
    if (t->has_step && t->step.sse_ratio < STEP_SSE_RATIO &&
        t->step_seg_growth < thr) {
        snprintf(why, len, "one step of %.0f references at %.0f requests, not a trend",
                 t->step.delta, t->step_at);
        return PYAB_CLASS_STEP;
    }
    if (f->lo * t->span_requests < thr) {
        snprintf(why, len, "%.3g references/request [%.3g, %.3g]: %.0f over %.0f requests, "
                 "under the threshold of %.0f (%.3g%% of the total of %.0f, at least %d)",
                 f->slope, f->lo, f->hi, growth, t->span_requests, thr, 100 * o->rel,
                 t->level, PYAB_REFCOUNT_FLOOR);
        return growth < thr ? PYAB_CLASS_SMALL : PYAB_CLASS_WIDE;
    }
    if (t->late.slope < LATE_MIN_RATIO * f->slope) {
        snprintf(why, len, "grew %.3g references/request, but the second half only %.3g",
                 f->slope, t->late.slope);
        return PYAB_CLASS_SLOWING;
    }
    snprintf(why, len, "grows %.3g references/request [%.3g, %.3g]: %.0f references over %.0f "
             "requests (threshold %.0f)", f->slope, f->lo, f->hi, growth, t->span_requests, thr);
    return PYAB_CLASS_GROWS;
}

static json_t *slope_json(double slope, double lo, double hi, int cls, const char *why)
{
    return json_pack("{s:o,s:[oo],s:s,s:s}", "references_per_request", pyab_pool_number(slope),
                     "ci", pyab_pool_number(lo), pyab_pool_number(hi), "class",
                     pyab_class_name[cls], "why", why);
}

json_t *pyab_refcount_rep_json(pyab_refcount_rep *r, const pyab_verdict_opts *o)
{
    const pyab_fit *f = &r->tr.per_request;

    r->cls = classify(&r->tr, o, r->why, sizeof(r->why));
    return slope_json(f->slope, f->lo, f->hi, r->cls, r->why);
}

/* Makes the arm's verdict say so, when its references grow. */
static void name_growth(json_t *arm, const char *reason)
{
    json_t *ev = json_object_get(arm, "evidence"), *reasons = json_object_get(ev, "reasons");
    const char *verdict = json_string_value(json_object_get(arm, "verdict"));
    int was_leak = verdict && strcmp(verdict, "leak") == 0;

    if (!json_is_array(reasons) && json_is_object(ev))
        json_object_set_new(ev, "reasons", reasons = json_array());
    if (was_leak)
        json_array_append_new(reasons, json_string(reason));
    else
        json_array_insert_new(reasons, 0, json_string(reason));
    if (!was_leak) {
        json_object_set_new(arm, "verdict", json_string("leak"));
        json_object_set_new(arm, "attribution", json_string("references"));
        json_object_del(arm, "attribution_shares");
        json_object_del(ev, "next");
    }
}

void pyab_refcount_arm(json_t *arm, const pyab_refcount_rep *reps, size_t n,
                       const pyab_verdict_opts *o)
{
    double *slopes = xcalloc(n + 1, sizeof(double)), *thr = xcalloc(n + 1, sizeof(double));
    double *span = xcalloc(n + 1, sizeof(double)), lo = INFINITY, hi = -INFINITY;
    size_t used = 0, grows = 0;
    char why[600];
    int cls;

    for (size_t i = 0; i < n; i++) {
        const pyab_trend *t = &reps[i].tr;
        if (!reps[i].available || reps[i].cls == PYAB_CLASS_NODATA)
            continue;
        slopes[used] = t->per_request.slope;
        thr[used] = threshold(o, t->level);
        span[used] = t->span_requests;
        lo = fmin(lo, t->per_request.lo);
        hi = fmax(hi, t->per_request.hi);
        grows += reps[i].cls == PYAB_CLASS_GROWS;
        used++;
    }
    if (used > 0) {
        /* As the memory curves: the median slope; the interval combines the reps' own. */
        double slope = pyab_stats_median(slopes, used), t = pyab_stats_median(thr, used);
        double s = pyab_stats_median(span, used);
        if (2 * grows > used && lo * s >= t) {
            cls = PYAB_CLASS_GROWS;
            snprintf(why, sizeof(why), "refcount: grows in %zu of %zu reps: %.3g references/request "
                     "[%.3g, %.3g] (sys.gettotalrefcount() of the debug interpreter): references "
                     "taken and never released, as a missing Py_DECREF leaves them", grows, used,
                     slope, lo, hi);
            name_growth(arm, why);
        } else {
            cls = lo > 0 || hi * s >= t ? PYAB_CLASS_WIDE : PYAB_CLASS_FLAT;
            snprintf(why, sizeof(why), "refcount: no material growth in %zu reps (%zu grow): "
                     "%.3g references/request [%.3g, %.3g]", used, grows, slope, lo, hi);
        }
        json_t *j = slope_json(slope, lo, hi, cls, why);
        json_t *slopes_obj = json_object_get(arm, "slopes");
        json_t *metrics = json_object_get(json_object_get(arm, "evidence"), "metrics");
        if (json_is_object(metrics))
            json_object_set(metrics, "refcount", j);
        if (!json_is_object(slopes_obj))
            json_object_set_new(arm, "slopes", slopes_obj = json_object());
        json_object_set_new(slopes_obj, "refcount", j);
    }
    free(slopes);
    free(thr);
    free(span);
}
