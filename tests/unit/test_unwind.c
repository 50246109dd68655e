/*
 * The preload library's unwinder against glibc's backtrace() (libgcc's
 * unwinder, which interprets the same CFI every time): a chain of this
 * program's functions, one with a frame pointer; callbacks from libc's
 * qsort and dl_iterate_phdr and from libjansson; a thread; the same walk
 * from the cache and after a flush; the stop range and max; a signal
 * frame, where the walk must stop.
 */
#include <execinfo.h>
#include <jansson.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "unwinder.h"

#define MAX_FRAMES 64

typedef struct walks {
    uintptr_t uw[MAX_FRAMES], bt[MAX_FRAMES];
    int nuw, nbt;
    uintptr_t stop_lo, stop_hi;
} walks;

static walks w;

/*
 * Both walks from one function: their first addresses are its two call
 * sites, every later one is the same frame's. The empty asm keeps the
 * calls from being tail calls, which would drop this frame.
 */
__attribute__((noinline)) static void take_both(walks *to)
{
    to->nuw = pyab__unwind(to->uw, MAX_FRAMES, to->stop_lo, to->stop_hi);
    to->nbt = backtrace((void **)to->bt, MAX_FRAMES);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static int leaf(int x)
{
    take_both(&w);
    return x + 1;
}

/* A variable-length array makes gcc address the frame from rbp: the CFA is rbp + 16. */
__attribute__((noinline)) static int with_frame_pointer(int x)
{
    volatile char buf[x + 16];

    buf[x] = 1;
    return leaf(x) + buf[x];
}

__attribute__((noinline)) static int middle(int x)
{
    return with_frame_pointer(x) * 2 + 1;
}

static void print_walks(const walks *ws)
{
    for (int i = 0; i < ws->nuw || i < ws->nbt; i++)
        fprintf(stderr, "  %2d  %16lx  %16lx\n", i, i < ws->nuw ? (unsigned long)ws->uw[i] : 0ul,
                i < ws->nbt ? (unsigned long)ws->bt[i] : 0ul);
}

/* Every frame both walks have agrees after the first; the unwinder's has at least min. */
static void check_agree(const walks *ws, int min)
{
    int n = ws->nuw < ws->nbt ? ws->nuw : ws->nbt, same = 1;

    for (int i = 1; i < n; i++)
        same &= ws->uw[i] == ws->bt[i];
    CHECK(ws->nuw >= min);
    CHECK(same);
    if (!same || ws->nuw < min)
        print_walks(ws);
}

static void check_ready(void)
{
    static int rc = 1;

    if (rc == 1)
        rc = pyab__unwind_init();
    CHECK(rc == 0);
}

static void test_chain_of_own_functions(void)
{
    check_ready();
    w = (walks){0};
    CHECK(middle(3) == 11);
    check_agree(&w, 5);
    /* Both reach the end of the stack (_start's undefined return address). */
    CHECK(w.nuw == w.nbt);
}

static int compare_ints(const void *a, const void *b)
{
    static int once;

    if (!once++)
        take_both(&w);
    return *(const int *)a - *(const int *)b;
}

static void test_callback_from_libc_qsort(void)
{
    int v[8] = {5, 3, 7, 1, 8, 2, 6, 4};

    check_ready();
    w = (walks){0};
    qsort(v, 8, sizeof(v[0]), compare_ints);
    CHECK(v[0] == 1 && v[7] == 8);
    check_agree(&w, 4);
    CHECK(w.nuw == w.nbt);
}

static int on_object(struct dl_phdr_info *info, size_t size, void *data)
{
    take_both(&w);
    return 1;
}

static void test_callback_from_dl_iterate_phdr(void)
{
    check_ready();
    w = (walks){0};
    CHECK(dl_iterate_phdr(on_object, NULL) == 1);
    check_agree(&w, 4);
    CHECK(w.nuw == w.nbt);
}

static int on_json(const char *buffer, size_t size, void *data)
{
    take_both(&w);
    return 0;
}

static void test_callback_from_libjansson(void)
{
    json_t *j = json_integer(42);

    check_ready();
    w = (walks){0};
    CHECK(json_dump_callback(j, on_json, NULL, JSON_ENCODE_ANY) == 0);
    check_agree(&w, 5);
    CHECK(w.nuw == w.nbt);
    json_decref(j);
}

/* One call site for every walk compared, which a loop might not keep (gcc duplicates calls). */
__attribute__((noinline)) static void walk_from_middle(walks *out)
{
    w = (walks){0};
    middle(5);
    *out = w;
}

static void test_second_walk_from_cache_and_after_flush(void)
{
    walks seen[3];

    check_ready();
    walk_from_middle(&seen[0]);
    walk_from_middle(&seen[1]);
    pyab__unwind_flush();
    walk_from_middle(&seen[2]);
    /* Up to walk_from_middle's frame the walks are the same frames; the
     * next is each call's own site, which backtrace() checks. */
    for (int i = 1; i < 3; i++) {
        CHECK(seen[i].nuw == seen[0].nuw);
        CHECK(memcmp(seen[i].uw, seen[0].uw, 5 * sizeof(seen[0].uw[0])) == 0);
        check_agree(&seen[i], 6);
    }
}

static void test_stop_range_and_max(void)
{
    uintptr_t stop, pc[MAX_FRAMES];

    check_ready();
    w = (walks){0};
    middle(1);
    CHECK(w.nuw >= 5);
    /* The frame of with_frame_pointer, returned to from leaf. */
    stop = w.uw[2];
    w = (walks){.stop_lo = stop, .stop_hi = stop + 1};
    middle(1);
    CHECK(w.nuw == 3);
    CHECK(w.uw[2] == stop);
    CHECK(pyab__unwind(pc, 2, 0, 0) == 2);
    CHECK(pyab__unwind(pc, 0, 0, 0) == 0);
}

static void *thread_main(void *arg)
{
    middle(2);
    return arg;
}

static void test_walk_in_a_thread(void)
{
    pthread_t t;

    check_ready();
    w = (walks){0};
    CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    check_agree(&w, 6);
    /* Both end at clone3's undefined return address. */
    CHECK(w.nuw == w.nbt);
}

static void on_signal(int sig)
{
    take_both(&w);
    __asm__ volatile("" ::: "memory");
}

static void test_stops_at_a_signal_frame(void)
{
    struct sigaction sa = {.sa_handler = on_signal}, old;

    check_ready();
    w = (walks){0};
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, &old) == 0);
    raise(SIGUSR1);
    sigaction(SIGUSR1, &old, NULL);
    /* take_both, the handler, the trampoline it returns to; libgcc goes on beyond it. */
    check_agree(&w, 3);
    CHECK(w.nuw == 3);
    CHECK(w.nbt > w.nuw);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_chain_of_own_functions),
    CHECK_TEST(test_callback_from_libc_qsort),
    CHECK_TEST(test_callback_from_dl_iterate_phdr),
    CHECK_TEST(test_callback_from_libjansson),
    CHECK_TEST(test_second_walk_from_cache_and_after_flush),
    CHECK_TEST(test_stop_range_and_max),
    CHECK_TEST(test_walk_in_a_thread),
    CHECK_TEST(test_stops_at_a_signal_frame),
};

int main(int argc, char **argv)
{
    return check_run("unwind", tests, CHECK_COUNT(tests), argc, argv);
}
