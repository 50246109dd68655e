#include "heap.h"

#include <Python.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ptrmap.h"
#include "where.h"

/* Offset of `szidx` in CPython's struct pool_header (3.8 to 3.13): four
 * pointers, then `uint arenaindex`, then `uint szidx`. Checked at start. */
#define POOL_SZIDX_OFFSET (4 * sizeof(void *) + sizeof(unsigned int))
#define PYMALLOC_ALIGNMENT_SHIFT 4

/*
 * Since 3.12 pymalloc's state belongs to the interpreter, which only
 * Py_Initialize creates: a PyObject_Malloc before it has no state to use
 * (every 3.13 child died with SIGSEGV in the self-test). There the hooks
 * still go in before Py_Initialize, and the self-test waits for it.
 */
#if PY_VERSION_HEX >= 0x030C0000
#define PYAB_HEAP_SELFTEST_AFTER_INIT 1
#else
#define PYAB_HEAP_SELFTEST_AFTER_INIT 0
#endif

/* Exported by libpython 3.8+ but private: "pymalloc", "malloc", "pymalloc_debug", ... */
extern const char *_PyMem_GetCurrentAllocatorName(void);

static PyMemAllocatorEx orig_mem, orig_obj;
static PyObjectArenaAllocator orig_arena;
static ptrmap arenas; /* arena chunk index -> arena base */
static ptrmap sizes;  /* block -> requested size, in requested mode */
/* pymalloc's ARENA_SIZE on 64-bit builds of 3.10+ (radix tree, large
 * arenas); the layout self-test catches a build where it differs. */
static unsigned arena_bits = 20;
static size_t arena_size = 1u << 20;
static uintptr_t pool_mask;
static int mode = PYAB_HEAP_BLOCKS;
static const char *mode_name = "off";

/* Live bytes in pymalloc arenas and in blocks malloc serves, apart: each
 * hook updates one counter; pyab_heap_read adds them. */
static _Atomic int64_t arena_live_bytes;
static _Atomic int64_t malloc_bytes;
static _Atomic int64_t arena_bytes;

static inline void add_to(_Atomic int64_t *c, int64_t delta)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
                          memory_order_relaxed);
}

/* Counts a block in (delta > 0) or out; `from_malloc` when malloc, not a
 * pymalloc arena, holds it (the split that native_other_bytes needs). */
static inline void add_live(int64_t delta, int from_malloc)
{
    add_to(from_malloc ? &malloc_bytes : &arena_live_bytes, delta);
}


/*
 * Is p inside a pymalloc arena? Arenas are arena_size long but not aligned,
 * so a chunk of that size (p >> arena_bits) holds the end of at most one
 * arena and the start of at most one other. A direct-mapped cache keeps,
 * per chunk, where the arena reaching into it from below ends and where
 * the one starting in it begins: one probe and two compares answer every
 * question the hooks ask (they ask on every free). The hash map of arena
 * bases is the slow path and the source of truth.
 */
#define CHUNK_CACHE 4096
static struct chunk_entry {
    uintptr_t chunk_plus1; /* 0: empty */
    uintptr_t lo_end;      /* end of the arena covering the chunk's start, 0 if none */
    uintptr_t hi_start;    /* start of the arena starting in the chunk, UINTPTR_MAX if none */
} chunk_cache[CHUNK_CACHE];

static int pymalloc_on; /* pymalloc serves the small requests (not PYTHONMALLOC=malloc) */

static __attribute__((noinline)) void chunk_fill(struct chunk_entry *e, uintptr_t chunk)
{
    uint64_t here = 0, below = 0;

    ptrmap_get(&arenas, chunk + 1, &here);
    ptrmap_get(&arenas, chunk, &below); /* the arena starting in chunk - 1 */
    e->chunk_plus1 = chunk + 1;
    e->hi_start = here ? (uintptr_t)here : UINTPTR_MAX;
    e->lo_end = below ? (uintptr_t)below + arena_size : 0;
}

static inline __attribute__((always_inline)) int in_arena(uintptr_t p)
{
    uintptr_t chunk = p >> arena_bits;
    struct chunk_entry *e = &chunk_cache[chunk & (CHUNK_CACHE - 1)];

    if (e->chunk_plus1 != chunk + 1)
        chunk_fill(e, chunk);
    return p < e->lo_end || p >= e->hi_start;
}

