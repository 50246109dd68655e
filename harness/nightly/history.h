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



/* JSON output of trends: 15 significant digits, so 0.56 prints as 0.56. */
#define PYAB_HISTORY_JSON_PRECISION JSON_REAL_PRECISION(15)

#endif
