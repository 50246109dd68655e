/*
 * wheretally: what one group of sampled allocations (a site, a type, a
 * library) adds up to, for the Python side (where.c) and the native side
 * (native.c) alike: the same estimator, so both domains' numbers mean the
 * same thing in where.json (analysis/wherearm.h reads them).
 *
 * A sampled allocation of s bytes, sampled with probability p = 1 - e^(-s/R)
 * at mean gap R, stands for w = s / p bytes (Horvitz-Thompson); the
 * estimator's variance is estimated by w (w - s) = s^2 (1 - p) / p^2, and
 * 1 / p objects.
 */
#ifndef PYAB_WHERETALLY_H
#define PYAB_WHERETALLY_H

#include <jansson.h>
#include <math.h>

typedef struct pyab_tally {
    double bytes, early, late, var, objects;
    long samples, early_samples;
} pyab_tally;

/* One sampled allocation of size bytes at mean gap mean; early: made in
 * the first half of the post-warm-up requests. */
static inline void pyab_tally_add(pyab_tally *t, double size, double mean, int early)
{
    double p = -expm1(-size / mean), w;

    if (!(p > 0))
        p = 1e-300;
    w = size / p;
    t->bytes += w;
    *(early ? &t->early : &t->late) += w;
    t->var += w * (w - size);
    t->objects += 1 / p;
    t->samples++;
    t->early_samples += early;
}

static inline void pyab_tally_merge(pyab_tally *into, const pyab_tally *t)
{
    into->bytes += t->bytes;
    into->early += t->early;
    into->late += t->late;
    into->var += t->var;
    into->objects += t->objects;
    into->samples += t->samples;
    into->early_samples += t->early_samples;
}

/* The tally's fields into rec (returned). */
static inline json_t *pyab_tally_json(json_t *rec, const pyab_tally *t)
{
    json_object_set_new(rec, "bytes", json_real(t->bytes));
    json_object_set_new(rec, "early", json_real(t->early));
    json_object_set_new(rec, "late", json_real(t->late));
    json_object_set_new(rec, "var", json_real(t->var));
    json_object_set_new(rec, "objects", json_real(t->objects));
    json_object_set_new(rec, "samples", json_integer(t->samples));
    json_object_set_new(rec, "early_samples", json_integer(t->early_samples));
    return rec;
}

#endif
