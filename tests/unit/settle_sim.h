/*
 * settle_sim: simulated reps for "run until settled" (analysis/settle.c),
 * shared by its unit test and its benchmark. A curve's samples are written
 * as samples.csv text and go through the real parser, trend and classes;
 * only the service is simulated. Include once per program.
 */
#ifndef PYAB_TEST_SETTLE_SIM_H
#define PYAB_TEST_SETTLE_SIM_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "settle.h"

#define PLANNED 2000.0
#define EVERY 10 /* requests per sample: 200 samples per planned run (auto gives up to 1000) */
#ifndef LEVEL
#define LEVEL (48.0 * 1048576)
#endif

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
static int simulate_capped(curve *c, double planned, double cap, double *used)
{
    pyab_settle s;
    pyab_buf csv;
    pyab_error err;
    double req = 0;
    int out = -1;

    pyab_settle_plan(&s, planned, cap, NULL);
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
    if (used)
        *used = req - EVERY;
    pyab_buf_finish(&csv);
    return out;
}



#endif
