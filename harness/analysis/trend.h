/*
 * trend: measures the trend of one memory metric in one rep.
 *
 * Between series (the rep's samples.csv) and analyze (the verdicts), this
 * module turns one column into the numbers a verdict needs, without judging
 * them: which samples were discarded and why (the warm-up phase, then the
 * automatically detected settling of the curve), whether the workload is
 * periodic (so growth is measured cycle to cycle on per-cycle means, and a
 * sawtooth cancels out), the robust slope per request and per second with
 * confidence intervals, the slope of the second half (is growth sustained?)
 * and the best single step (is it one jump rather than a trend?).
 */
#ifndef PYAB_TREND_H
#define PYAB_TREND_H

#include "series.h"
#include "stats.h"
#include "stats_shape.h"

/* Fewer samples than this after warm-up and the curve is not measured. */
#define PYAB_TREND_MIN_SAMPLES 20
/* A periodic curve needs this many whole cycles to measure growth between them. */
#define PYAB_TREND_MIN_CYCLES 4

typedef struct pyab_trend {
    int ok;               /* 0: too little data; note says why */
    char note[200];

    size_t n_warmup;      /* samples in the "warmup" phase, always discarded */
    size_t n_settle;      /* samples discarded before the curve settled */
    size_t n_used;        /* samples the slopes rest on */
    double settled_at;    /* requests at the first sample used */

    double period;        /* requests per cycle; 0 when not periodic */
    int period_given;     /* 1: from the scenario, 0: detected */
    size_t cycles;        /* whole cycles measured (0: raw samples used) */

    double level;         /* median value of the samples used */
    double span_requests, span_s;
    pyab_fit per_request; /* bytes per request */
    pyab_fit per_second;  /* bytes per second */
    pyab_fit late;        /* bytes per request over the last half */
    double late_span;     /* requests covered by the last half */

    int has_step;         /* a step was searched for (enough points) */
    pyab_step step;
    double step_at;       /* requests at the step */
    double step_seg_growth; /* the larger growth within either side of the step */

    double end_value;     /* the last sample used */
    double quiesce_value; /* the "quiesce" sample, NaN when none */
} pyab_trend;

/*
 * Measures `column` of s (borrowed). period_requests > 0 imposes the
 * workload's period, 0 lets it be detected. 0 with out filled (out->ok may
 * still be 0), or -ENOENT when the column is absent or has no values.
 */
int pyab_trend_measure(const pyab_series *s, const char *column, double period_requests,
                       double conf, pyab_trend *out);

#endif
