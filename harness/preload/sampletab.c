/*
 * The native sampler's tables (sampletab.h): live samples (records with a
 * free list, indexed by address), distinct stacks (records with reference
 * counts, so that a stack no live sample uses goes back to the free list;
 * indexed by hash) and the filter frees consult. The record arrays are
 * mapped once at their bounds and touched only as they fill; the indexes
 * and the filter start small and double with what they hold, so a process
 * with few live samples touches a few pages of them. A sample that finds a
 * table at its bound is counted as dropped. Every function here runs with
 * the sampler's lock held (natsample.c takes it).
 */
#include "sampletab.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The indexes' bounds (at most half full) and first sizes. */
#define LIVE_SLOTS (2 * PYAB_NATSAMPLE_MAX_LIVE)
#define STACK_SLOTS (2 * PYAB_NATSAMPLE_MAX_STACKS)
#define FIRST_SLOTS 256
/* Filter counters per live sample (a free of an unsampled block finds one
 * set ~1/32 of the time), 4 KiB of them at first, 1 MiB at most. */
#define FILTER_PER_LIVE 32
#define FILTER_FIRST_BITS 12
#define FILTER_MAX_BITS 20
#define MAX_MMAPS 1024
/* Table mappings at once: the record arrays, two indexes, and filters
 * (each old one is kept: natsample.h says why). */
#define MAX_MAPS 32

_Static_assert(PYAB_NATSAMPLE_MAX_LIVE < 65536 && PYAB_NATSAMPLE_MAX_STACKS < 65536,
               "slot tables hold 16-bit indices");

_Atomic(pyab__natsample_filter_t *) pyab__natsample_filter;
_Atomic uint32_t pyab__natsample_mmaps;

static pyab_natsample_live *recs; /* addr 0: unused */
static uint32_t *free_recs, nfree, nrecs;
static pyab_natsample_stack *stacks; /* hash 0: unused */
static uint32_t *stack_refs, *free_stacks, nfree_stacks, nstacks;
static uint32_t mmap_recs[MAX_MMAPS];
static uint64_t taken, freed, dropped; /* live: taken - freed */

/* Every table mapping, so that stats can tell how much of them is resident. */
static struct mapping {
    void *p;
    size_t bytes;
} maps[MAX_MAPS];
static int nmaps;

static void *map_table(size_t bytes)
{
    void *p;

    if (nmaps == MAX_MAPS)
        return NULL;
    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    maps[nmaps++] = (struct mapping){p, bytes};
    return p;
}

static void unmap_table(void *p, size_t bytes)
{
    for (int i = 0; i < nmaps; i++)
        if (maps[i].p == p) {
            maps[i] = maps[--nmaps];
            break;
        }
    munmap(p, bytes);
}

static uint64_t mapped_bytes(void)
{
    uint64_t total = 0;

    for (int i = 0; i < nmaps; i++)
        total += maps[i].bytes;
    return total;
}

/* The tables' pages in memory (mincore), not what they reserve. */
static uint64_t resident_bytes(void)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char vec[256];
    uint64_t total = 0;

    for (int i = 0; i < nmaps; i++)
        for (size_t off = 0; off < maps[i].bytes; off += sizeof(vec) * (size_t)page) {
            size_t len = maps[i].bytes - off;
            if (len > sizeof(vec) * (size_t)page)
                len = sizeof(vec) * (size_t)page;
            if (mincore((char *)maps[i].p + off, len, vec) < 0)
                continue;
            for (size_t k = 0; k < (len + (size_t)page - 1) / (size_t)page; k++)
                total += (vec[k] & 1) ? (uint64_t)page : 0;
        }
    return total;
}

/* A bounded open-addressed index of 16-bit record numbers (+1; 0 empty),
 * linear probing, at most half full. Lock held for everything. */
typedef struct index16 {
    uint16_t *slot;
    uint32_t mask;
} index16;

typedef uint32_t (*home_fn)(uint32_t rec);

static index16 live, stack_index;

