/*
 * hist: a log-linear latency histogram (16 linear steps per power of two,
 * about 3% relative error) over microseconds, up to ~12 days.
 *
 * Each worker owns one and is its only writer; the sampler reads it with
 * relaxed loads and diffs against its previous copy to get the window of a
 * sample, so the hot path takes no lock. The parent merges the final
 * histograms of all workers and reps.
 */
#ifndef PYAB_HIST_H
#define PYAB_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#define PYAB_HIST_BUCKETS 608

typedef struct pyab_hist {
    _Atomic uint64_t counts[PYAB_HIST_BUCKETS];
} pyab_hist;

/* Records one value in nanoseconds. Single writer per histogram. */
void pyab_hist_record(pyab_hist *h, uint64_t ns);
/* Adds src's counts into dst (plain, not concurrent with writers of dst). */
void pyab_hist_add(pyab_hist *dst, const pyab_hist *src);
/* dst = a - b, bucket by bucket (a window between two snapshots). */
void pyab_hist_diff(pyab_hist *dst, const pyab_hist *a, const pyab_hist *b);
/* The q-quantile (0..1) in milliseconds; NAN when the histogram is empty. */
double pyab_hist_quantile_ms(const pyab_hist *h, double q);
/* Largest recorded value's bucket upper bound in milliseconds; NAN when empty. */
double pyab_hist_max_ms(const pyab_hist *h);

/* Sparse JSON form {"<bucket>": count, ...}; new reference. */
json_t *pyab_hist_to_json(const pyab_hist *h);
/* Adds a sparse JSON form into h; 0, or -EINVAL for a malformed object. */
int pyab_hist_add_json(pyab_hist *h, const json_t *j);

#endif
