/*
 * natsample's tables against the allocations this program makes, with
 * pyab-native.so preloaded (meson sets LD_PRELOAD) and a mean interval
 * of one byte, so that every allocation is a sample: the live samples
 * must then be exactly the blocks still allocated, through the indexes'
 * and the filter's growth, frees, reallocs, the live bound, and stacks
 * that come and go (each distinct stack holds a table entry only while a
 * sample uses it).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "natsample.h"

static const pyab_natsample_api *api;

static int start(void)
{
    if (api)
        return 1;
    api = dlsym(RTLD_DEFAULT, PYAB_NATSAMPLE_SYMBOL);
    if (api == NULL || api->version != PYAB_NATSAMPLE_VERSION)
        return 0;
    if (api->start(1.0, NULL, NULL, NULL) != 0)
        return 0;
    /* Before start a thread counts down a long idle interval: one block
     * larger than it makes the next countdown a sampling one. */
    void *volatile big = malloc(1 << 20); /* volatile: not optimised out with its free */
    free(big);
    return 1;
}

static pyab_natsample_stats stats(void)
{
    pyab_natsample_stats st;

    api->stats(&st);
    return st;
}

/* Samples whose address is among `ptrs` (sorted), and whether each had the size expected. */
typedef struct tally {
    void **ptrs;
    size_t n, found, wrong_size;
    const size_t *sizes;
} tally;

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;

    return x < y ? -1 : x > y;
}

static void count_ours(void *data, const pyab_natsample_live *l, const pyab_natsample_stack *s)
{
    tally *t = data;
    void *key = (void *)l->addr, **hit;

    (void)s;
    hit = bsearch(&key, t->ptrs, t->n, sizeof(*t->ptrs), by_address);
    if (hit == NULL)
        return;
    t->found++;
    if (t->sizes && l->size != t->sizes[hit - t->ptrs])
        t->wrong_size++;
}

/* Sorts ptrs (and sizes with them: here every size is one value) and counts. */
static tally live_among(void **ptrs, size_t n, const size_t *sizes)
{
    tally t = {ptrs, n, 0, 0, sizes};

    qsort(ptrs, n, sizeof(*ptrs), by_address);
    api->foreach(count_ours, &t);
    return t;
}

#define N 6000

static void *blocks[N];
static size_t sizes[N];

static void test_live_samples_are_the_live_blocks(void)
{
    uint64_t base;
    tally t;
    size_t kept = 0;

    CHECK(start());
    if (api == NULL)
        return;
    base = stats().live;
    for (size_t i = 0; i < N; i++) {
        sizes[i] = 200;
        blocks[i] = i % 3 ? malloc(200) : calloc(4, 50);
    }
    CHECK(stats().live - base == N);
    t = live_among(blocks, N, sizes);
    CHECK(t.found == N);
    CHECK(t.wrong_size == 0);
    /* Every other one freed: the rest stay, nothing freed is left. */
    for (size_t i = 0; i < N; i++) {
        if (i % 2)
            free(blocks[i]);
        else
            blocks[kept++] = blocks[i];
    }
    CHECK(stats().live - base == kept);
    t = live_among(blocks, kept, NULL);
    CHECK(t.found == kept);
    /* A realloc ends the old block's sample and samples the new one. */
    for (size_t i = 0; i < kept; i++) {
        void *q = realloc(blocks[i], 5000);
        CHECK(q != NULL);
        blocks[i] = q;
        sizes[i] = 5000;
    }
    CHECK(stats().live - base == kept);
    t = live_among(blocks, kept, sizes);
    CHECK(t.found == kept);
    CHECK(t.wrong_size == 0);
    for (size_t i = 0; i < kept; i++)
        free(blocks[i]);
    CHECK(stats().live == base);
    t = live_among(blocks, kept, NULL);
    CHECK(t.found == 0);
}

