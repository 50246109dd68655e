/*
 * stats: the numeric pieces the verdict engine (analyze) is built from.
 *
 * Pure functions on arrays of doubles: quantiles, least squares, the
 * Theil–Sen slope with a confidence interval that allows for the
 * autocorrelation of memory curves, a seeded bootstrap and an exact rank
 * test for the handful of per-rep values an experiment produces, and three
 * shape detectors (period, single step, where a curve settles). Nothing
 * here knows about files, arms or JSON; every seeded procedure repeats
 * exactly, so a re-analysis of the same folder gives the same numbers.
 *
 * Inputs are borrowed and never modified; functions that need scratch
 * space allocate it. NaN means "no value" (too few points, n = 0).
 */
#ifndef PYAB_STATS_H
#define PYAB_STATS_H

#include <stddef.h>
#include <stdint.h>

double pyab_stats_mean(const double *x, size_t n);
/* Sample standard deviation (n - 1 in the denominator); NaN when n < 2. */
double pyab_stats_sd(const double *x, size_t n);
/* Quantile q in [0, 1], linear between order statistics (Hyndman–Fan type 7). */
double pyab_stats_quantile(const double *x, size_t n, double q);
double pyab_stats_median(const double *x, size_t n);

/* Standard normal quantile, and Student's t quantile with df degrees of freedom. */
double pyab_stats_z_quantile(double p);
double pyab_stats_t_quantile(double p, double df);

/* Autocorrelation of y at lags 0..maxlag into acf[0..maxlag] (acf[0] = 1). */
void pyab_stats_acf(const double *y, size_t n, size_t maxlag, double *acf);

/*
 * A fitted line y = intercept + slope * x. lo/hi bound the slope at the
 * requested confidence; they are -INFINITY/+INFINITY when the points are
 * too few for the interval to be bounded. r1 is the lag-1 autocorrelation
 * of the residuals and n_eff the number of independent points it implies.
 */
typedef struct pyab_fit {
    double slope, intercept;
    double lo, hi;
    double r1, n_eff;
    size_t n;
} pyab_fit;

/* Ordinary least squares with a t interval (independent errors). 0, or -EINVAL when x has no spread. */
int pyab_stats_ols(const double *x, const double *y, size_t n, double conf, pyab_fit *out);

/*
 * Theil–Sen slope: the median of the slopes of all pairs with distinct x
 * (exact up to about 1450 points, a fixed-seed sample of about a million
 * pairs above that). The interval is Sen's, from the null distribution of
 * Kendall's S, with its variance inflated by (1 + r1) / (1 - r1) so that
 * autocorrelated residuals (a memory curve's usual state) widen it instead
 * of producing false confidence. 0, or -EINVAL when fewer than 2 distinct x.
 */
int pyab_stats_theil_sen(const double *x, const double *y, size_t n, double conf, pyab_fit *out);

enum { PYAB_STATS_MEDIAN, PYAB_STATS_MEAN };

/*
 * Percentile bootstrap interval of the median or mean of x, `iters`
 * resamples from a generator seeded with `seed`. 0, or -EINVAL when n = 0.
 */
int pyab_stats_bootstrap(const double *x, size_t n, int stat, size_t iters, uint64_t seed,
                         double conf, double *lo, double *hi);
/* Same, for stat(b) - stat(a) with each group resampled on its own. */
int pyab_stats_bootstrap_diff(const double *a, size_t na, const double *b, size_t nb, int stat,
                              size_t iters, uint64_t seed, double conf, double *lo, double *hi);

/*
 * Mann–Whitney rank test of a against b, two-sided p-value. Exact (every
 * split of the pooled mid-ranks, so ties are handled) while there are at
 * most 200000 splits, the normal approximation with tie correction above.
 * *u receives U for group a when u is not NULL. NaN when a group is empty.
 */
double pyab_stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb, double *u);
/* The smallest two-sided p-value the exact test can reach with these group sizes. */
double pyab_stats_mann_whitney_min_p(size_t na, size_t nb);

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
