/*
 * Unit tests of "run until settled" (analysis/settle.c): the look plan and
 * its Bonferroni confidence, and a seeded simulation of reps that replay
 * until every memory metric is decided. The simulated curves go through
 * the real path: CSV text in samples.csv's format, the series parser, the
 * trend, the classes; only the service is simulated.
 *
 * Null curves (flat, white noise, AR(1) noise, a sawtooth with a period, a
 * one-off step, a cache that fills then stops) must not be called growing
 * in more than 1% of reps, and at most 5% may stay undecided at the cap.
 * Leaks of twice the materiality threshold over the planned run must be
 * called growing in at least 95%.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "settle.h"

#define PLANNED 2000.0
#define EVERY 10 /* requests per sample: 200 samples per planned run, as "auto" gives */
#define LEVEL (48.0 * 1048576)

static uint64_t rng = 7;

static double uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(rng >> 11) + 0.5) * 0x1.0p-53;
}

static double gauss(void)
{
    return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

enum { FLAT, NOISY, AR1, SAWTOOTH, STEP, PLATEAU, NKINDS, LEAK = NKINDS };
static const char *const kind_name[] = {"flat", "noisy", "autocorrelated", "sawtooth", "stepped",
                                        "plateau", "leak"};

/* One simulated curve: its value after i requests (state carried in c). */
typedef struct curve {
    int kind;
    double ar, step_at, period, slope;
} curve;

static double value(curve *c, double req)
{
    double v = LEVEL;

    switch (c->kind) {
    case NOISY: v += 200e3 * gauss(); break;
    case AR1: c->ar = 0.97 * c->ar + 60e3 * gauss(); v += c->ar; break;
    case SAWTOOTH: v += 4e6 * fmod(req, c->period) / c->period + 20e3 * gauss(); break;
    case STEP: v += (req >= c->step_at ? 6e6 : 0) + 20e3 * gauss(); break;
    case PLATEAU: v += 5e6 * (1 - exp(-req / 800)) + 20e3 * gauss(); break;
    case LEAK: c->ar = 0.9 * c->ar + 60e3 * gauss(); v += c->slope * req + c->ar; break;
    default: v += 1e3 * gauss(); break;
    }
    return v;
}

/* Appends rows up to `upto` requests; every memory column follows the same curve. */
static void add_rows(pyab_buf *csv, curve *c, double *req, double upto)
{
    for (; *req < upto; *req += EVERY) {
        double v = value(c, *req);
        pyab_buf_addf(csv, "%.3f,%.0f,%.0f,%.0f,%.0f,run\n", *req / 1000, *req, v, v / 2, v / 4);
    }
}

/* One rep until settled: 1 grows, 0 decided without growth, -1 undecided at the cap. */
static int simulate(curve *c)
{
    pyab_settle s;
    pyab_buf csv;
    pyab_error err;
    double req = 0;
    int out = -1;

    pyab_settle_plan(&s, PLANNED, 16 * PLANNED, NULL);
    pyab_buf_init(&csv);
    pyab_buf_adds(&csv, "t_s,requests,rss_bytes,pyheap_bytes,native_other_bytes,phase\n");
    while (!s.decided && s.looks < s.looks_planned) {
        add_rows(&csv, c, &req, s.next + EVERY);
        pyab_series *ser = pyab_series_parse("sim.csv", csv.data, csv.len, &err);
        if (ser == NULL) {
            fprintf(stderr, "sim.csv: %s\n", err.text);
            break;
        }
        pyab_settle_look_series(&s, ser, req - EVERY);
        pyab_series_destroy(ser);
    }
    if (s.decided) {
        out = 0;
        for (int m = 0; m < PYAB_NMETRICS; m++)
            out |= s.cls[m] && strcmp(s.cls[m], "grows") == 0;
    }
    pyab_buf_finish(&csv);
    return out;
}

static void test_plan(void)
{
    pyab_settle s;

    pyab_settle_plan(&s, 1000, 16000, NULL);
    CHECK(s.looks_planned == 5);
    CHECK_NEAR(s.conf, 0.99, 1e-12);
    CHECK_NEAR(s.next, 1000, 0);
    pyab_settle_plan(&s, 1000, 1000, NULL);
    CHECK(s.looks_planned == 1);
    CHECK_NEAR(s.conf, 0.95, 1e-12);
    pyab_settle_plan(&s, 1000, 64000, NULL);
    CHECK(s.looks_planned == 7);
    CHECK_NEAR(pyab_settle_confidence(0.95, 4), 0.9875, 1e-12);
}

static void test_null_curves(void)
{
    enum { PER_KIND = 40 };
    int leak = 0, undecided = 0, total = 0;

    rng = 12345;
    for (int k = 0; k < NKINDS; k++) {
        int kl = 0, ku = 0;
        for (int i = 0; i < PER_KIND; i++) {
            curve c = {.kind = k, .step_at = 300 + 1500 * uniform(), .period = 150 + 300 * uniform()};
            int r = simulate(&c);
            kl += r == 1;
            ku += r == -1;
        }
        printf("settle: %-15s %d of %d called growing, %d undecided at the cap\n", kind_name[k],
               kl, PER_KIND, ku);
        leak += kl;
        undecided += ku;
        total += PER_KIND;
    }
    printf("settle: null curves: %d of %d growing (bound 1%%), %d undecided (bound 5%%)\n", leak,
           total, undecided);
    CHECK(total >= 200);
    CHECK(leak <= total / 100);
    CHECK(undecided <= total * 5 / 100);
}

static void test_leaks_found(void)
{
    enum { RUNS = 60 };
    int found = 0;
    /* The threshold: 3% of the level (above the 1 MiB floor); twice it over the planned run. */
    double slope = 2 * 0.03 * LEVEL / PLANNED;

    rng = 999;
    for (int i = 0; i < RUNS; i++) {
        curve c = {.kind = LEAK, .slope = slope};
        found += simulate(&c) == 1;
    }
    printf("settle: leaks at 2x the threshold (%.0f B/request): %d of %d called growing\n", slope,
           found, RUNS);
    CHECK(found >= RUNS * 95 / 100);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_plan),
    CHECK_TEST(test_null_curves),
    CHECK_TEST(test_leaks_found),
};

int main(int argc, char **argv)
{
    return check_run("settle", tests, CHECK_COUNT(tests), argc, argv);
}
