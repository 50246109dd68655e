/*
 * changes: where a metric's nightly trend moved. Change points by binary
 * segmentation over the history's values, and the label of a metric
 * without one. Pure statistics over arrays; the history store (history.c)
 * calls it when it builds a trend.
 */
#ifndef PYAB_CHANGES_H
#define PYAB_CHANGES_H

#include <jansson.h>
#include <stddef.h>

/*
 * Change points of a series by binary segmentation: the best single step
 * (stats.h) is kept when each side has at least 3 points, the step is
 * larger than 4 pooled within-side standard deviations and larger than
 * `min_effect`; then each side is searched again. Writes up to `max`
 * indices (the first point after each step, ascending) and returns how many.
 */
size_t pyab_changes_find(const double *y, size_t n, double min_effect, size_t *at,
                                  size_t max);

/* Runs a change point needs on each side of it. */
#define PYAB_CHANGES_SIDE_RUNS 3

/*
 * The label of a metric with no change point, from its trend "values"
 * (borrowed; nulls skipped): "too few runs to tell" under 2 *
 * PYAB_CHANGES_SIDE_RUNS measured runs; a note when the newest one or two
 * runs (too few after them for a change point) all moved by more than
 * pyab_regress_min_effect from the median before them; else "steady".
 * A static string.
 */
const char *pyab_changes_no_change_label(const char *metric, json_t *values);

/*
 * Sets m["change_points"] (m borrowed: a trend metric with "values") to
 * the change points of its measured values, each with the run it starts
 * at, the medians before and after, and that run's date and revision from
 * `runs` (borrowed).
 */
void pyab_changes_annotate(json_t *runs, const char *metric, json_t *m);

#endif
