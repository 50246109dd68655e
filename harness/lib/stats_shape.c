#include "stats_shape.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "util.h"

#define PERIOD_MIN_ACF 0.3
#define PERIOD_NEAR_BEST 0.8
#define PERIOD_MIN_CYCLES 3
/* A settling cut must shift the mean by this many standard deviations of the rest. */
#define SETTLE_MIN_SHIFT 2.0

size_t pyab_stats_period(const double *y, size_t n, double *strength)
{
    size_t maxlag = n / PERIOD_MIN_CYCLES, zero = 0, best = 0, found = 0;
    double *x, *d, *acf;
    double fa, fb;

    if (strength)
        *strength = 0;
    if (n < 4 * PERIOD_MIN_CYCLES)
        return 0;
    x = xmalloc(n * sizeof(*x));
    d = xmalloc(n * sizeof(*d));
    acf = xmalloc((maxlag + 1) * sizeof(*acf));
    for (size_t i = 0; i < n; i++)
        x[i] = (double)i;
    if (pyab_stats_line(x, y, n, &fa, &fb) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        d[i] = y[i] - fa - fb * x[i];
    pyab_stats_acf(d, n, maxlag, acf);
    /* Lags before the first zero crossing only say that neighbours are alike. */
    for (size_t k = 1; k <= maxlag && !zero; k++)
        if (acf[k] <= 0)
            zero = k;
    if (!zero)
        goto out;
    for (size_t k = zero + 1; k < maxlag; k++)
        if (acf[k] >= acf[k - 1] && acf[k] >= acf[k + 1] && (!best || acf[k] > acf[best]))
            best = k;
    if (!best || acf[best] < PERIOD_MIN_ACF)
        goto out;
    /* The first peak nearly as high as the best: the best may be a multiple of it. */
    for (size_t k = zero + 1; k <= best && !found; k++)
        if (acf[k] >= acf[k - 1] && acf[k] >= acf[k + 1] &&
            acf[k] >= PERIOD_NEAR_BEST * acf[best])
            found = k;
    if (strength)
        *strength = acf[found];
out:
    free(acf);
    free(d);
    free(x);
    return found;
}

int pyab_stats_step(const double *x, const double *y, size_t n, size_t min_seg, pyab_step *out)
{
    double sum = 0, sum2 = 0, ls = 0, ls2 = 0, best_sse = INFINITY, lin_sse = 0;
    double fa, fb;

    memset(out, 0, sizeof(*out));
    if (min_seg == 0)
        min_seg = 1;
    if (n < 2 * min_seg || pyab_stats_line(x, y, n, &fa, &fb) < 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        double e = y[i] - fa - fb * x[i];
        lin_sse += e * e;
        sum += y[i];
        sum2 += y[i] * y[i];
    }
    /* Prefix sums make every split O(1): SSE = sum of squares - sum^2 / count. */
    for (size_t k = 0; k + min_seg <= n; k++) {
        if (k >= min_seg) {
            double rs = sum - ls, rs2 = sum2 - ls2;
            double sse = ls2 - ls * ls / (double)k + rs2 - rs * rs / (double)(n - k);
            if (sse < best_sse) {
                best_sse = sse;
                out->at = k;
                out->before = ls / (double)k;
                out->after = rs / (double)(n - k);
            }
        }
        ls += y[k];
        ls2 += y[k] * y[k];
    }
    out->delta = out->after - out->before;
    out->sse_ratio = lin_sse > 0 ? (best_sse < 0 ? 0 : best_sse) / lin_sse : 1;
    return 0;
}

size_t pyab_stats_settle(const double *x, const double *y, size_t n)
{
    size_t half = n / 2, nb = n / 5, best = 0;
    double *batch, best_score = INFINITY, center, s1 = 0, s2 = 0;
    pyab_fit f;

    if (n < 20 || pyab_stats_theil_sen(x + half, y + half, n - half, 0.95, &f) < 0)
        return 0;
    batch = xmalloc(nb * sizeof(*batch));
    for (size_t b = 0; b < nb; b++) {
        double s = 0;
        for (size_t i = 5 * b; i < 5 * b + 5; i++)
            s += y[i] - f.intercept - f.slope * x[i];
        batch[b] = s / 5;
    }
    center = pyab_stats_mean(batch, nb);
    /* Sums over the kept batches, from the end, make each candidate cut O(1). */
    for (size_t d = nb; d-- > 0;) {
        double k = (double)(nb - d), v = batch[d] - center, score;
        s1 += v;
        s2 += v * v;
        if (d > nb / 2)
            continue;
        score = (s2 - s1 * s1 / k) / (k * k);
        /* Going backwards, "<=" lets ties keep the earlier cut, discarding less. */
        if (score <= best_score) {
            best_score = score;
            best = d;
        }
    }
    /*
     * MSER also "settles" plain autocorrelated noise, discarding good data.
     * Keep the cut only when what it discards stands out of the noise band
     * of what it keeps.
     */
    if (best > 0) {
        double cut = pyab_stats_mean(batch, best), kept = pyab_stats_mean(batch + best, nb - best);
        if (!(fabs(cut - kept) > SETTLE_MIN_SHIFT * pyab_stats_sd(batch + best, nb - best)))
            best = 0;
    }
    free(batch);
    return best * 5;
}

void pyab_stats_resample(const double *x, const double *y, size_t n, double x0, double step,
                         double *out, size_t m)
{
    size_t j = 0;
    for (size_t i = 0; i < m; i++) {
        double t = x0 + (double)i * step;
        while (j + 1 < n && x[j + 1] < t)
            j++;
        if (n == 0)
            out[i] = NAN;
        else if (j + 1 >= n || t <= x[j])
            out[i] = t <= x[0] ? y[0] : y[j];
        else if (x[j + 1] == x[j])
            out[i] = y[j + 1];
        else
            out[i] = y[j] + (y[j + 1] - y[j]) * (t - x[j]) / (x[j + 1] - x[j]);
    }
}