/* An arena came or went: the two chunks it touches must be looked up again. */
static void chunk_forget(uintptr_t base)
{
    uintptr_t chunk = base >> arena_bits;

    chunk_cache[chunk & (CHUNK_CACHE - 1)].chunk_plus1 = 0;
    chunk_cache[(chunk + 1) & (CHUNK_CACHE - 1)].chunk_plus1 = 0;
}

/* The allocator's real size of block p; *from_malloc tells which allocator. */
static inline __attribute__((always_inline)) size_t block_size(void *p, int *from_malloc)
{
    uintptr_t a = (uintptr_t)p;

    if (in_arena(a)) {
        unsigned int szidx;
        *from_malloc = 0;
        memcpy(&szidx, (const char *)(a & pool_mask) + POOL_SZIDX_OFFSET, sizeof(szidx));
        return (size_t)(szidx + 1) << PYMALLOC_ALIGNMENT_SHIFT;
    }
    *from_malloc = 1;
    return malloc_usable_size(p);
}

/*
 * Two sets of hooks, one per mode, so the hot path has no mode test. Both
 * keep the malloc-served share apart (pyheap_malloc_bytes).
 *
 * Blocks mode. pymalloc serves every request of 1 to 512 bytes from an
 * arena (it falls back to malloc only when it cannot map a new arena: out
 * of memory), so those are counted as their size class without asking
 * where they live; the rest are malloc's, counted by malloc_usable_size.
 */
static inline __attribute__((always_inline)) void blocks_count(void *p, size_t n)
{
    if (p == NULL)
        return;
    if (n - 1 < 512 && pymalloc_on)
        add_live((int64_t)((n + 15) & ~(size_t)15), 0);
    else
        add_live((int64_t)malloc_usable_size(p), 1);
}

/*
 * Allocation sampling (where.h): each allocation counts its size down from
 * pyab_where_left, one subtraction and a rarely taken branch. A sampled
 * block is served by malloc, not from a pymalloc arena: then only frees of
 * malloc-served blocks can be sampled ones, and a pymalloc free never
 * probes the sample table. pymalloc's free and realloc hand blocks outside
 * its arenas to the raw allocator, so the service sees no difference.
 */
static inline int where_due(size_t n)
{
    pyab_where_left -= (int64_t)n;
    return pyab_where_left < 0;
}

static void *blocks_sampled(size_t count, size_t n, int zero)
{
    void *p = zero ? PyMem_RawCalloc(count, n) : PyMem_RawMalloc(count * n);

    if (p != NULL) {
        add_live((int64_t)malloc_usable_size(p), 1);
        pyab_where_take(p, count * n);
    }
    return p;
}

static inline void blocks_uncount(void *p)
{
    int from_malloc;
    size_t n = block_size(p, &from_malloc);

    add_live(-(int64_t)n, from_malloc);
    if (from_malloc && pyab_where_nlive)
        pyab_where_forget(p);
}

/*
 * The hot paths of blocks mode are written so that the common case (a
 * small block, no sample due) does its counting and then tail-calls the
 * wrapped allocator, with the rest in functions of their own: a call on
 * the fast path made the compiler save and restore five registers on
 * every allocation (callgrind: ~35 instructions per free, now ~15). The
 * small block is counted before the allocator runs; a small allocation
 * that fails (MemoryError) therefore leaves its size class counted.
 */
static __attribute__((noinline)) void *blocks_malloc_slow(PyMemAllocatorEx *a, size_t n)
{
    void *p;

    if (pyab_where_left < 0)
        return blocks_sampled(1, n, 0);
    p = a->malloc(a->ctx, n);
    blocks_count(p, n);
    return p;
}

static void *blocks_malloc(void *ctx, size_t n)
{
    PyMemAllocatorEx *a = ctx;

    pyab_where_left -= (int64_t)n;
    if (__builtin_expect(pyab_where_left >= 0 && n - 1 < 512 && pymalloc_on, 1)) {
        add_to(&arena_live_bytes, (int64_t)((n + 15) & ~(size_t)15));
        return a->malloc(a->ctx, n);
    }
    return blocks_malloc_slow(a, n);
}

static void *blocks_calloc(void *ctx, size_t count, size_t n)
{
    PyMemAllocatorEx *a = ctx;
    void *p;

    if (where_due(count * n))
        return blocks_sampled(count, n, 1);
    p = a->calloc(a->ctx, count, n);
    blocks_count(p, count * n);
    return p;
}

