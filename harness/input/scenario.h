/*
 * scenario: reads a scenario file (JSON) into validated settings.
 *
 * A scenario names the service (app), the trace, the load model, workers,
 * warm-up, sampling, and per-arm overrides (GC and allocator knobs, env,
 * mocks). This module reads the file, checks the top-level keys (name,
 * reps, order, analysis, budgets, ablate), and makes each arm's
 * "effective" JSON object (the base merged with the arm's overrides),
 * which config.h parses into one pyab_config per arm, making every path
 * absolute; the child reads that object back through the same parser, so
 * both sides agree on one definition.
 *
 * Every error names the file and the key path ("load.speed"); syntax errors
 * name line and column.
 */
#ifndef PYAB_SCENARIO_H
#define PYAB_SCENARIO_H

#include <jansson.h>

#include "config.h"
#include "util.h"

typedef struct pyab_scenario {
    char *path; /* absolute */
    char *dir;  /* folder of the scenario file */
    char *name;
    json_t *root;
    pyab_config *arms;
    size_t narms;
    long reps;
    int shuffle;     /* order: "interleaved" (0) or "shuffled" (1) */
    json_t *analysis; /* borrowed from root, may be NULL */
    json_t *budgets;
    json_t *ablate;
} pyab_scenario;

/* Loads and validates a scenario file. New scenario, or NULL with err set. */
pyab_scenario *pyab_scenario_load(const char *path, pyab_error *err);
/*
 * Same, from a JSON object already parsed (borrowed); `path` names it in
 * messages and its folder anchors relative paths.
 */
pyab_scenario *pyab_scenario_from_json(const char *path, json_t *root, pyab_error *err);
/*
 * pyab_scenario_load with `until_settled` set: "load.until" becomes
 * "settled" at the top level (arms that set their own "until" keep it).
 */
pyab_scenario *pyab_scenario_load_settled(const char *path, int until_settled, pyab_error *err);
void pyab_scenario_destroy(pyab_scenario *sc);

#endif
