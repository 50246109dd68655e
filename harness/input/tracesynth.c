/*
 * The generating half of tracesynth: arrivals, sizes and ids drawn from one
 * seeded PRNG stream in a fixed order, then sorted by time and written
 * through the import module's JSONL writer (so t has a fixed text form).
 */
#include "tracesynth.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "trace.h"

/* A trace beyond this many requests is a spec mistake, not a workload. */
#define MAX_REQUESTS 20000000
/*
 * Thinning draws candidates at the rate bound and keeps a share; this many
 * draws (seconds of work) is the most it may take. Bursts that do not
 * overlap still multiply into the one bound, so a spec can ask for more
 * draws than it keeps requests: it is refused up front, not run for hours.
 */
#define MAX_CANDIDATES 200000000.0

typedef struct rng {
    uint64_t s[4];
} rng;

typedef struct event {
    double t;
    size_t seq;
    const pyab_synth_route *route;
    long size, id;
} event;

typedef struct event_list {
    event *v;
    size_t n, cap;
} event_list;

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = pyab_rng_next(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna). */
static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

static double rng_uniform(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Box-Muller, one value per call: simpler to keep the stream order fixed. */
static double rng_normal(rng *r)
{
    double u1 = 1.0 - rng_uniform(r), u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static long sample_size(rng *r, const pyab_synth_size *s)
{
    double x;

    switch (s->dist) {
    case PYAB_SIZE_LOGNORMAL:
        x = s->median * exp(s->sigma * rng_normal(r));
        break;
    case PYAB_SIZE_UNIFORM:
        x = s->min + (s->max - s->min) * rng_uniform(r);
        break;
    default:
        return lround(s->bytes);
    }
    x = x < s->min ? s->min : x > s->max ? s->max : x;
    return lround(x);
}

static double rate_at(const pyab_synth_spec *s, double t)
{
    double rate = s->rate;

    if (s->cycle_period > 0)
        rate *= 1 + s->cycle_amplitude * sin(2 * M_PI * (t / s->cycle_period + s->cycle_phase));
    for (size_t i = 0; i < s->nbursts; i++)
        if (t >= s->bursts[i].start && t < s->bursts[i].start + s->bursts[i].duration)
            rate *= s->bursts[i].multiplier;
    return rate;
}

/* Whether a burst covers any of [0, duration): one outside the trace cannot raise its rate. */
static int burst_inside(const pyab_synth_spec *s, const pyab_synth_burst *b)
{
    return b->duration > 0 && b->start < s->duration && b->start + b->duration > 0;
}

/* An upper bound of rate_at over the whole trace, for thinning. */
static double rate_bound(const pyab_synth_spec *s)
{
    double rate = s->rate * (1 + (s->cycle_period > 0 ? s->cycle_amplitude : 0));

    for (size_t i = 0; i < s->nbursts; i++)
        if (s->bursts[i].multiplier > 1 && burst_inside(s, &s->bursts[i]))
            rate *= s->bursts[i].multiplier;
    return rate;
}

/* Refuses a bound thinning cannot work with: infinite, or too many draws over the duration. */
static int check_bound(const pyab_synth_spec *s, double bound, pyab_error *err)
{
    if (!isfinite(bound))
        return pyab_error_set(err, "bursts: the multipliers of the bursts inside the trace "
                              "multiply the rate past any number; lower a multiplier or the "
                              "overlap");
    if (bound * s->duration > MAX_CANDIDATES)
        return pyab_error_set(err, "the rate bound of %.4g req/s (rate, cycle peak and the "
                              "multipliers of the bursts inside the trace) over %g s asks for "
                              "%.4g candidate arrivals, at most %.0f; lower the rate, the "
                              "duration or a burst's multiplier", bound, s->duration,
                              bound * s->duration, MAX_CANDIDATES);
    return 0;
}

static int add_event(event_list *l, rng *r, double t, const pyab_synth_route *route,
                     pyab_error *err)
{
    event *e;

    if (l->n >= MAX_REQUESTS)
        return pyab_error_set(err, "the spec asks for over %d requests; lower duration, rate "
                              "or batch counts", MAX_REQUESTS);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    e = &l->v[l->n];
    e->t = t;
    e->seq = l->n++;
    e->route = route;
    e->size = sample_size(r, &route->size);
    e->id = 1 + (long)(rng_uniform(r) * (double)route->ids);
    return 0;
}

/*
 * Poisson arrivals at rate_at(t) by thinning (Lewis and Shedler): draw at
 * the bound, keep each with probability rate_at(t) / bound.
 */
static int gen_arrivals(const pyab_synth_spec *s, rng *r, event_list *l, pyab_error *err)
{
    double bound = rate_bound(s), total = 0, t = 0, draws = 0;
    int rc;

    if (bound <= 0)
        return 0;
    if ((rc = check_bound(s, bound, err)) < 0)
        return rc;
    for (size_t i = 0; i < s->nroutes; i++)
        total += s->routes[i].weight;
    for (;;) {
        t += -log(1.0 - rng_uniform(r)) / bound;
        if (t >= s->duration)
            return 0;
        /* The expected count passed the check; this holds against a freak stream too. */
        if (++draws > 2 * MAX_CANDIDATES)
            return pyab_error_set(err, "bursts: thinning took over %.0f draws; lower the "
                                  "multipliers", 2 * MAX_CANDIDATES);
        if (rng_uniform(r) * bound >= rate_at(s, t))
            continue;
        double pick = rng_uniform(r) * total;
        size_t i = 0;
        while (i + 1 < s->nroutes && pick >= s->routes[i].weight)
            pick -= s->routes[i++].weight;
        if ((rc = add_event(l, r, t, &s->routes[i], err)) < 0)
            return rc;
    }
}

static int gen_batches(const pyab_synth_spec *s, rng *r, event_list *l, pyab_error *err)
{
    int rc;

    for (size_t b = 0; b < s->nbatches; b++) {
        const pyab_synth_batch *batch = &s->batches[b];
        for (double start = batch->start; start < s->duration; start += batch->every) {
            for (long j = 0; j < batch->count; j++) {
                double t = start + batch->spread * (double)j / (double)batch->count;
                if (t < s->duration && (rc = add_event(l, r, t, &batch->req, err)) < 0)
                    return rc;
            }
        }
    }
    return 0;
}

static int cmp_event(const void *a, const void *b)
{
    const event *x = a, *y = b;

    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static json_t *event_path(const event *e)
{
    const char *route = e->route->route, *hole = strstr(route, "{id}");

    if (hole == NULL)
        return json_string(route);
    return json_sprintf("%.*s%ld%s", (int)(hole - route), route, e->id, hole + 4);
}

/* `filler` holds the alphabet repeated, so any window of it is a filler string. */
static json_t *event_body(const event *e, const char *filler)
{
    json_t *body = json_object();
    int mode = e->route->body;

    if (mode == PYAB_BODY_BOTH || mode == PYAB_BODY_SIZE)
        json_object_set_new(body, "size", json_integer(e->size));
    if (mode == PYAB_BODY_BOTH || mode == PYAB_BODY_FILLER)
        json_object_set_new(body, "filler", json_stringn(filler + e->seq % 26, (size_t)e->size));
    return body;
}

static void write_events(const event_list *l, pyab_buf *out)
{
    long max = 0;
    char *filler;

    for (size_t i = 0; i < l->n; i++)
        max = l->v[i].size > max ? l->v[i].size : max;
    filler = xmalloc((size_t)max + 27);
    for (long i = 0; i < max + 26; i++)
        filler[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < l->n; i++) {
        const event *e = &l->v[i];
        json_t *rest = json_object();
        json_object_set_new(rest, "route", json_string(e->route->route));
        json_object_set_new(rest, "method", json_string(e->route->method));
        json_object_set_new(rest, "path", event_path(e));
        if (e->route->headers)
            json_object_set(rest, "headers", e->route->headers);
        if (e->route->body != PYAB_BODY_NONE)
            json_object_set_new(rest, "body", event_body(e, filler));
        pyab_trace_write_record(out, e->t, rest);
        json_decref(rest);
    }
    free(filler);
}

int pyab_tracesynth_generate(const pyab_synth_spec *s, pyab_buf *out, size_t *count,
                             pyab_error *err)
{
    event_list l = {0};
    rng r;
    int rc;

    rng_seed(&r, s->seed);
    if ((rc = gen_arrivals(s, &r, &l, err)) < 0 || (rc = gen_batches(s, &r, &l, err)) < 0)
        goto out;
    if (l.n == 0) {
        rc = pyab_error_set(err, "the spec gives no requests (rate 0 and no batches?)");
        goto out;
    }
    qsort(l.v, l.n, sizeof(*l.v), cmp_event);
    write_events(&l, out);
    *count = l.n;
out:
    free(l.v);
    return rc;
}
