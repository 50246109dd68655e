/*
 * where: sampled allocation sites of the Python heap, and what the memory
 * that survives is (types, holders, reference-count leaks).
 *
 * The heap hooks (heap.c) count bytes down; when the count crosses zero the
 * allocation is sampled (a Poisson process over bytes with mean
 * where.sample_bytes, as Go's and tcmalloc's heap profiles do) and where.c
 * records its pointer, size, the request clock and the Python stack: code
 * objects and instruction offsets of at most PYAB_WHERE_DEPTH frames, read
 * from the thread's frame chain without building frame objects or
 * allocating. Lines, files and types are resolved at the end of the rep,
 * off the hot path.
 *
 * A sampled allocation of s bytes stands for s / (1 - exp(-s/R)) bytes
 * (its unbiased weight); per-site sums of weights estimate the bytes made
 * at that site that are still live. The report counts only allocations
 * made after warm-up and still live at the survival point, split into the
 * first and second half of the post-warm-up requests (growing or bounded).
 *
 * Everything here runs with the GIL held: the hooks are called with it,
 * the rest takes it.
 */
#ifndef PYAB_WHERE_H
#define PYAB_WHERE_H

#include <Python.h>
#include <jansson.h>
#include <stdint.h>

#include "config.h"

#define PYAB_WHERE_DEPTH 32

/* Bytes until the next sample: heap.c's hooks subtract each allocation's
 * size and call pyab_where_take when it goes below zero. INT64_MAX while
 * sampling is off (before warm-up ends, in exact mode, or when disabled). */
extern int64_t pyab_where_left;
/* Sampled blocks now live: frees probe the sample table only when nonzero. */
extern size_t pyab_where_nlive;

/* The hooks' side: block p of n bytes was sampled; p is being freed. */
void pyab_where_take(void *p, size_t n);
void pyab_where_forget(void *p);

/* One frame of a captured stack. */
typedef struct pyab_pyframe {
    PyCodeObject *code; /* borrowed: valid while the frame is on the stack */
    int lasti;          /* instruction offset in code units */
} pyab_pyframe;

/*
 * The Python stack of the thread that holds the GIL, innermost first, at
 * most max frames; the number written. Allocates nothing and takes no
 * lock: safe inside an allocator hook of the MEM/OBJ domains, which run
 * with the GIL. Not for code running without the GIL (native.c reads its
 * own thread's frames for that). 0 when no Python code runs.
 */
int pyab_where_pystack(pyab_pyframe *out, int max);
/* The line of a captured frame (PyCode_Addr2Line). */
int pyab_where_frame_line(const pyab_pyframe *f);
/* sizeof(PyGC_Head), internal to CPython: the header before a GC object. */
size_t pyab_where_gc_head_size(void);

/* Reads cfg's where.* settings; call once, before the replay starts. */
void pyab_where_init(const pyab_config *cfg, uint64_t (*clock)(void *), void *clock_data);
/* Warm-up is over: start sampling (GIL held). */
void pyab_where_warm(void);
/*
 * The rep's "where" report, as sent to the parent (PYAB_MSG_WHERE): GIL
 * held, at the survival point, after the load. `point` names it ("end" or
 * "quiesce"). New reference, or NULL when sampling is off.
 */
json_t *pyab_where_report(const char *point);
/* "sampled", "exact" or "off", as the arm runs it. */
const char *pyab_where_mode(void);

#endif
