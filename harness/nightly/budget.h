/*
 * budget: the limits a scenario sets on what its service may cost, and the
 * rule that says when a measured arm exceeds one.
 *
 * A scenario's "budgets" object (top level for every arm, arms.<arm>.budgets
 * to override key by key) is validated here when the scenario is parsed, and
 * evaluated by `pyab check` against an analysed summary.json (analyze.h). A
 * budget fails only when the statistics say it is exceeded, never on a point
 * estimate that noise could have pushed over; the rules are written out
 * beside each kind in budget.c and in the README.
 */
#ifndef PYAB_BUDGET_H
#define PYAB_BUDGET_H

#include <jansson.h>

#include "util.h"

/*
 * Checks a budgets object (borrowed): known keys, positive numbers. `path`
 * is its key path ("budgets", "arms.fast.budgets"); messages read
 * `FILE: key "PATH.KEY": ...`. 0, or -EINVAL with err set.
 */
int pyab_budget_validate(json_t *budgets, const char *file, const char *path, pyab_error *err);

/*
 * Evaluates an arm's budgets (borrowed, validated) against its analysed arm
 * object from summary.json (borrowed). New array of check objects, one per
 * budget, in the budgets' order:
 *   {"kind": "budget", "name": KEY, "status": "pass"|"fail"|"error",
 *    "budget": x, "value": x|null, "ci": [lo, hi]|null, "reps": [..],
 *    "rule": "...", "message": "..."}
 * "error" means nothing could be measured (no rep finished ok).
 */
json_t *pyab_budget_evaluate(json_t *budgets, json_t *arm);

/* The per-rep values of a metric over an arm's ok reps (borrowed arm); new array of numbers. */
json_t *pyab_budget_rep_values(json_t *arm, const char *metric);

#endif
