/*
 * natsample: the native allocation sampler that lives in pyab-native.so,
 * the library the parent puts first in the child's LD_PRELOAD when an arm
 * sets where.native. interpose.c replaces malloc and its family (and
 * anonymous mmap/munmap) and forwards every call to the next allocator
 * (glibc, or the arm's jemalloc/tcmalloc/mimalloc); one allocation in
 * about every sample_bytes bytes (exponential intervals, per thread) is
 * recorded with a short native stack and the calling thread's Python
 * frames, until it is freed.
 *
 * The library includes nothing of pyab and does not link libpython: the
 * child finds `pyab_natsample` with dlsym at start-up (absent when the
 * library is not preloaded, and then nothing is sampled), hands it a
 * function that reads the calling thread's Python frames and the replay's
 * counter of dispatched requests, and reads the live samples at the end
 * (child/native.c symbolises and aggregates them). An arm without the
 * library pays nothing.
 *
 * Nothing on the sampling path allocates, looks up a symbol or takes a
 * lock other than the sampler's own; the tables (sampletab.c) are bounded,
 * their records reserved at start and their indexes grown from inside the
 * sampler with mmap, and samples beyond them are counted as dropped.
 */
#ifndef PYAB_NATSAMPLE_H
#define PYAB_NATSAMPLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PYAB_NATSAMPLE_VERSION 3
/* Native frames kept per sample (after the sampler's own). */
#define PYAB_NATSAMPLE_FRAMES 16
/* Python frames kept per sample, innermost first. */
#define PYAB_NATSAMPLE_PYFRAMES 8
/* Live samples and distinct stacks the tables hold. */
#define PYAB_NATSAMPLE_MAX_LIVE 32768
#define PYAB_NATSAMPLE_MAX_STACKS 8192

/* One Python frame: an index the pystack function chose (its code table) and a line. */
typedef struct pyab_natsample_pyframe {
    uint32_t code;
    int32_t line;
} pyab_natsample_pyframe;

/*
 * Fills `out` with up to `max` Python frames of the calling thread,
 * innermost first; returns how many. Called with the sampler's lock held,
 * from inside an allocation: it must not allocate nor take the GIL.
 */
typedef int (*pyab_natsample_pystack_fn)(pyab_natsample_pyframe *out, int max);

/* A distinct (native stack, Python stack) pair. */
typedef struct pyab_natsample_stack {
    uint64_t hash;
    uint32_t npc, npy;
    uintptr_t pc[PYAB_NATSAMPLE_FRAMES];
    pyab_natsample_pyframe py[PYAB_NATSAMPLE_PYFRAMES];
} pyab_natsample_stack;

enum { PYAB_NATSAMPLE_MALLOC = 0, PYAB_NATSAMPLE_MMAP = 1 };

/* A sampled allocation that is still live. */
typedef struct pyab_natsample_live {
    uintptr_t addr;
    uint64_t size;
    uint64_t dispatched; /* the replay's dispatched-request count when it was made */
    uint32_t stack;      /* index into the stack table */
    uint32_t kind;       /* PYAB_NATSAMPLE_MALLOC or _MMAP */
} pyab_natsample_live;

typedef struct pyab_natsample_stats {
    uint64_t taken;    /* samples recorded */
    uint64_t freed;    /* of those, freed again */
    uint64_t dropped;  /* not recorded: a table was full */
    uint64_t live;     /* recorded and not freed */
    uint64_t table_bytes; /* what the tables map (reserved; touched as used) */
    uint64_t table_resident_bytes; /* of that, the pages in memory */
    const char *unwinder; /* "pyab", "libunwind", "libgcc" or "backtrace"; NULL before start */
} pyab_natsample_stats;

typedef struct pyab_natsample_api {
    int version; /* PYAB_NATSAMPLE_VERSION */
    /*
     * Starts sampling: a sample every `mean_bytes` on average, each
     * stamped with *dispatched (may be NULL) and the frames `pystack`
     * gives (may be NULL). A native stack ends at its first frame in the
     * object holding `interpreter` (any address in libpython; NULL: no
     * end but PYAB_NATSAMPLE_FRAMES): what lies above is the Python
     * interpreter, which the Python frames describe. 0 or -errno (tables
     * could not be mapped).
     */
    int (*start)(double mean_bytes, const _Atomic uint64_t *dispatched,
                 pyab_natsample_pystack_fn pystack, const void *interpreter);
    /* Stops taking samples; frees are still tracked. */
    void (*stop)(void);
    /*
     * Calls fn for every live sample with its stack (borrowed), under the
     * sampler's lock: fn must not free sampled memory.
     */
    void (*foreach)(void (*fn)(void *, const pyab_natsample_live *, const pyab_natsample_stack *),
                    void *data);
    void (*stats)(pyab_natsample_stats *out);
    /*
     * The start of the function a return address of a stack lies in, from
     * its object's unwind table; 0 when unknown. Not for a hook: it reads
     * the tables each time.
     */
    uintptr_t (*function_start)(uintptr_t return_address);
} pyab_natsample_api;

/* The name the child looks up with dlsym(RTLD_DEFAULT, ...). */
#define PYAB_NATSAMPLE_SYMBOL "pyab_natsample"

/*
 * Between interpose.c and natsample.c only (hidden in the library).
 * pyab__natsample_take records the allocation p of n bytes that crossed
 * the calling thread's countdown (p may be NULL: nothing recorded) and
 * returns the next countdown in bytes. pyab__natsample_forget drops the
 * sample of a block about to be freed; pyab__natsample_unmap those of
 * mappings inside [addr, addr + len).
 *
 * pyab__natsample_filter is a table of counters by pointer hash, zero
 * where no live sample can be: a free that finds zero there is not a
 * sampled block (two loads, no lock). It is sized to the live samples
 * (32 counters each, 4 KiB at least), so a small process pays a few
 * pages and a free still finds a counter set only ~3% of the time; when
 * the samples outgrow it, a table twice the size is filled and published.
 * A thread still reading the old one sees every sample made before the
 * switch (the old table is kept, never unmapped), and a sample made
 * after it can only be freed by a thread that got its pointer after it
 * was made, hence after the switch.
 */
typedef struct pyab__natsample_filter_t {
    uint32_t shift; /* 32 - log2(counters) */
    _Atomic uint8_t count[];
} pyab__natsample_filter_t;
extern _Atomic(pyab__natsample_filter_t *) pyab__natsample_filter;
extern _Atomic uint32_t pyab__natsample_mmaps;

static inline uint32_t pyab__natsample_hash(uintptr_t p)
{
    return (uint32_t)(((uint64_t)(p >> 4) * 0x9E3779B97F4A7C15ull) >> 32);
}

static inline int pyab__natsample_maybe(const void *p)
{
    pyab__natsample_filter_t *f = atomic_load_explicit(&pyab__natsample_filter,
                                                       memory_order_acquire);

    return f && atomic_load_explicit(&f->count[pyab__natsample_hash((uintptr_t)p) >> f->shift],
                                     memory_order_relaxed) != 0;
}

int64_t pyab__natsample_take(void *p, uint64_t n, int kind);
void pyab__natsample_forget(const void *p);
void pyab__natsample_unmap(const void *addr, size_t len);

#endif
