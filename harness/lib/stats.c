#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

/* Above this many pairs, Theil–Sen samples pairs instead of taking them all. */
#define TS_MAX_PAIRS ((size_t)1 << 20)
/* Fixed seed of that sample, so a re-analysis gives the same slope. */
#define TS_SEED 0x5eed5105e7ULL
/* Residual autocorrelation is clipped here: beyond it the series is a random walk. */
#define R1_MAX 0.95
/* Exact rank test while the number of splits stays below this. */
#define MW_MAX_SPLITS 200000.0

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void pyab_stats_sort(double *x, size_t n)
{
    qsort(x, n, sizeof(*x), cmp_double);
}

double pyab_stats_mean(const double *x, size_t n)
{
    double s = 0;
    if (n == 0)
        return NAN;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

double pyab_stats_sd(const double *x, size_t n)
{
    double m = pyab_stats_mean(x, n), s = 0;
    if (n < 2)
        return NAN;
    for (size_t i = 0; i < n; i++)
        s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (double)(n - 1));
}

static double sorted_quantile(const double *s, size_t n, double q)
{
    double h = q * (double)(n - 1);
    size_t i = (size_t)floor(h);
    if (i + 1 >= n)
        return s[n - 1];
    return s[i] + (h - (double)i) * (s[i + 1] - s[i]);
}

double pyab_stats_quantile(const double *x, size_t n, double q)
{
    double *s, v;
    if (n == 0)
        return NAN;
    s = xmalloc(n * sizeof(*s));
    memcpy(s, x, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_double);
    v = sorted_quantile(s, n, q < 0 ? 0 : q > 1 ? 1 : q);
    free(s);
    return v;
}

double pyab_stats_median(const double *x, size_t n)
{
    return pyab_stats_quantile(x, n, 0.5);
}

