/*
 * regress: is an arm significantly worse than the same arm in a baseline
 * results folder (an earlier run of the same scenario)?
 *
 * Used by `pyab check --baseline`. Each metric (memory slopes, peak RSS,
 * GC pause p99, throughput) is compared over the ok reps of both runs. A
 * regression needs both a difference the reps cannot explain as noise and
 * a difference large enough to matter; either alone passes. The rules and
 * their constants are beside `metrics` in regress.c and in the README.
 */
#ifndef PYAB_REGRESS_H
#define PYAB_REGRESS_H

#include <jansson.h>

/*
 * Compares an analysed arm object (borrowed) with the baseline's arm of the
 * same name (borrowed). New array of check objects, one per metric:
 *   {"kind": "regression", "name": METRIC, "metric": METRIC,
 *    "status": "pass"|"fail"|"skip", "value": x, "baseline": x,
 *    "delta": x, "min_effect": x, "ci": [lo, hi]|null, "p": x|null,
 *    "rule": "...", "message": "..."}
 * "skip" when either side has no ok rep measuring the metric.
 */
json_t *pyab_regress_arm(json_t *arm, json_t *base_arm);

/*
 * The smallest change of a metric that counts as material, given its
 * baseline level (also used for history's change points). Unknown
 * metrics: 10% of the baseline.
 */
double pyab_regress_min_effect(const char *metric, double baseline);

/*
 * The folder that `--baseline DIR` names for a scenario: DIR itself when its
 * summary.json is of that scenario, else DIR/<scenario> (a check's folder).
 * It must hold a complete run with every rep ok (history.h's
 * pyab_history_incomplete), as a baseline from the history must. New
 * string, or NULL with *why (new) saying what DIR holds instead: an
 * explicit baseline that does not match is the user's mistake, never a
 * silent skip of the regression test.
 */
char *pyab_regress_baseline_dir(const char *dir, const char *scenario, char **why);

#endif
