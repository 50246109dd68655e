/*
 * analyze: the verdict engine. Reads a finished results folder and adds to
 * its summary.json, per arm, the memory slopes, a leak verdict with its
 * attribution and the evidence that decided it, and the comparison of each
 * arm with the control.
 *
 * It runs in the parent after the last rep (and again with `pyab compare`),
 * reading only the folder (layout.md): summary.json for the reps and their
 * outcomes, manifest.json for the scenario's "analysis" options, and each
 * ok rep's samples.csv, whose curves trend.c measures. Comparisons and the
 * terminal tables are in compare.c and table.c. Nothing here touches Python.
 *
 * The decision rules are written out next to their constants in analyze.c;
 * they are built so that a service that does not leak is never called
 * leaking: when the data cannot decide, the verdict is "inconclusive" and
 * says what more data would settle it.
 */
#ifndef PYAB_ANALYZE_H
#define PYAB_ANALYZE_H

#include <jansson.h>
#include <stdio.h>

#include "util.h"
#include "verdict.h"

/*
 * Analyses DIR and returns its summary.json with the analysis added (new
 * reference); writes nothing. NULL with err set (exit code 2 for a bad
 * folder, naming the file) otherwise.
 */
json_t *pyab_analyze_summary(const char *dir, pyab_error *err);

/*
 * Checks a scenario's "analysis" object (borrowed; NULL: absent, fine) as
 * the scenario loader reads it, so that a bad option stops a run before any
 * rep: unknown keys, types and ranges, with messages that name FILE and the
 * key path ("FILE: key \"analysis.confidence\": must be a number above 0.5
 * and below 1 (e.g. 0.95)"). Whether "control" names an arm is the caller's
 * check. 0, or -EINVAL with err set (exit code 2).
 */
int pyab_analyze_validate(json_t *analysis, const char *file, pyab_error *err);

/*
 * The verdict options and period of a scenario's "analysis" object
 * (borrowed, NULL for the defaults), already validated. 0, or -EINVAL.
 */
int pyab_analyze_options(json_t *analysis, pyab_verdict_opts *v, double *period_requests);

/* pyab_analyze_summary, then writes DIR/summary.json atomically. 0 or a negative errno with err set. */
int pyab_analyze_dir(const char *dir, pyab_error *err);

#endif