static uint32_t live_home(uint32_t rec)
{
    return pyab__natsample_hash(recs[rec].addr);
}

static uint32_t stack_home(uint32_t rec)
{
    return (uint32_t)(stacks[rec].hash >> 20);
}

static int index_init(index16 *ix, uint32_t slots)
{
    ix->slot = map_table(slots * sizeof(*ix->slot));
    ix->mask = slots - 1;
    return ix->slot ? 0 : -1;
}

/*
 * Room for used + 1 entries: a full-enough index is rehashed into one
 * twice its size and the old one unmapped (no reader outside the lock).
 * -1 when it is at max_slots already or no memory is left.
 */
static int index_reserve(index16 *ix, uint32_t used, uint32_t max_slots, home_fn home)
{
    uint32_t n = ix->mask + 1, m = 2 * n;
    uint16_t *s;

    if (2 * (used + 1) <= n)
        return 0;
    if (m > max_slots || (s = map_table(m * sizeof(*s))) == NULL)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (ix->slot[i] == 0)
            continue;
        uint32_t j = home(ix->slot[i] - 1) & (m - 1);
        while (s[j])
            j = (j + 1) & (m - 1);
        s[j] = ix->slot[i];
    }
    unmap_table(ix->slot, n * sizeof(*s));
    ix->slot = s;
    ix->mask = m - 1;
    return 0;
}

/* Backward-shift deletion keeps linear probing's chains whole without
 * tombstones; no slot on a chain is ever empty on the way, so a reader
 * of a chain's first slot never misses an entry. */
static void index_delete(index16 *ix, uint16_t *slot, home_fn home)
{
    uint32_t i = (uint32_t)(slot - ix->slot), j = i;

    for (;;) {
        j = (j + 1) & ix->mask;
        if (ix->slot[j] == 0)
            break;
        uint32_t h = home(ix->slot[j] - 1) & ix->mask;
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
            ix->slot[i] = ix->slot[j];
            i = j;
        }
    }
    ix->slot[i] = 0;
}

static pyab__natsample_filter_t *filter_map(uint32_t bits)
{
    pyab__natsample_filter_t *f = map_table(sizeof(*f) + ((size_t)1 << bits));

    if (f)
        f->shift = 32 - bits;
    return f;
}

static void filter_add(uintptr_t p, int delta)
{
    pyab__natsample_filter_t *f = atomic_load_explicit(&pyab__natsample_filter,
                                                       memory_order_relaxed);
    _Atomic uint8_t *c = &f->count[pyab__natsample_hash(p) >> f->shift];
    uint8_t v = atomic_load_explicit(c, memory_order_relaxed);

    /* A saturated counter stays set: frees there only take the slow path. */
    if (v == 255)
        return;
    atomic_store_explicit(c, (uint8_t)(v + delta), memory_order_relaxed);
}

/*
 * Keeps the filter at FILTER_PER_LIVE counters a live sample or more:
 * a bigger one is filled from the live records and published (natsample.h
 * says why readers of the old one stay right). Failing to map one keeps
 * the old: frees then take the slow path more often, nothing is missed.
 */
static void filter_reserve(uint32_t nlive_next)
{
    pyab__natsample_filter_t *f = atomic_load_explicit(&pyab__natsample_filter,
                                                       memory_order_relaxed), *g;
    uint32_t bits = 32 - f->shift;

    if ((uint64_t)nlive_next * FILTER_PER_LIVE <= ((uint64_t)1 << bits) || bits >= FILTER_MAX_BITS)
        return;
    while (bits < FILTER_MAX_BITS && (uint64_t)nlive_next * FILTER_PER_LIVE > ((uint64_t)1 << bits))
        bits++;
    if ((g = filter_map(bits)) == NULL)
        return;
    for (uint32_t i = 0; i < nrecs; i++) {
        if (recs[i].addr == 0)
            continue;
        _Atomic uint8_t *c = &g->count[pyab__natsample_hash(recs[i].addr) >> g->shift];
        uint8_t v = atomic_load_explicit(c, memory_order_relaxed);
        if (v != 255)
            atomic_store_explicit(c, (uint8_t)(v + 1), memory_order_relaxed);
    }
    atomic_store_explicit(&pyab__natsample_filter, g, memory_order_release);
}

