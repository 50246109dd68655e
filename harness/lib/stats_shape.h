/*
 * stats_shape: what a memory curve looks like, for the verdicts (trend,
 * history). Part of stats (and named pyab_stats_ like it), built on its
 * least squares, Theil–Sen and autocorrelation: a period (a sawtooth of
 * caches or GC cycles), a single step (one-off growth), where a curve
 * settles after warm-up, and resampling onto an even grid.
 *
 * Inputs are borrowed and never modified.
 */
#ifndef PYAB_STATS_SHAPE_H
#define PYAB_STATS_SHAPE_H

#include <stddef.h>

/*
 * Period of an evenly spaced series in samples, or 0 when there is none:
 * the series is detrended (least squares), and the period is the first
 * autocorrelation peak after the first zero crossing that reaches at least
 * 0.3 and 80% of the highest peak, with at least 3 periods in the series.
 * *strength (optional) receives that peak's autocorrelation.
 */
size_t pyab_stats_period(const double *y, size_t n, double *strength);

/*
 * The best single change in level: y[0..at) and y[at..n) each replaced by
 * their mean, `at` chosen to minimise the squared error with at least
 * min_seg points per side. sse_ratio compares that error with a straight
 * line's: well below 1 means a step explains the data better than a trend.
 */
typedef struct pyab_step {
    size_t at;
    double before, after, delta;
    double sse_ratio;
} pyab_step;
int pyab_stats_step(const double *x, const double *y, size_t n, size_t min_seg, pyab_step *out);

/*
 * Where a curve settles, as the number of leading points to discard: the
 * MSER-5 rule (minimise the squared standard error of what is kept, in
 * batches of 5) applied to the residuals from the Theil–Sen line of the
 * last half, so a curve that keeps growing at a steady rate counts as
 * settled once its early transient is over. Never discards more than half,
 * and nothing unless the discarded part's mean stands 2 standard
 * deviations (of the kept batches) away from the rest.
 */
size_t pyab_stats_settle(const double *x, const double *y, size_t n);

/* Linear interpolation of (x, y), x non-decreasing, at x0 + i * step for i < m. */
void pyab_stats_resample(const double *x, const double *y, size_t n, double x0, double step,
                         double *out, size_t m);

#endif
