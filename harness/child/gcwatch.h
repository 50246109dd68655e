/*
 * gcwatch: times every garbage collection in C and applies the GC knobs.
 *
 * A C function (not a Python one) sits in gc.callbacks; on "start" it
 * takes a monotonic timestamp, on "stop" it adds the pause to running
 * totals and appends an event (generation, start, duration, collected,
 * uncollectable) to a ring that the child drains at every sample. The
 * totals are read without the GIL; the ring only with it (its producer,
 * the collector, always holds the GIL too).
 *
 * It also applies an arm's GC settings (enabled, thresholds, freeze,
 * manual collection) and checks at every sample that the service did not
 * change them behind the harness's back.
 */
#ifndef PYAB_GCWATCH_H
#define PYAB_GCWATCH_H

#include <jansson.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

typedef struct pyab_gc_totals {
    uint64_t collections;
    uint64_t pause_ns;
    uint64_t by_gen[3];
} pyab_gc_totals;

typedef struct pyab_gc_event {
    int gen;
    uint64_t start_ns;
    uint64_t duration_ns;
    int64_t collected;
    int64_t uncollectable;
} pyab_gc_event;

/* Imports gc and, with `timer`, registers the pause timer. GIL held. */
int pyab_gcwatch_install(int timer, pyab_error *err);
/* Running totals; no GIL needed. */
void pyab_gcwatch_totals(pyab_gc_totals *out);
/* Moves up to max events out of the ring. GIL held. Returns the count. */
size_t pyab_gcwatch_drain(pyab_gc_event *out, size_t max);
/* Events lost because the ring was full between two drains. */
uint64_t pyab_gcwatch_dropped(void);

/* Applies cfg's gc.enabled and gc.threshold. GIL held. */
int pyab_gcwatch_apply(const pyab_config *cfg, pyab_error *err);
/* gc.collect(); gc.freeze(). GIL held. Returns the freeze count or -1. */
long pyab_gcwatch_freeze(void);
/* gc.collect(generation). GIL held. */
void pyab_gcwatch_collect(int generation);
/* {"enabled", "threshold", "freeze_count"} as the interpreter reports them. New ref; GIL held. */
json_t *pyab_gcwatch_readback(void);
/*
 * Checks that cfg's settings still hold; if the service changed them, puts
 * them back and describes the change in msg (returns 1). GIL held.
 */
int pyab_gcwatch_verify(const pyab_config *cfg, char *msg, size_t size);
/* gc.get_count() into counts[3]. GIL held. */
void pyab_gcwatch_counts(long counts[3]);

#endif