static uint16_t *live_find(uintptr_t p)
{
    uint32_t i = pyab__natsample_hash(p) & live.mask;

    while (live.slot[i]) {
        if (recs[live.slot[i] - 1].addr == p)
            return &live.slot[i];
        i = (i + 1) & live.mask;
    }
    return &live.slot[i];
}

static uint64_t stack_hash(const uintptr_t *pc, int npc, const pyab_natsample_pyframe *py, int npy)
{
    uint64_t h = 1469598103934665603ull;

    for (int i = 0; i < npc; i++)
        h = (h ^ pc[i]) * 1099511628211ull;
    for (int i = 0; i < npy; i++)
        h = (h ^ ((uint64_t)py[i].code << 32 | (uint32_t)py[i].line)) * 1099511628211ull;
    return h | 1;
}

/* The stack's index with one more reference, interned; UINT32_MAX when
 * the table is full. Lock held. */
static uint32_t stack_intern(const uintptr_t *pc, int npc, const pyab_natsample_pyframe *py,
                             int npy)
{
    uint64_t h = stack_hash(pc, npc, py, npy);
    uint32_t i, idx;
    pyab_natsample_stack *s;

    for (i = (uint32_t)(h >> 20) & stack_index.mask; stack_index.slot[i];
         i = (i + 1) & stack_index.mask) {
        s = &stacks[stack_index.slot[i] - 1];
        if (s->hash == h && s->npc == (uint32_t)npc && s->npy == (uint32_t)npy &&
            memcmp(s->pc, pc, (size_t)npc * sizeof(*pc)) == 0 &&
            memcmp(s->py, py, (size_t)npy * sizeof(*py)) == 0) {
            stack_refs[stack_index.slot[i] - 1]++;
            return stack_index.slot[i] - 1;
        }
    }
    if ((nfree_stacks == 0 && nstacks == PYAB_NATSAMPLE_MAX_STACKS) ||
        index_reserve(&stack_index, nstacks - nfree_stacks, STACK_SLOTS, stack_home) < 0)
        return UINT32_MAX;
    idx = nfree_stacks ? free_stacks[--nfree_stacks] : nstacks++;
    s = &stacks[idx];
    s->hash = h;
    s->npc = (uint32_t)npc;
    s->npy = (uint32_t)npy;
    memcpy(s->pc, pc, (size_t)npc * sizeof(*pc));
    memcpy(s->py, py, (size_t)npy * sizeof(*py));
    stack_refs[idx] = 1;
    for (i = (uint32_t)(h >> 20) & stack_index.mask; stack_index.slot[i];
         i = (i + 1) & stack_index.mask)
        ;
    stack_index.slot[i] = (uint16_t)(idx + 1);
    return idx;
}

/* A sample of stack idx is gone; the stack goes with its last one. Lock held. */
static void stack_release(uint32_t idx)
{
    uint32_t i;

    if (--stack_refs[idx])
        return;
    for (i = stack_home(idx) & stack_index.mask; stack_index.slot[i] != idx + 1;
         i = (i + 1) & stack_index.mask)
        ;
    index_delete(&stack_index, &stack_index.slot[i], stack_home);
    stacks[idx].hash = 0;
    free_stacks[nfree_stacks++] = idx;
}

static void forget_locked(uint16_t *slot)
{
    uint32_t idx = *slot - 1;

    filter_add(recs[idx].addr, -1);
    if (recs[idx].kind == PYAB_NATSAMPLE_MMAP) {
        uint32_t n = atomic_load(&pyab__natsample_mmaps);
        for (uint32_t i = 0; i < n; i++)
            if (mmap_recs[i] == idx) {
                mmap_recs[i] = mmap_recs[n - 1];
                atomic_store(&pyab__natsample_mmaps, n - 1);
                break;
            }
    }
    stack_release(recs[idx].stack);
    recs[idx].addr = 0;
    free_recs[nfree++] = idx;
    freed++;
    index_delete(&live, slot, live_home);
}

