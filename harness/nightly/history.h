/*
 * history: every `pyab check` appends its figures to a SQLite database
 * (results/history.sqlite unless told otherwise), so a nightly suite can
 * show each metric's trend and say where it stepped.
 *
 * Schema (created on first use):
 *   runs(id, scenario, date_utc, git_revision, pyab_version, results_dir,
 *        verdict)                     one row per checked scenario run
 *   metrics(run_id, arm, metric, value, ci_low, ci_high)
 *                                     one row per arm and metric
 *   VIEW history                      the two joined: scenario, arm, metric,
 *                                     value, ci_low, ci_high, date_utc,
 *                                     git_revision, pyab_version, results_dir
 * The database runs in WAL mode with a busy timeout, and each run is one
 * IMMEDIATE transaction, so concurrent checks (shards on one machine)
 * serialise their writes and lose nothing.
 */
#ifndef PYAB_HISTORY_H
#define PYAB_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

typedef struct pyab_history pyab_history;

/* Opens (creating it and its folder when missing) a history database. New handle or NULL with err set. */
pyab_history *pyab_history_open(const char *path, pyab_error *err);
void pyab_history_close(pyab_history *h);

/*
 * The metrics pyab records for an analysed arm object (borrowed): new
 * object {METRIC: {"value": x, "ci": [lo, hi]|null}}. Slopes carry their
 * pooled 95% interval; per-rep metrics the median of the ok reps and their
 * range.
 */
json_t *pyab_history_arm_metrics(json_t *arm);

/*
 * Why a run cannot be judged, or NULL when it can: its summary (borrowed)
 * has a status other than "complete" (interrupted, failed), or an arm has
 * fewer ok reps than the manifest's (borrowed) "reps". New string naming
 * the arm, the count and the first bad rep's outcome and reason.
 */
char *pyab_history_incomplete(json_t *summary, json_t *manifest);

/*
 * Appends one run: an analysed summary and its manifest (both borrowed),
 * the results folder and the verdict ("pass", "fail", "error", or "run"
 * for `pyab run`). A run whose summary status is not "complete" is
 * recorded as "error" whatever the verdict given, and an "error" run
 * keeps its row (so the history shows the night failed) but no metrics
 * (its partial figures stay out of trends). 0 or a negative errno with
 * err set.
 */
int pyab_history_append(pyab_history *h, json_t *summary, json_t *manifest, const char *dir,
                        const char *verdict, pyab_error *err);

/*
 * The last `last` runs of a scenario, oldest first, as a new object:
 *   {"scenario": s, "runs": [{"id", "date_utc", "git_revision", "results_dir",
 *    "verdict"}], "arms": {ARM: {METRIC: {"values": [x|null per run],
 *    "ci_low": [..], "ci_high": [..], "change_points": [{"run": i,
 *    "before": x, "after": x, "delta": x, "date_utc": s, "git_revision": s}]}}}}
 * NULL with err set on a database error.
 */
json_t *pyab_history_trend(pyab_history *h, const char *scenario, size_t last, pyab_error *err);

/*
 * The newest passing run's results folder for a scenario that still holds
 * its summary.json and manifest.json, ran complete with every rep ok
 * (pyab_history_incomplete), and is not `exclude` (may be NULL): new
 * string, or NULL.
 */
char *pyab_history_baseline(pyab_history *h, const char *scenario, const char *exclude);

/* Copies every run of another history database not already here. 0 or -errno with err set. */
int pyab_history_import(pyab_history *h, const char *other, pyab_error *err);

/*
 * Change points of a series by binary segmentation: the best single step
 * (stats.h) is kept when each side has at least 3 points, the step is
 * larger than 4 pooled within-side standard deviations and larger than
 * `min_effect`; then each side is searched again. Writes up to `max`
 * indices (the first point after each step, ascending) and returns how many.
 */
size_t pyab_history_change_points(const double *y, size_t n, double min_effect, size_t *at,
                                  size_t max);

/* Runs a change point needs on each side of it. */
#define PYAB_HISTORY_SIDE_RUNS 3

/*
 * The label of a metric with no change point, from its trend "values"
 * (borrowed; nulls skipped): "too few runs to tell" under 2 *
 * PYAB_HISTORY_SIDE_RUNS measured runs; a note when the newest one or two
 * runs (too few after them for a change point) all moved by more than
 * pyab_regress_min_effect from the median before them; else "steady".
 * A static string.
 */
const char *pyab_history_no_change_label(const char *metric, json_t *values);

/* JSON output of trends: 15 significant digits, so 0.56 prints as 0.56. */
#define PYAB_HISTORY_JSON_PRECISION JSON_REAL_PRECISION(15)

/* Prints a trend object (borrowed) as one table per arm. */
void pyab_history_print(FILE *f, json_t *trend);

#endif
