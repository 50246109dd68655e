/*
 * sample: one row of samples.csv, taken in O(1) (or O(malloc arenas)).
 *
 * RSS comes from /proc/self/statm through a descriptor kept open (one
 * pread, no path lookup); the Python heap and pymalloc arenas from the
 * allocator-hook counters (heap.h); native in-use and free bytes from
 * glibc's mallinfo2(), or from jemalloc's or tcmalloc's own statistics
 * when one of them is preloaded; GC counts and pauses from gcwatch.h; requests,
 * errors and the latency window from the replayer. Nothing here walks the
 * Python heap: the expensive views (type census, tracemalloc) are opt-in
 * elsewhere and labelled as such.
 */
#ifndef PYAB_SAMPLE_H
#define PYAB_SAMPLE_H

#include <stdint.h>

#include "util.h"

typedef struct pyab_sample {
    double t_s;
    uint64_t requests;
    int64_t rss_bytes;
    int64_t pyheap_bytes;
    int64_t pymalloc_arena_bytes;
    int64_t native_heap_bytes;
    int64_t native_free_bytes;
    long gc_count[3];
    uint64_t gc_collections;
    double gc_pause_s;
    uint64_t errors;
    double latency_p50_ms; /* NAN when no request finished in the window */
    double latency_p99_ms;
    const char *phase; /* warmup | run | warmup_end | end | quiesce */
    int64_t native_other_bytes;  /* native_heap_bytes less Python's malloc'd blocks */
    int64_t pyheap_malloc_bytes; /* Python heap bytes in blocks malloc serves */
    int64_t refcount_total;      /* sys.gettotalrefcount() of a debug build; -1 otherwise */
} pyab_sample;

/* Opens /proc/self/statm once; 0 or -errno. */
int pyab_sample_open(void);
/* Which allocator the native_* columns come from (for the manifest). */
const char *pyab_sample_native_source(void);
/*
 * Fills the memory and GC fields of s. With `gil` set, the caller holds the
 * GIL and gc.get_count() is read too; otherwise gc_count stays 0.
 */
void pyab_sample_memory(pyab_sample *s, int gil);
/* Appends s as one CSV row with a newline. */
void pyab_sample_format(const pyab_sample *s, pyab_buf *out);

#endif