static void test_live_bound_drops_and_recovers(void)
{
    size_t n = PYAB_NATSAMPLE_MAX_LIVE + 2000;
    void **many;
    uint64_t base, dropped;
    tally t;

    CHECK(start());
    if (api == NULL)
        return;
    many = malloc(n * sizeof(*many));
    base = stats().live;
    dropped = stats().dropped;
    for (size_t i = 0; i < n; i++)
        many[i] = malloc(16);
    CHECK(stats().live == PYAB_NATSAMPLE_MAX_LIVE);
    CHECK(stats().dropped - dropped == n - (PYAB_NATSAMPLE_MAX_LIVE - base));
    CHECK(stats().table_resident_bytes <= stats().table_bytes);
    for (size_t i = 0; i < n; i++)
        free(many[i]);
    CHECK(stats().live == base);
    /* The records freed are taken again. */
    for (size_t i = 0; i < 100; i++)
        many[i] = malloc(16);
    CHECK(stats().live - base == 100);
    t = live_among(many, 100, NULL);
    CHECK(t.found == 100);
    for (size_t i = 0; i < 100; i++)
        free(many[i]);
    free(many);
}

/*
 * Sixteen functions that differ (so the compiler keeps them apart), each
 * calling the next hop by the path's low four bits: four hops make one of
 * 65536 distinct native stacks.
 */
typedef void *(*hop_fn)(unsigned path, int level);
static const hop_fn hops[16];

#define HOP(k)                                                             \
    __attribute__((noinline)) static void *hop##k(unsigned path, int level) \
    {                                                                      \
        volatile int mark = k;                                             \
        void *p = level ? hops[path & 15](path >> 4, level - 1) : malloc(32); \
        __asm__ volatile("" ::: "memory");                                 \
        (void)mark;                                                        \
        return p;                                                          \
    }
HOP(0) HOP(1) HOP(2) HOP(3) HOP(4) HOP(5) HOP(6) HOP(7)
HOP(8) HOP(9) HOP(10) HOP(11) HOP(12) HOP(13) HOP(14) HOP(15)

static const hop_fn hops[16] = {hop0, hop1, hop2,  hop3,  hop4,  hop5,  hop6,  hop7,
                                hop8, hop9, hop10, hop11, hop12, hop13, hop14, hop15};

/* Distinct stacks among the live samples of ptrs. */
typedef struct stacks_seen {
    void **ptrs;
    size_t n;
    const pyab_natsample_stack *seen[4096];
    size_t nseen;
} stacks_seen;

static void note_stack(void *data, const pyab_natsample_live *l, const pyab_natsample_stack *s)
{
    stacks_seen *t = data;
    void *key = (void *)l->addr;

    if (bsearch(&key, t->ptrs, t->n, sizeof(*t->ptrs), by_address) == NULL)
        return;
    for (size_t i = 0; i < t->nseen; i++)
        if (t->seen[i] == s)
            return;
    if (t->nseen < 4096)
        t->seen[t->nseen++] = s;
}

static void test_stacks_come_and_go(void)
{
    static stacks_seen seen;
    uint64_t dropped;

    CHECK(start());
    if (api == NULL)
        return;
    dropped = stats().dropped;
    /* 20000 distinct stacks, over twice the stack table's bound, 4000 at
     * a time: each round's stacks go with its blocks, so none is dropped. */
    for (unsigned round = 0; round < 5; round++) {
        for (unsigned i = 0; i < 4000; i++)
            blocks[i] = hops[i & 15]((i >> 4) + round * 250, 3);
        seen.ptrs = blocks;
        seen.n = 4000;
        seen.nseen = 0;
        qsort(blocks, 4000, sizeof(*blocks), by_address);
        api->foreach(note_stack, &seen);
        CHECK(seen.nseen == 4000);
        for (unsigned i = 0; i < 4000; i++)
            free(blocks[i]);
    }
    CHECK(stats().dropped == dropped);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_live_samples_are_the_live_blocks),
    CHECK_TEST(test_live_bound_drops_and_recovers),
    CHECK_TEST(test_stacks_come_and_go),
};

int main(int argc, char **argv)
{
    return check_run("natsample", tests, CHECK_COUNT(tests), argc, argv);
}
