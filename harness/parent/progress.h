/*
 * progress: where a long experiment is. On a terminal, one live line
 * (arm, rep, requests done, elapsed and ETA, current RSS and Python heap)
 * rewritten in place; otherwise plain lines every few seconds, for CI
 * logs; nothing with --quiet. Messages (warnings, outcomes) print on
 * their own lines above the live one.
 */
#ifndef PYAB_PROGRESS_H
#define PYAB_PROGRESS_H

#include <stddef.h>

#include "util.h"

typedef struct pyab_progress {
    int quiet;
    int tty;
    int live; /* a live line is on screen */
    double last_print;
    double rep_started;
    size_t run, runs;
    double planned; /* requests the rep will run, 0 if unknown */
} pyab_progress;

void pyab_progress_init(pyab_progress *p, int quiet);
void pyab_progress_start(pyab_progress *p, const char *arm, int rep, size_t run, size_t runs);
void pyab_progress_update(pyab_progress *p, const char *arm, int rep, double requests, double t_s,
                          double rss, double pyheap);
void pyab_progress_done(pyab_progress *p, const char *arm, int rep, const char *outcome,
                        const char *reason);
/* Names the scenario (borrowed; NULL: none) on every rep line from now on. */
void pyab_progress_set_label(const char *name);
void pyab_progress_log(pyab_progress *p, const char *fmt, ...) PYAB_PRINTF(2, 3);

#endif