static void blocks_free(void *ctx, void *p);

static __attribute__((noinline)) void *blocks_realloc_slow(PyMemAllocatorEx *a, void *old, size_t n)
{
    int old_malloc = 0;
    size_t old_size = old ? block_size(old, &old_malloc) : 0;
    void *p;

    /*
     * A sampled realloc is a fresh allocation of n bytes, served by malloc
     * like every sampled block: a result left inside an arena could never
     * be found again on its free. (Deferring the sample to the next
     * allocation instead missed every small string a _PyUnicodeWriter
     * shrinks into place.)
     */
    if (pyab_where_left < 0 && (n - 1 < 512 || old == NULL)) {
        if ((p = PyMem_RawMalloc(n ? n : 1)) == NULL)
            return NULL;
        if (old) {
            memcpy(p, old, old_size < n ? old_size : n);
            blocks_free(a, old);
        }
        add_live((int64_t)malloc_usable_size(p), 1);
        pyab_where_take(p, n);
        return p;
    }
    if ((p = a->realloc(a->ctx, old, n)) == NULL)
        return NULL; /* the old block is still alive and still counted */
    if (old) {
        add_live(-(int64_t)old_size, old_malloc);
        if (old_malloc && pyab_where_nlive)
            pyab_where_forget(old);
    }
    /* Unlike a malloc, a small realloc of a block malloc serves stays with
     * malloc (pymalloc hands blocks it does not own to the raw allocator):
     * where it lives is asked, not assumed. */
    if (n - 1 < 512 && in_arena((uintptr_t)p))
        add_live((int64_t)((n + 15) & ~(size_t)15), 0);
    else
        add_live((int64_t)malloc_usable_size(p), 1);
    /* Over 512 bytes pymalloc hands the block to malloc: never an arena. */
    if (pyab_where_left < 0)
        pyab_where_take(p, n);
    return p;
}

/*
 * The common realloc: a small block in an arena to a small size, no sample
 * due. pymalloc keeps such a block in an arena (in place, or moved to
 * another small block), so the size-class difference is counted before
 * the call and the call is a tail call, as for malloc; everything else
 * (a block malloc serves, a size over 512, a due sample) goes the slow way.
 */
static void *blocks_realloc(void *ctx, void *old, size_t n)
{
    PyMemAllocatorEx *a = ctx;
    uintptr_t u = (uintptr_t)old, chunk = u >> arena_bits;
    const struct chunk_entry *e = &chunk_cache[chunk & (CHUNK_CACHE - 1)];

    pyab_where_left -= (int64_t)n;
    if (__builtin_expect(pyab_where_left >= 0 && n - 1 < 512 && pymalloc_on && old != NULL &&
                             e->chunk_plus1 == chunk + 1 && (u < e->lo_end || u >= e->hi_start),
                         1)) {
        unsigned int szidx;
        memcpy(&szidx, (const char *)(u & pool_mask) + POOL_SZIDX_OFFSET, sizeof(szidx));
        add_to(&arena_live_bytes, (int64_t)((n + 15) & ~(size_t)15) -
                                      (int64_t)((size_t)(szidx + 1) << PYMALLOC_ALIGNMENT_SHIFT));
        return a->realloc(a->ctx, old, n);
    }
    return blocks_realloc_slow(a, old, n);
}

static __attribute__((noinline)) void blocks_free_slow(PyMemAllocatorEx *a, void *p)
{
    if (p)
        blocks_uncount(p);
    a->free(a->ctx, p);
}

static void blocks_free(void *ctx, void *p)
{
    PyMemAllocatorEx *a = ctx;
    uintptr_t u = (uintptr_t)p, chunk = u >> arena_bits;
    const struct chunk_entry *e = &chunk_cache[chunk & (CHUNK_CACHE - 1)];

    /* A block in an arena whose chunk is cached: its size class from the pool. */
    if (__builtin_expect(e->chunk_plus1 == chunk + 1 && p != NULL &&
                         (u < e->lo_end || u >= e->hi_start), 1)) {
        unsigned int szidx;
        memcpy(&szidx, (const char *)(u & pool_mask) + POOL_SZIDX_OFFSET, sizeof(szidx));
        add_to(&arena_live_bytes, -(int64_t)((size_t)(szidx + 1) << PYMALLOC_ALIGNMENT_SHIFT));
        a->free(a->ctx, p);
        return;
    }
    blocks_free_slow(a, p);
}

