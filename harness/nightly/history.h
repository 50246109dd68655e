/*
 * history: every `pyab check` and `pyab run` appends its figures to a
 * history database, so a nightly suite can show each metric's trend and
 * say where it stepped, and a check can find its baseline.
 *
 * The database is a SQLite file (results/history.sqlite unless told
 * otherwise; history_sqlite.c) or, for many machines sharing one history,
 * a PostgreSQL server named by a URL, postgresql://user@host:port/db
 * (history_pg.c). Both hold the same schema (history_store.h): runs, one
 * row per run; metrics, one row per arm and metric; the view history, the
 * two joined. Each run is written in one transaction, so concurrent
 * writers lose nothing and readers never see half a run.
 */
#ifndef PYAB_HISTORY_H
#define PYAB_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

typedef struct pyab_history pyab_history;

/*
 * Opens a history: a file path (SQLite; the file and its folder are
 * created when missing) or a postgresql:// (or postgres://) URL, whose
 * credentials come from the URL, the environment or ~/.pgpass as libpq
 * reads them. Any other scheme is refused, never taken for a path. The
 * schema is created or migrated to this pyab's version; a newer one is
 * refused. New handle, or NULL with err set (exit 2 for a target that
 * cannot be used).
 */
pyab_history *pyab_history_open(const char *target, pyab_error *err);
void pyab_history_close(pyab_history *h);

/*
 * Whether this history may take runs (a PostgreSQL role may only read):
 * what appends calls it when it opens, so a run cannot end unrecorded.
 * 0, or a negative errno with err set (exit 2).
 */
int pyab_history_writable(pyab_history *h, pyab_error *err);

/* Whether a --history target is a URL (scheme://...) rather than a path. */
int pyab_history_is_url(const char *target);

/* $PYAB_HISTORY when set and not empty, else `fallback` (borrowed either way). */
const char *pyab_history_default(const char *fallback);

/* A target as messages and files may show it: a URL's password is "***". New string. */
char *pyab_history_shown(const char *target);

/* The open history's target as shown (pyab_history_shown); borrowed. */
const char *pyab_history_name(pyab_history *h);


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
 * The newest `last` runs (0: all) of a scenario (NULL: all), oldest first,
 * as history_store.h's run records with their "id" and "metrics". New
 * array, or NULL with err set.
 */
json_t *pyab_history_runs(pyab_history *h, const char *scenario, size_t last, pyab_error *err);

/*
 * The newest passing run's results folder for a scenario that ran complete
 * with every rep ok (pyab_history_incomplete) and is not `exclude` (may be
 * NULL): its folder when this machine holds its summary.json and
 * manifest.json, else, when `cache` is given, the copies of them the
 * history keeps (another machine's run), written into `cache`, which is
 * then returned. New string, or NULL.
 */
char *pyab_history_baseline(pyab_history *h, const char *scenario, const char *exclude,
                            const char *cache);

/*
 * Copies, in one transaction, every run of another history (a path or a
 * URL) not already here (same scenario, date_utc and results_dir). 0 or
 * -errno with err set.
 */
int pyab_history_import(pyab_history *h, const char *other, pyab_error *err);



/* JSON output of trends: 15 significant digits, so 0.56 prints as 0.56. */
#define PYAB_HISTORY_JSON_PRECISION JSON_REAL_PRECISION(15)

#endif
