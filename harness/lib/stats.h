/*
 * stats: the numeric pieces the verdict engine (analyze) is built from.
 *
 * Pure functions on arrays of doubles: quantiles, least squares, the
 * Theil–Sen slope with a confidence interval that allows for the
 * autocorrelation of memory curves, and a seeded bootstrap and an exact
 * rank test for the handful of per-rep values an experiment produces. The
 * shape detectors built on them (period, single step, where a curve
 * settles) are in stats_shape.h. Nothing here knows about files, arms or
 * JSON; every seeded procedure repeats exactly, so a re-analysis of the
 * same folder gives the same numbers.
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
/* Sorts x in place, ascending (the order every quantile here assumes). */
void pyab_stats_sort(double *x, size_t n);

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
    int widened; /* Theil-Sen: the interval was widened in slope units (see below) */
} pyab_fit;

/*
 * The least-squares line y = *a + *b x, without an interval (for
 * detrending). 0, or -EINVAL when x has no spread (a and b untouched).
 */
int pyab_stats_line(const double *x, const double *y, size_t n, double *a, double *b);

/* Ordinary least squares with a t interval (independent errors). 0, or -EINVAL when x has no spread. */
int pyab_stats_ols(const double *x, const double *y, size_t n, double conf, pyab_fit *out);

/*
 * Theil–Sen slope: the median of the slopes of all pairs with distinct x
 * (exact up to about 1450 points, a fixed-seed sample of about a million
 * pairs above that). The interval is Sen's, from the null distribution of
 * Kendall's S, with its variance inflated by (1 + r1) / (1 - r1) so that
 * autocorrelated residuals (a memory curve's usual state) widen it instead
 * of producing false confidence. When the inflated ranks run past the
 * pairs (strong autocorrelation over few points: the rank interval would
 * be unbounded), the uninflated interval's half-widths are scaled by
 * sqrt(inflation) in slope units instead and `widened` is set: the same
 * normal approximation, finite on any curve with enough points for the
 * uninflated interval. 0, or -EINVAL when fewer than 2 distinct x.
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

#endif