/* Requested mode: a pointer table of requested sizes, like tracemalloc's. */
static inline void requested_count(void *p, size_t n)
{
    if (p == NULL)
        return;
    ptrmap_put(&sizes, (uintptr_t)p, n);
    add_live((int64_t)n, !in_arena((uintptr_t)p));
    if (where_due(n))
        pyab_where_take(p, n);
}

static inline void requested_uncount(void *p)
{
    uint64_t n = 0;

    if (ptrmap_del(&sizes, (uintptr_t)p, &n))
        add_live(-(int64_t)n, !in_arena((uintptr_t)p));
    if (pyab_where_nlive)
        pyab_where_forget(p);
}

static void *requested_malloc(void *ctx, size_t n)
{
    PyMemAllocatorEx *a = ctx;
    void *p = a->malloc(a->ctx, n);

    requested_count(p, n);
    return p;
}

static void *requested_calloc(void *ctx, size_t count, size_t n)
{
    PyMemAllocatorEx *a = ctx;
    void *p = a->calloc(a->ctx, count, n);

    requested_count(p, count * n);
    return p;
}

static void *requested_realloc(void *ctx, void *old, size_t n)
{
    PyMemAllocatorEx *a = ctx;
    uint64_t old_size = 0;
    int old_malloc = old ? !in_arena((uintptr_t)old) : 0;
    int known = old ? ptrmap_get(&sizes, (uintptr_t)old, &old_size) : 0;
    void *p = a->realloc(a->ctx, old, n);

    if (p == NULL)
        return NULL; /* the old block is still alive and still counted */
    if (known) {
        ptrmap_del(&sizes, (uintptr_t)old, NULL);
        add_live(-(int64_t)old_size, old_malloc);
    }
    if (old && pyab_where_nlive)
        pyab_where_forget(old);
    requested_count(p, n);
    return p;
}

static void requested_free(void *ctx, void *p)
{
    PyMemAllocatorEx *a = ctx;

    if (p)
        requested_uncount(p);
    a->free(a->ctx, p);
}

/*
 * The arena allocator also serves the interpreter's frame stack chunks
 * (_PyObject_VirtualAlloc, 16 KiB and up), which are not pymalloc arenas.
 * Only blocks of exactly the arena size are arenas; two of those can never
 * start in the same arena-sized chunk, so the chunk index is a safe key.
 */
static void *hook_arena_alloc(void *ctx, size_t size)
{
    void *p = orig_arena.alloc(orig_arena.ctx, size);

    if (p != NULL && size == arena_size) {
        chunk_forget((uintptr_t)p);
        ptrmap_put(&arenas, ((uintptr_t)p >> arena_bits) + 1, (uintptr_t)p);
        atomic_fetch_add_explicit(&arena_bytes, (int64_t)size, memory_order_relaxed);
    }
    return p;
}

static void hook_arena_free(void *ctx, void *p, size_t size)
{
    if (size == arena_size) {
        chunk_forget((uintptr_t)p);
        ptrmap_del(&arenas, ((uintptr_t)p >> arena_bits) + 1, NULL);
        atomic_fetch_sub_explicit(&arena_bytes, (int64_t)size, memory_order_relaxed);
    }
    orig_arena.free(orig_arena.ctx, p, size);
}

/*
 * Checks the pool-header layout this build relies on: blocks of every size
 * class, enough of each to spill past a 4 KiB page, must read back their
 * size class from the header at (p & pool_mask). Tries 16 KiB pools (3.10+
 * with the radix tree) and 4 KiB pools (older builds).
 */
static int layout_ok(uintptr_t mask)
{
    enum { PER_CLASS_BYTES = 12288 };
    void *blocks[PER_CLASS_BYTES / 16 + 1];
    int ok = 1, from_malloc;

    pool_mask = mask;
    for (size_t size = 16; size <= 512 && ok; size += 16) {
        size_t n = PER_CLASS_BYTES / size + 1;
        for (size_t i = 0; i < n; i++)
            blocks[i] = orig_obj.malloc(orig_obj.ctx, size);
        for (size_t i = 0; i < n; i++)
            ok &= blocks[i] != NULL && in_arena((uintptr_t)blocks[i]) &&
                  block_size(blocks[i], &from_malloc) == size && !from_malloc;
        for (size_t i = 0; i < n; i++)
            orig_obj.free(orig_obj.ctx, blocks[i]);
    }
    return ok;
}

