#include "hist.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define SUB_BITS 4
#define SUB (1u << SUB_BITS)

static unsigned bucket_of(uint64_t us)
{
    unsigned e;

    if (us < SUB)
        return (unsigned)us;
    e = 63u - (unsigned)__builtin_clzll(us);
    unsigned idx = SUB + (e - SUB_BITS) * SUB + (unsigned)((us >> (e - SUB_BITS)) & (SUB - 1));
    return idx < PYAB_HIST_BUCKETS ? idx : PYAB_HIST_BUCKETS - 1;
}

/* Lower bound and width, in microseconds, of a bucket. */
static void bucket_range(unsigned idx, double *low, double *width)
{
    unsigned e, m;

    if (idx < SUB) {
        *low = idx;
        *width = 1;
        return;
    }
    e = (idx - SUB) / SUB + SUB_BITS;
    m = (idx - SUB) % SUB;
    *width = ldexp(1.0, (int)(e - SUB_BITS));
    *low = (SUB + m) * *width;
}

void pyab_hist_record(pyab_hist *h, uint64_t ns)
{
    _Atomic uint64_t *c = &h->counts[bucket_of(ns / 1000)];

    /* One writer per histogram: a relaxed load and store is enough and is
     * cheaper than a locked add. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

void pyab_hist_add(pyab_hist *dst, const pyab_hist *src)
{
    for (unsigned i = 0; i < PYAB_HIST_BUCKETS; i++)
        dst->counts[i] += atomic_load_explicit(&src->counts[i], memory_order_relaxed);
}

void pyab_hist_diff(pyab_hist *dst, const pyab_hist *a, const pyab_hist *b)
{
    for (unsigned i = 0; i < PYAB_HIST_BUCKETS; i++)
        dst->counts[i] = atomic_load_explicit(&a->counts[i], memory_order_relaxed) -
                         atomic_load_explicit(&b->counts[i], memory_order_relaxed);
}

static uint64_t total_count(const pyab_hist *h)
{
    uint64_t n = 0;

    for (unsigned i = 0; i < PYAB_HIST_BUCKETS; i++)
        n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    return n;
}

double pyab_hist_quantile_ms(const pyab_hist *h, double q)
{
    uint64_t total = total_count(h), seen = 0, rank;
    double low, width;

    if (total == 0)
        return NAN;
    rank = (uint64_t)ceil(q * (double)total);
    if (rank < 1)
        rank = 1;
    for (unsigned i = 0; i < PYAB_HIST_BUCKETS; i++) {
        seen += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (seen >= rank) {
            bucket_range(i, &low, &width);
            return (low + width / 2) / 1000.0;
        }
    }
    return NAN;
}

double pyab_hist_max_ms(const pyab_hist *h)
{
    double low, width;

    for (unsigned i = PYAB_HIST_BUCKETS; i-- > 0;) {
        if (atomic_load_explicit(&h->counts[i], memory_order_relaxed)) {
            bucket_range(i, &low, &width);
            return (low + width) / 1000.0;
        }
    }
    return NAN;
}

json_t *pyab_hist_to_json(const pyab_hist *h)
{
    json_t *j = json_object();
    char key[16];

    for (unsigned i = 0; i < PYAB_HIST_BUCKETS; i++) {
        uint64_t c = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (c == 0)
            continue;
        snprintf(key, sizeof(key), "%u", i);
        json_object_set_new(j, key, json_integer((json_int_t)c));
    }
    return j;
}

int pyab_hist_add_json(pyab_hist *h, const json_t *j)
{
    const char *key;
    json_t *v;

    if (!json_is_object(j))
        return -EINVAL;
    json_object_foreach((json_t *)j, key, v) {
        char *end;
        unsigned long idx = strtoul(key, &end, 10);
        if (*end != '\0' || idx >= PYAB_HIST_BUCKETS || !json_is_integer(v) ||
            json_integer_value(v) < 0)
            return -EINVAL;
        h->counts[idx] += (uint64_t)json_integer_value(v);
    }
    return 0;
}
