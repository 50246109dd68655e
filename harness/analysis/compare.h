/*
 * compare: each arm of an analysed summary against the control arm, on the
 * per-rep figures (slopes, peak RSS, throughput, latency, GC), with Welch's
 * interval and the exact Mann-Whitney p-value. analyze.c calls it last.
 */
#ifndef PYAB_COMPARE_H
#define PYAB_COMPARE_H

#include <jansson.h>
#include <stddef.h>

/*
 * What is compared, where each rep entry of summary.json holds it, and the
 * smallest difference that counts: the larger of min_rel times the control's
 * mean and min_abs (in the figure's unit). A smaller difference is
 * "negligible" whatever its p.
 */
typedef struct pyab_compare_figure {
    const char *name, *path, *unit;
    int slope; /* index into pyab_compare_slope_keys and the arm's "slopes", or -1 */
    double min_rel, min_abs;
} pyab_compare_figure;

extern const pyab_compare_figure pyab_compare_figures[];
extern const size_t pyab_compare_nfigures;
/* The slopes every arm carries, in the order of its "slopes" entries. */
extern const char *const pyab_compare_slope_keys[4];

/*
 * Compares each arm of an analysed summary (borrowed) with `control`:
 * a new array, one object per other arm. conf is the interval's confidence.
 */
json_t *pyab_compare_arms(json_t *summary, const char *control, double conf);

#endif
