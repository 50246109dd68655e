/*
 * attribution: where a leaking arm's memory went, by the share of the
 * growth each side explains (the rule is in full above SIDE_SHARE).
 */
#include <math.h>
#include <stdlib.h>

#include "pool.h"
#include "stats.h"
#include "util.h"

/* RSS growth is retention when the allocator's free bytes or malloc_trim account for this share. */
#define RETENTION_SHARE 0.5
/*
 * RSS grows but neither heap does: is the allocator holding freed memory,
 * or is it elsewhere? When only RSS passed the materiality bar, a heap curve whose growth is
 * certain (its interval's lower end above zero) and accounts for at least
 * EXPLAINS_SHARE of the RSS growth still says where the memory went: RSS
 * just crossed the floor first (page rounding, allocator headers).
 */
#define EXPLAINS_SHARE 0.5

static int explains_rss(const pyab_pool *p, int m)
{
    const pyab_pool *rss = &p[PYAB_METRIC_RSS], *h = &p[m];

    return h->cls != PYAB_CLASS_UNAVAILABLE && isfinite(h->lo) && h->lo > 0 && isfinite(rss->slope) &&
           rss->slope > 0 && h->slope >= EXPLAINS_SHARE * rss->slope;
}

static const char *attribute_rss(const pyab_pool *p, const pyab_verdict_rep *r, size_t n, json_t *ev)
{
    double rss = p[PYAB_METRIC_RSS].growth, freed = NAN, drop, *d = xcalloc(n, sizeof(double));
    size_t k = 0;

    if (p[PYAB_METRIC_NATIVE_FREE].cls != PYAB_CLASS_UNAVAILABLE)
        freed = p[PYAB_METRIC_NATIVE_FREE].growth;
    for (size_t i = 0; i < n; i++) {
        const pyab_trend *t = &r[i].tr[PYAB_METRIC_RSS];
        if (t->ok && isfinite(t->quiesce_value))
            d[k++] = t->end_value - t->quiesce_value;
    }
    drop = k ? pyab_stats_median(d, k) : NAN;
    free(d);
    json_object_set_new(ev, "attribution", json_pack("{sososo}", "rss_growth_bytes", pyab_pool_number(rss),
                        "native_free_growth_bytes", pyab_pool_number(freed), "quiesce_drop_bytes", pyab_pool_number(drop)));
    /* Free bytes inside malloc grew with RSS, or malloc_trim gave the growth back. */
    if (freed >= RETENTION_SHARE * rss || drop >= RETENTION_SHARE * rss)
        return "retention";
    return "outside-malloc";
}

/*
 * Attribution by share. Each heap's pooled slope in bytes per request
 * (negative counts as 0) as a share of D = max(RSS slope, Python heap +
 * native heap slopes): slopes, not growth, since each metric's measured
 * span can differ (settling is detected per curve). The rest of the RSS
 * slope is "other" (outside malloc, or kept by the allocator). A heap is
 * named when it grows materially (its class is "grows", or its interval's
 * lower end is above zero and its growth passes its own threshold) and
 * holds at least SIDE_SHARE of D: a Python object that holds a large
 * native buffer grows the Python heap by ~1% of the native heap, and that
 * 1% must not be the answer, while a Python leak beside a native one
 * (2 KB bytes and a 16 KB array per request: 12%) must be named. Both heaps named:
 * "python-heap+native-heap". Neither: RSS growth is retention or
 * outside-malloc (attribute_rss).
 */
#define SIDE_SHARE 0.1

static double positive(double v)
{
    return isfinite(v) && v > 0 ? v : 0;
}

static pyab_shares growth_shares(const pyab_pool *p)
{
    double gp = positive(p[PYAB_METRIC_PYHEAP].slope), gn = positive(p[PYAB_METRIC_NATIVE].slope);
    double gr = positive(p[PYAB_METRIC_RSS].slope), d = fmax(gr, gp + gn);
    pyab_shares s = {0, 0, 0};

    if (d > 0) {
        s.py = gp / d;
        s.native = gn / d;
        s.other = positive(gr - gp - gn) / d;
    }
    return s;
}

static int side_named(const pyab_pool *q, double share)
{
    int material = q->cls == PYAB_CLASS_GROWS ||
                   (q->cls != PYAB_CLASS_UNAVAILABLE && isfinite(q->lo) && q->lo > 0 &&
                    q->growth >= q->threshold);
    return material && share >= SIDE_SHARE;
}

const char *pyab_attribution_name(const pyab_pool *p, const pyab_verdict_rep *reps, size_t n,
                                  json_t *ev, pyab_shares *s)
{
    int py, native;

    *s = growth_shares(p);
    py = side_named(&p[PYAB_METRIC_PYHEAP], s->py);
    native = side_named(&p[PYAB_METRIC_NATIVE], s->native);
    if (py && native)
        return "python-heap+native-heap";
    if (py || native)
        return py ? "python-heap" : "native-heap";
    if (explains_rss(p, PYAB_METRIC_PYHEAP) && s->py >= SIDE_SHARE)
        return "python-heap";
    if (explains_rss(p, PYAB_METRIC_NATIVE) && s->native >= SIDE_SHARE)
        return "native-heap";
    return attribute_rss(p, reps, n, ev);
}