double pyab_stats_z_quantile(double p)
{
    double lo = -40, hi = 40;
    if (!(p > 0 && p < 1))
        return p <= 0 ? -INFINITY : INFINITY;
    /* Bisection on the CDF: 100 halvings reach double precision. */
    for (int i = 0; i < 100; i++) {
        double mid = 0.5 * (lo + hi);
        if (0.5 * erfc(-mid / M_SQRT2) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* P(0 < T < t) for Student's t, by Simpson's rule on the density. */
static double t_half_cdf(double t, double df)
{
    const int steps = 400;
    double c = exp(lgamma((df + 1) / 2) - lgamma(df / 2)) / sqrt(df * M_PI);
    double h = t / steps, s = 0;
    for (int i = 0; i <= steps; i++) {
        double u = i * h;
        double f = c * pow(1 + u * u / df, -(df + 1) / 2);
        s += f * (i == 0 || i == steps ? 1 : i % 2 ? 4 : 2);
    }
    return s * h / 3;
}

double pyab_stats_t_quantile(double p, double df)
{
    double target, lo = 0, hi = 1;
    if (!(p > 0 && p < 1) || !(df > 0))
        return NAN;
    if (p < 0.5)
        return -pyab_stats_t_quantile(1 - p, df);
    /* Beyond this the t and normal quantiles agree to four digits. */
    if (df > 1e5)
        return pyab_stats_z_quantile(p);
    target = p - 0.5;
    while (t_half_cdf(hi, df) < target && hi < 1e6)
        hi *= 2;
    for (int i = 0; i < 60; i++) {
        double mid = 0.5 * (lo + hi);
        if (t_half_cdf(mid, df) < target)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

void pyab_stats_acf(const double *y, size_t n, size_t maxlag, double *acf)
{
    double m = pyab_stats_mean(y, n), var = 0;
    for (size_t i = 0; i < n; i++)
        var += (y[i] - m) * (y[i] - m);
    for (size_t k = 0; k <= maxlag; k++) {
        double s = 0;
        for (size_t i = 0; i + k < n; i++)
            s += (y[i] - m) * (y[i + k] - m);
        acf[k] = var > 0 ? s / var : (k == 0);
    }
}

int pyab_stats_line(const double *x, const double *y, size_t n, double *a, double *b)
{
    double mx = pyab_stats_mean(x, n), my = pyab_stats_mean(y, n), sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    if (n < 2 || !(sxx > 0))
        return -EINVAL;
    *b = sxy / sxx;
    *a = my - *b * mx;
    return 0;
}

/* Lag-1 autocorrelation of the residuals from a line, clipped to [0, R1_MAX]. */
static double residual_r1(const double *x, const double *y, size_t n, double a, double b)
{
    double *r, acf[2];
    if (n < 3)
        return 0;
    r = xmalloc(n * sizeof(*r));
    for (size_t i = 0; i < n; i++)
        r[i] = y[i] - (a + b * x[i]);
    pyab_stats_acf(r, n, 1, acf);
    free(r);
    return acf[1] < 0 ? 0 : acf[1] > R1_MAX ? R1_MAX : acf[1];
}

int pyab_stats_ols(const double *x, const double *y, size_t n, double conf, pyab_fit *out)
{
    double mx = pyab_stats_mean(x, n), sxx = 0, sse = 0, se, t;

    memset(out, 0, sizeof(*out));
    out->n = n;
    if (pyab_stats_line(x, y, n, &out->intercept, &out->slope) < 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        sxx += (x[i] - mx) * (x[i] - mx);
    for (size_t i = 0; i < n; i++) {
        double e = y[i] - out->intercept - out->slope * x[i];
        sse += e * e;
    }
    out->r1 = residual_r1(x, y, n, out->intercept, out->slope);
    out->n_eff = (double)n;
    if (n < 3) {
        out->lo = -INFINITY;
        out->hi = INFINITY;
        return 0;
    }
    se = sqrt(sse / (double)(n - 2) / sxx);
    t = pyab_stats_t_quantile(0.5 + conf / 2, (double)(n - 2));
    out->lo = out->slope - t * se;
    out->hi = out->slope + t * se;
    return 0;
}

/* Puts the k-th smallest of v[0..n) at v[k] (Hoare's selection); v holds no NaN. */
static void select_kth(double *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, want = (ptrdiff_t)k;
    while (lo < hi) {
        double pivot = v[lo + (hi - lo) / 2];
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double tmp = v[i];
                v[i++] = v[j];
                v[j--] = tmp;
            }
        }
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            return;
    }
}

/* Slopes of all pairs with distinct x, or of a seeded sample of them. */
static double *pair_slopes(const double *x, const double *y, size_t n, size_t *count)
{
    size_t total = n * (n - 1) / 2, m = 0;
    double *v;

    if (total <= TS_MAX_PAIRS) {
        v = xmalloc((total ? total : 1) * sizeof(*v));
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (x[j] != x[i])
                    v[m++] = (y[j] - y[i]) / (x[j] - x[i]);
    } else {
        uint64_t seed = TS_SEED;
        v = xmalloc(TS_MAX_PAIRS * sizeof(*v));
        for (size_t tries = 0; m < TS_MAX_PAIRS && tries < 4 * TS_MAX_PAIRS; tries++) {
            size_t i = pyab_rng_below(&seed, n), j = pyab_rng_below(&seed, n);
            if (x[j] != x[i])
                v[m++] = (y[j] - y[i]) / (x[j] - x[i]);
        }
    }
    *count = m;
    return v;
}

/* The k-th smallest of v[from..to), which must hold it after earlier selections. */
static double kth(double *v, size_t from, size_t to, size_t k)
{
    select_kth(v + from, to - from, k - from);
    return v[k];
}

/* Largest of v[0..n): after selecting rank n, the rank below it. */
static double max_of(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

int pyab_stats_theil_sen(const double *x, const double *y, size_t n, double conf, pyab_fit *out)
{
    size_t m, mid, klo, khi;
    double *v, *r, infl, var_s, c, total, flo, fhi;

    memset(out, 0, sizeof(*out));
    out->n = n;
    if (n < 2)
        return -EINVAL;
    v = pair_slopes(x, y, n, &m);
    if (m == 0) {
        free(v);
        return -EINVAL;
    }
    /* One selection for the median; the interval's ranks then lie on either side of it. */
    mid = m / 2;
    out->slope = kth(v, 0, m, mid);
    if (m % 2 == 0)
        out->slope = 0.5 * (out->slope + max_of(v, mid));

    /* The intercept: median of y - slope * x, the usual Theil–Sen companion. */
    r = xmalloc(n * sizeof(*r));
    for (size_t i = 0; i < n; i++)
        r[i] = y[i] - out->slope * x[i];
    out->intercept = pyab_stats_median(r, n);
    free(r);

    out->r1 = residual_r1(x, y, n, out->intercept, out->slope);
    infl = (1 + out->r1) / (1 - out->r1);
    out->n_eff = (double)n / infl;
    var_s = (double)n * (double)(n - 1) * (2.0 * (double)n + 5) / 18.0 * infl;
    c = pyab_stats_z_quantile(0.5 + conf / 2) * sqrt(var_s);
    total = (double)n * (double)(n - 1) / 2;
    /* Sen's ranks as fractions of all pairs, so they apply to a sample too. */
    flo = (total - c) / (2 * total);
    fhi = (total + c) / (2 * total);
    klo = flo < 0 ? 0 : (size_t)floor(flo * (double)(m - 1));
    khi = fhi > 1 ? m - 1 : (size_t)ceil(fhi * (double)(m - 1));
    if (flo < 0 || fhi > 1) {
        /* The inflated ranks run out: scale the uninflated interval instead. */
        c /= sqrt(infl);
        flo = (total - c) / (2 * total);
        fhi = (total + c) / (2 * total);
        if (flo >= 0 && fhi <= 1) {
            klo = (size_t)floor(flo * (double)(m - 1));
            khi = (size_t)ceil(fhi * (double)(m - 1));
            double lo0 = klo < mid ? kth(v, 0, mid, klo) : v[mid];
            double hi0 = khi > mid ? kth(v, mid + 1, m, khi) : v[mid];
            out->lo = out->slope - (out->slope - lo0) * sqrt(infl);
            out->hi = out->slope + (hi0 - out->slope) * sqrt(infl);
            out->widened = 1;
            free(v);
            return 0;
        }
    }
    out->lo = flo < 0 ? -INFINITY : klo < mid ? kth(v, 0, mid, klo) : v[mid];
    out->hi = fhi > 1 ? INFINITY : khi > mid ? kth(v, mid + 1, m, khi) : v[mid];
    free(v);
    return 0;
}

static double stat_of(const double *x, size_t n, int stat)
{
    return stat == PYAB_STATS_MEAN ? pyab_stats_mean(x, n) : pyab_stats_median(x, n);
}

static void resample(const double *x, size_t n, double *out, uint64_t *seed)
{
    for (size_t i = 0; i < n; i++)
        out[i] = x[pyab_rng_below(seed, n)];
}

static int bootstrap(const double *a, size_t na, const double *b, size_t nb, int stat,
                     size_t iters, uint64_t seed, double conf, double *lo, double *hi)
{
    double *ra, *rb = NULL, *vals;
    if (na == 0 || iters == 0 || (b != NULL && nb == 0))
        return -EINVAL;
    ra = xmalloc(na * sizeof(*ra));
    if (b)
        rb = xmalloc(nb * sizeof(*rb));
    vals = xmalloc(iters * sizeof(*vals));
    for (size_t k = 0; k < iters; k++) {
        resample(a, na, ra, &seed);
        vals[k] = stat_of(ra, na, stat);
        if (b) {
            resample(b, nb, rb, &seed);
            vals[k] = stat_of(rb, nb, stat) - vals[k];
        }
    }
    qsort(vals, iters, sizeof(*vals), cmp_double);
    *lo = sorted_quantile(vals, iters, (1 - conf) / 2);
    *hi = sorted_quantile(vals, iters, (1 + conf) / 2);
    free(vals);
    free(rb);
    free(ra);
    return 0;
}

int pyab_stats_bootstrap(const double *x, size_t n, int stat, size_t iters, uint64_t seed,
                         double conf, double *lo, double *hi)
{
    return bootstrap(x, n, NULL, 0, stat, iters, seed, conf, lo, hi);
}

int pyab_stats_bootstrap_diff(const double *a, size_t na, const double *b, size_t nb, int stat,
                              size_t iters, uint64_t seed, double conf, double *lo, double *hi)
{
    return bootstrap(a, na, b, nb, stat, iters, seed, conf, lo, hi);
}

static double binomial(size_t n, size_t k)
{
    double r = 1;
    for (size_t i = 1; i <= k; i++)
        r = r * (double)(n - k + i) / (double)i;
    return r;
}

double pyab_stats_mann_whitney_min_p(size_t na, size_t nb)
{
    double p = 2.0 / binomial(na + nb, na);
    return p > 1 ? 1 : p;
}

/* Counts splits whose rank sum is at least as far from its mean as the observed one. */
static void count_splits(const double *rank, size_t n, size_t start, size_t left, double sum,
                         double mean, double dev, double *extreme, double *all)
{
    if (left == 0) {
        *all += 1;
        if (fabs(sum - mean) >= dev - 1e-9)
            *extreme += 1;
        return;
    }
    for (size_t i = start; i + left <= n; i++)
        count_splits(rank, n, i + 1, left - 1, sum + rank[i], mean, dev, extreme, all);
}

/* Mid-ranks of the pooled sample: tied values share the mean of their ranks. */
static double *mid_ranks(const double *a, size_t na, const double *b, size_t nb, double *ties)
{
    size_t n = na + nb, *idx = xmalloc(n * sizeof(*idx));
    double *v = xmalloc(n * sizeof(*v)), *rank = xmalloc(n * sizeof(*rank));

    memcpy(v, a, na * sizeof(*v));
    memcpy(v + na, b, nb * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = 1; i < n; i++) /* insertion sort: groups are small */
        for (size_t j = i; j > 0 && v[idx[j - 1]] > v[idx[j]]; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    *ties = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && v[idx[j + 1]] == v[idx[i]])
            j++;
        for (size_t k = i; k <= j; k++)
            rank[idx[k]] = (double)(i + j) / 2 + 1;
        *ties += pow((double)(j - i + 1), 3) - (double)(j - i + 1);
        i = j + 1;
    }
    free(idx);
    free(v);
    return rank;
}

double pyab_stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb, double *u)
{
    size_t n = na + nb;
    double ties, ra = 0, mean, p;
    double *rank;

    if (na == 0 || nb == 0)
        return NAN;
    rank = mid_ranks(a, na, b, nb, &ties);
    for (size_t i = 0; i < na; i++)
        ra += rank[i];
    mean = (double)na * (double)(n + 1) / 2;
    if (u)
        *u = ra - (double)na * (double)(na + 1) / 2;
    if (binomial(n, na) <= MW_MAX_SPLITS) {
        double extreme = 0, all = 0;
        count_splits(rank, n, 0, na, 0, mean, fabs(ra - mean), &extreme, &all);
        p = extreme / all;
    } else {
        double var = (double)na * (double)nb / 12 *
                     ((double)(n + 1) - ties / ((double)n * (double)(n - 1)));
        double z = var > 0 ? (fabs(ra - mean) - 0.5) / sqrt(var) : 0;
        p = z > 0 ? erfc(z / M_SQRT2) : 1;
    }
    free(rank);
    return p > 1 ? 1 : p;
}
