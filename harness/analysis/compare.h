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
    /*
     * The arm's own figure of the same name, at this path of the arm's
     * summary entry, or NULL. Latency p99 has one per arm: the quantile of
     * the ok reps' merged histogram (what the run table and the report
     * show). The comparison tests the mean of the reps' p99s, a different
     * number, so the arms' own figures are written beside it
     * ("control_pooled", "arm_pooled") and both are labelled.
     */
    const char *arm_path;
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

/*
 * A run whose parent was killed (SIGKILL, a power cut) leaves summary.json
 * at "status": "running" for good. When summary (borrowed, DIR's) says
 * "running", no process holds a file of DIR open and nothing in DIR was
 * written for PYAB_COMPARE_QUIET_S seconds, the run was cut off: status
 * becomes "cut-off" and "status_note" says why (the reps that finished are
 * whole; a rep that was running left only its .part files). Returns 1 when
 * it marked the summary, else 0 (a live run, or another status).
 */
enum { PYAB_COMPARE_QUIET_S = 10 };
int pyab_compare_mark_cut_off(const char *dir, json_t *summary);

#endif
