/*
 * verdict: the decision rules of the analysis, in one place.
 *
 * analyze.c measures every memory metric of every ok rep with trend.c and
 * hands the measurements here. This module classifies each rep's metric,
 * pools the reps of an arm, and writes the arm's slopes, verdict ("leak",
 * "no-leak", "inconclusive"), attribution and evidence into its JSON. The
 * rules and their thresholds are documented in verdict.c, next to the
 * named constants.
 */
#ifndef PYAB_VERDICT_H
#define PYAB_VERDICT_H

#include <jansson.h>
#include <stddef.h>

#include "trend.h"

/* The memory metrics, as summary.json names them, and their samples.csv columns. */
enum { PYAB_METRIC_RSS, PYAB_METRIC_PYHEAP, PYAB_METRIC_NATIVE, PYAB_METRIC_NATIVE_FREE,
       PYAB_NMETRICS };
extern const char *const pyab_verdict_metric_key[PYAB_NMETRICS];
extern const char *const pyab_verdict_metric_column[PYAB_NMETRICS];
/* The column read when the first is absent (older folders), or NULL. */
extern const char *const pyab_verdict_metric_fallback[PYAB_NMETRICS];

#define PYAB_VERDICT_CONFIDENCE 0.95
#define PYAB_VERDICT_MATERIAL_REL 0.03
#define PYAB_VERDICT_MATERIAL_ABS_MB 1.0
#define PYAB_MIB 1048576.0

typedef struct pyab_verdict_opts {
    double conf; /* confidence of every interval */
    double rel;  /* material growth: this fraction of the level ... */
    double abs;  /* ... and at least this many bytes */
} pyab_verdict_opts;

/* One ok rep's measurements. available[m] is 0 when the column was not recorded. */
typedef struct pyab_verdict_rep {
    int number;
    int available[PYAB_NMETRICS];
    pyab_trend tr[PYAB_NMETRICS];
    int cls[PYAB_NMETRICS];      /* set by pyab_verdict_rep_json */
    char why[PYAB_NMETRICS][300];
    int capped;  /* ran until settled and stopped at its cap undecided */
    double cap;  /* the requests it did then */
} pyab_verdict_rep;

/* Classifies each metric of r and returns the rep's "slopes" object (new). */
json_t *pyab_verdict_rep_json(pyab_verdict_rep *r, const pyab_verdict_opts *o);

/*
 * Decides an arm from its ok reps (borrowed, classified by
 * pyab_verdict_rep_json) and sets "slopes", "verdict", "attribution" and
 * "evidence" in arm (borrowed). skipped (stolen) lists the reps not analysed.
 */
void pyab_verdict_arm(json_t *arm, const pyab_verdict_rep *reps, size_t n, json_t *skipped,
                      const pyab_verdict_opts *o);

/* The rules in one paragraph, for summary.json's "analysis" object. */
extern const char pyab_verdict_rule[];

/*
 * Classifies one rep's trend as pyab_verdict_rep_json does and says whether
 * the class is decided (flat, immaterial, step, stopped, grows) rather than
 * open (too little data, uncertain, slowing, under the floor). *cls is the
 * class's name (static); why gets the reason.
 */
int pyab_verdict_decided(const pyab_trend *t, const pyab_verdict_opts *o, const char **cls,
                         char *why, size_t len);

#endif
