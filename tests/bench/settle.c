/*
 * Benchmark of "run until settled": the median requests a rep needs to a
 * decided verdict at 256 and 32 B/request, beside the fixed-length test of
 * the same power (the shortest planned run, on a grid of x sqrt(2) steps,
 * whose single look at confidence 0.95 calls the leak as often as the
 * sequential rule did). Prints figures and their ratio; asserts nothing
 * about them (`meson test --benchmark`).
 *
 * The simulated service: a level of 8 MiB (so the 1 MiB floor is the
 * threshold), AR(1) noise, planned runs of 2000 requests, the cap at 128x.
 */
#include <stdlib.h>

#define LEVEL (8.0 * 1048576)
#include "settle_sim.h"

enum { RUNS = 24, GRID = 16 };

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Share of RUNS leaks of `slope` that one look after `n` requests calls growing. */
static double fixed_power(double slope, double n)
{
    int found = 0;

    for (int i = 0; i < RUNS; i++) {
        curve c = {.kind = LEAK, .slope = slope};
        found += simulate_capped(&c, n, n, NULL) == 1;
    }
    return (double)found / RUNS;
}

static void bench(double slope)
{
    double used[RUNS], n = PLANNED, fixed = NAN, power;
    int found = 0;

    rng = 4242;
    for (int i = 0; i < RUNS; i++) {
        curve c = {.kind = LEAK, .slope = slope};
        found += simulate_capped(&c, PLANNED, 128 * PLANNED, &used[i]) == 1;
    }
    qsort(used, RUNS, sizeof(*used), cmp);
    power = (double)found / RUNS;
    for (int k = 0; k < GRID && isnan(fixed); k++, n *= M_SQRT2)
        if (fixed_power(slope, n) >= power)
            fixed = n;
    printf("settle %4.0f B/request: until settled called %d of %d, median %.0f requests; "
           "fixed-length with the same power: %.0f requests; ratio %.2f (target <= 1.5)\n",
           slope, found, RUNS, used[RUNS / 2], fixed, used[RUNS / 2] / fixed);
}

int main(void)
{
    bench(256);
    bench(32);
    return 0;
}