/*
 * Runs the layout self-test, or on failure falls back: not pymalloc
 * (PYTHONMALLOC=malloc) maps no arenas at all, and then every block is
 * malloc's and block sizes still work; an unknown pymalloc layout counts
 * requested sizes instead. Returns the mode to count in.
 */
static int check_layout(int want)
{
    int got = want;

    if (want == PYAB_HEAP_BLOCKS && !layout_ok(~(uintptr_t)(16384 - 1)) &&
        !layout_ok(~(uintptr_t)(4096 - 1))) {
        if (arenas.len != 0)
            got = PYAB_HEAP_REQUESTED;
        else
            pool_mask = 0;
    }
    /* The self-test's small blocks made arenas if and only if pymalloc serves them. */
    if (want == PYAB_HEAP_BLOCKS)
        pymalloc_on = arenas.len != 0;
    return got;
}

static void set_hooks(int want)
{
    static PyMemAllocatorEx mem_hook, obj_hook;

    mode = want;
    if (mode == PYAB_HEAP_REQUESTED) {
        mem_hook = (PyMemAllocatorEx){&orig_mem, requested_malloc, requested_calloc,
                                      requested_realloc, requested_free};
        obj_hook = (PyMemAllocatorEx){&orig_obj, requested_malloc, requested_calloc,
                                      requested_realloc, requested_free};
    } else {
        mem_hook = (PyMemAllocatorEx){&orig_mem, blocks_malloc, blocks_calloc, blocks_realloc,
                                      blocks_free};
        obj_hook = (PyMemAllocatorEx){&orig_obj, blocks_malloc, blocks_calloc, blocks_realloc,
                                      blocks_free};
    }
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &mem_hook);
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &obj_hook);
}

int pyab_heap_install(int want, pyab_error *err)
{
    PyObjectArenaAllocator arena_hook = {NULL, hook_arena_alloc, hook_arena_free};
    const char *alloc = _PyMem_GetCurrentAllocatorName();
    int got = want;

    PyObject_GetArenaAllocator(&orig_arena);
    PyObject_SetArenaAllocator(&arena_hook);
    PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &orig_mem);
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &orig_obj);
    /* Until pyab_heap_selftest() has run (3.12+), the pre-configured
     * allocator says whether pymalloc serves small blocks, and frees read
     * the pool header with the layout of every 64-bit 3.10+ build. */
    pool_mask = ~(uintptr_t)(16384 - 1);
    pymalloc_on = alloc && strncmp(alloc, "pymalloc", 8) == 0;
    if (!PYAB_HEAP_SELFTEST_AFTER_INIT)
        got = check_layout(want);
    mode_name = got == PYAB_HEAP_BLOCKS ? "blocks"
                : want == PYAB_HEAP_BLOCKS ? "requested (pymalloc layout not recognised)"
                                           : "requested";
    atomic_store(&arena_live_bytes, 0);
    set_hooks(got);
    (void)err;
    return 0;
}

void pyab_heap_selftest(void)
{
    if (!PYAB_HEAP_SELFTEST_AFTER_INIT || mode != PYAB_HEAP_BLOCKS ||
        check_layout(PYAB_HEAP_BLOCKS) == PYAB_HEAP_BLOCKS)
        return;
    /* The blocks counted so far may have been read with the wrong layout:
     * start again from zero in requested mode. Blocks from before are not
     * in the size table, so freeing them subtracts nothing. */
    set_hooks(PYAB_HEAP_REQUESTED);
    atomic_store(&arena_live_bytes, 0);
    atomic_store(&malloc_bytes, 0);
    mode_name = "requested (pymalloc layout not recognised; counted from initialisation on)";
}

void pyab_heap_read(pyab_heap_stats *out)
{
    out->live_bytes = atomic_load_explicit(&arena_live_bytes, memory_order_relaxed) +
                      atomic_load_explicit(&malloc_bytes, memory_order_relaxed);
    out->arena_bytes = atomic_load_explicit(&arena_bytes, memory_order_relaxed);
    out->malloc_bytes = atomic_load_explicit(&malloc_bytes, memory_order_relaxed);
}

const char *pyab_heap_mode_name(void)
{
    return mode_name;
}

const char *pyab_heap_selftest_when(void)
{
    return PYAB_HEAP_SELFTEST_AFTER_INIT
               ? "after Py_Initialize (3.12+: pymalloc state is the interpreter's)"
               : "before Py_Initialize";
}