int pyab__tab_init(void)
{
    if (recs)
        return 0;
    recs = map_table(PYAB_NATSAMPLE_MAX_LIVE * sizeof(*recs));
    free_recs = map_table(PYAB_NATSAMPLE_MAX_LIVE * sizeof(*free_recs));
    stacks = map_table(PYAB_NATSAMPLE_MAX_STACKS * sizeof(*stacks));
    stack_refs = map_table(PYAB_NATSAMPLE_MAX_STACKS * sizeof(*stack_refs));
    free_stacks = map_table(PYAB_NATSAMPLE_MAX_STACKS * sizeof(*free_stacks));
    atomic_store(&pyab__natsample_filter, filter_map(FILTER_FIRST_BITS));
    if (!recs || !free_recs || !stacks || !stack_refs || !free_stacks ||
        index_init(&live, FIRST_SLOTS) < 0 || index_init(&stack_index, FIRST_SLOTS) < 0 ||
        !pyab__natsample_filter) {
        recs = NULL;
        return -ENOMEM;
    }
    return 0;
}

void pyab__tab_record(uintptr_t p, uint64_t n, int kind, const uintptr_t *pc, int npc,
                      const pyab_natsample_pyframe *py, int npy, uint64_t dispatched)
{
    uint16_t *slot;
    uint32_t stack, idx;

    /* The allocator handed out a block whose free we missed (freed inside
     * the allocator, e.g. by a realloc of its own): the old sample is gone. */
    if (*(slot = live_find(p)))
        forget_locked(slot);
    if ((kind == PYAB_NATSAMPLE_MMAP && pyab__natsample_mmaps == MAX_MMAPS) ||
        (nfree == 0 && nrecs == PYAB_NATSAMPLE_MAX_LIVE) ||
        index_reserve(&live, (uint32_t)(taken - freed), LIVE_SLOTS, live_home) < 0 ||
        (stack = stack_intern(pc, npc, py, npy)) == UINT32_MAX) {
        dropped++;
        return;
    }
    filter_reserve((uint32_t)(taken - freed) + 1);
    idx = nfree ? free_recs[--nfree] : nrecs++;
    recs[idx] = (pyab_natsample_live){p, n, dispatched, stack, (uint32_t)kind};
    *live_find(p) = (uint16_t)(idx + 1);
    filter_add(p, +1);
    if (kind == PYAB_NATSAMPLE_MMAP)
        mmap_recs[atomic_fetch_add(&pyab__natsample_mmaps, 1)] = idx;
    taken++;
}

void pyab__tab_forget(uintptr_t p)
{
    uint16_t *slot;

    if (live.slot && *(slot = live_find(p)))
        forget_locked(slot);
}

void pyab__tab_unmap(uintptr_t lo, uintptr_t hi)
{
    for (uint32_t i = 0; i < atomic_load(&pyab__natsample_mmaps);) {
        uintptr_t a = recs[mmap_recs[i]].addr;
        if (a >= lo && a < hi)
            forget_locked(live_find(a)); /* moves the last entry into i */
        else
            i++;
    }
}

void pyab__tab_foreach(void (*fn)(void *, const pyab_natsample_live *,
                                  const pyab_natsample_stack *),
                       void *data)
{
    for (uint32_t i = 0; i < nrecs; i++)
        if (recs[i].addr)
            fn(data, &recs[i], &stacks[recs[i].stack]);
}

void pyab__tab_stats(pyab_natsample_stats *out)
{
    out->taken = taken;
    out->freed = freed;
    out->dropped = dropped;
    out->live = taken - freed;
    out->table_bytes = mapped_bytes();
    out->table_resident_bytes = resident_bytes();
}
