/*
 * heap: counts the Python heap in C, from allocator hooks.
 *
 * pyab wraps CPython's PYMEM_DOMAIN_MEM and PYMEM_DOMAIN_OBJ allocators and
 * its arena allocator, and keeps a running total of live bytes, so reading
 * the Python heap is O(1) at any moment instead of an O(heap) walk.
 *
 * What "live bytes" means (mode "blocks", the default): the real size of
 * every block the allocator handed out: the pymalloc size class for small
 * blocks (read from the pool header, after a start-up self-test of the
 * layout) and malloc_usable_size() for the rest. It differs from
 * tracemalloc's requested bytes only by the allocator's rounding (at most
 * 15 bytes per pymalloc block), and costs one table probe per free.
 * Mode "requested" keeps a pointer table of requested sizes instead: exact
 * like tracemalloc, slower; it is also what pymalloc_debug uses. The README
 * gives the measured difference in figures and in cost.
 *
 * The hooks run with the GIL held (the API requires it for these domains),
 * so the counters have a single writer at a time and are read by the
 * sampler with relaxed atomic loads.
 */
#ifndef PYAB_HEAP_H
#define PYAB_HEAP_H

#include <stdint.h>

#include "util.h"

enum { PYAB_HEAP_BLOCKS, PYAB_HEAP_REQUESTED };

typedef struct pyab_heap_stats {
    int64_t live_bytes;  /* MEM + OBJ domains */
    int64_t arena_bytes; /* pymalloc arenas currently mapped */
    int64_t malloc_bytes; /* the part of live_bytes in blocks malloc serves (over 512 B) */
} pyab_heap_stats;

/*
 * Installs the hooks. Call after Py_PreInitialize and before Py_Initialize.
 * `mode` is PYAB_HEAP_BLOCKS or PYAB_HEAP_REQUESTED; blocks mode falls back
 * to requested when the pymalloc layout self-test fails (see mode_name).
 */
int pyab_heap_install(int mode, pyab_error *err);
/*
 * Runs the pymalloc layout self-test where the build needs it after
 * Py_Initialize (3.12+); the GIL held. A no-op on 3.11, whose test ran in
 * pyab_heap_install. On failure the hooks switch to requested mode.
 */
void pyab_heap_selftest(void);
/* When this build runs the layout self-test, for `pyab version`. */
const char *pyab_heap_selftest_when(void);
/* Reads the counters; needs no lock and no GIL. */
void pyab_heap_read(pyab_heap_stats *out);
/* "blocks", "requested", or "requested (pymalloc layout not recognised)". */
const char *pyab_heap_mode_name(void);

#endif
