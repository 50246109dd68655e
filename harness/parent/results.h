/*
 * results: the parent's side of what a rep measured, and the files that
 * hold it (summary.json, manifest.json, rep.json).
 *
 * The parent keeps each rep's curve as it streams in (a few doubles per
 * sample, not the CSV text), derives the rep's figures when it ends
 * (least-squares slopes after warm-up, GC pause percentiles by
 * generation), aggregates reps into arm figures, and rewrites
 * summary.json atomically after every rep, so an interrupted experiment
 * still leaves a valid summary of everything measured. The robust
 * statistics and verdicts (analyze.h) are layered on top of these files.
 */
#ifndef PYAB_RESULTS_H
#define PYAB_RESULTS_H

#include <jansson.h>
#include <stdio.h>

#include "config.h"
#include "util.h"

enum { PYAB_RESULTS_PHASE_WARMUP, PYAB_RESULTS_PHASE_RUN, PYAB_RESULTS_PHASE_WARMUP_END, PYAB_RESULTS_PHASE_END,
       PYAB_RESULTS_PHASE_QUIESCE };

/* The header line of samples.csv (no newline); the child formats the rows. */
extern const char pyab_results_csv_header[];

/* One rep's curve, as the parent receives it. init/finish: embedded. */
typedef struct pyab_results_series {
    size_t n, cap;
    double *t, *requests, *rss, *pyheap, *native, *native_free;
    unsigned char *phase;
    double *gc_pause[3]; /* pause durations in seconds, by generation */
    size_t ngc[3], gccap[3];
} pyab_results_series;

void pyab_results_series_init(pyab_results_series *s);
void pyab_results_series_finish(pyab_results_series *s);
/* Adds one samples.csv row (no newline); 0, or -EINVAL when it does not parse. */
int pyab_results_series_add_row(pyab_results_series *s, const char *row);
/* Adds one events.jsonl record (borrowed). */
void pyab_results_series_add_event(pyab_results_series *s, const json_t *ev);

/*
 * The rep's derived figures: slopes (least squares over the samples after
 * warm-up) and GC pause figures, merged into rep (borrowed, modified).
 */
void pyab_results_derive(const pyab_results_series *s, json_t *rep);
/* Aggregates an arm's reps (borrowed array of rep objects) into a new arm object. */
json_t *pyab_results_aggregate(json_t *reps);
/* Prints the one-screen summary of summary.json's content. */
void pyab_results_print(FILE *f, const json_t *summary);

#endif
