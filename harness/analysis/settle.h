/*
 * settle: "run until settled". While a rep replays, the parent looks at its
 * samples at doubling request counts and stops the rep once every memory
 * metric's class is decided (flat, immaterial, step, stopped or grows).
 *
 * Looking more than once inflates false alarms, so each look's intervals
 * are Bonferroni-corrected: with K looks planned (planned x 2^k requests,
 * k = 0..K-1, up to the cap), every interval at every look, and the final
 * analysis of a rep that ran this way, uses confidence 1 - (1 - conf) / K.
 * The chance that any look's interval misses the true slope is then at
 * most 1 - conf, whichever look stops the rep. A rep that reaches the cap
 * undecided is analysed at the cap like any other and is inconclusive
 * there, with the requests it would need.
 */
#ifndef PYAB_SETTLE_H
#define PYAB_SETTLE_H

#include <jansson.h>
#include <stddef.h>

#include "series.h"
#include "verdict.h"

typedef struct pyab_settle {
    double planned, cap;   /* requests: the first look, and the most a rep replays */
    int looks_planned;     /* K */
    int looks;             /* looks taken so far */
    double next;           /* requests at the next look */
    double conf;           /* confidence of each look's intervals */
    int decided;
    pyab_verdict_opts opts;
    double period;
    const char *cls[PYAB_NMETRICS]; /* the last look's class per metric (static strings) */
    char why[600];         /* the last look's summary */
} pyab_settle;

/* Plans the looks of one rep. analysis: the scenario's (borrowed, may be NULL). */
void pyab_settle_plan(pyab_settle *s, double planned, double cap, json_t *analysis);

/* The per-look confidence for K looks at overall confidence conf. */
double pyab_settle_confidence(double conf, int looks_planned);

/*
 * Looks at the samples in `path` (a samples.csv being written) when
 * `requests` has reached the next look. Returns 1 when every memory metric
 * is decided (s->decided is set), 0 otherwise (also when no look was due).
 */
int pyab_settle_look(pyab_settle *s, const char *path, double requests);

/* The same look at a series already read (borrowed). */
int pyab_settle_look_series(pyab_settle *s, const pyab_series *ser, double requests);

/* The rep record's "settle" object. New reference. */
json_t *pyab_settle_json(const pyab_settle *s);

#endif
