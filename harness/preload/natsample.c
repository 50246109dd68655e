/*
 * The native sampler's sampling: each thread's countdown to its next
 * sample, the walk of the native stack (pyab's unwinder, libunwind or
 * libgcc), the lock the tables (sampletab.c) are used under, and the API
 * the child finds by dlsym.
 */
#include "natsample.h"
#include "sampletab.h"
#include "unwinder.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unwind.h>

#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))

/* Countdown while sampling is off: asks again after this many bytes. */
#define IDLE_COUNTDOWN (256 << 10)
/* Frames of the sampler itself that a walk sees first, at most (skipped). */
#define OWN_FRAMES 6

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int sampling;
static double mean_bytes;
static const _Atomic uint64_t *dispatched;
static pyab_natsample_pystack_fn pystack;
static int tables_ready;

/* This library's own code, whose frames lead every stack. */
static uintptr_t own_lo, own_hi;
/* The interpreter's code: a stack ends at its first frame there. */
static uintptr_t py_lo, py_hi;
/*
 * The unwinder, chosen once at start (PYAB_NATIVE_UNWINDER=pyab, libunwind
 * or libgcc picks one, to compare). First choice: unwinder.c's, which keeps
 * one 8-byte rule per return address in a 32 KiB table shared by all
 * threads, so a walk through frames seen before reads no unwind tables.
 * Second, where that one does not exist (not x86-64, glibc before 2.35):
 * libunwind's unw_backtrace (Debian's libunwind8, opened with RTLD_LOCAL
 * so that its own backtrace and _Unwind_* do not replace anyone's), which
 * caches per thread too but maps 256 KiB a thread and touches it by hash.
 * Last: libgcc's _Unwind_Backtrace, which interprets the CFI of every
 * frame on every walk, called directly so that a walk can stop at the
 * interpreter (backtrace() walks to the end). Per sample, numpy + cv2
 * handler under callgrind: see README.
 */
enum { UNWINDER_PYAB, UNWINDER_LIBUNWIND, UNWINDER_LIBGCC, UNWINDER_BACKTRACE };
static const char *const unwinder_names[] = {"pyab", "libunwind", "libgcc", "backtrace"};
static int unwinder = -1;
static int (*unw_backtrace_fn)(void **, int);
static _Unwind_Reason_Code (*unwind_backtrace)(_Unwind_Trace_Fn, void *);
static _Unwind_Ptr (*unwind_getip)(struct _Unwind_Context *);

typedef struct walk {
    uintptr_t *pc;
    int n, max;
} walk;

static TLS uint64_t rng;

static double uniform01(void)
{
    if (rng == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        rng = ((uint64_t)(uintptr_t)&rng ^ (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull) | 1;
    }
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return ((double)((rng * 0x2545F4914F6CDD1Dull) >> 11) + 1.0) / 9007199254740993.0;
}

static int64_t next_countdown(void)
{
    double d = -log(uniform01()) * mean_bytes;

    return d < 1 ? 1 : d > 4e18 ? (int64_t)4e18 : (int64_t)d;
}

static void record(uintptr_t p, uint64_t n, int kind, const uintptr_t *pc, int npc)
{
    pyab_natsample_pyframe py[PYAB_NATSAMPLE_PYFRAMES];
    int npy = 0;

    pthread_mutex_lock(&lock);
    if (atomic_load(&sampling)) {
        if (pystack)
            npy = pystack(py, PYAB_NATSAMPLE_PYFRAMES);
        pyab__tab_record(p, n, kind, pc, npc, py, npy,
                         dispatched ? atomic_load_explicit(dispatched, memory_order_relaxed) : 0);
    }
    pthread_mutex_unlock(&lock);
}

static _Unwind_Reason_Code step(struct _Unwind_Context *ctx, void *data)
{
    walk *w = data;
    uintptr_t ip = (uintptr_t)unwind_getip(ctx);

    if (ip == 0 || w->n == w->max)
        return _URC_END_OF_STACK;
    w->pc[w->n++] = ip;
    return ip >= py_lo && ip < py_hi ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static int native_stack(uintptr_t *pc, int max)
{
    walk w = {pc, 0, max};
    int n;

    switch (unwinder) {
    case UNWINDER_PYAB:
        return pyab__unwind(pc, max, py_lo, py_hi);
    case UNWINDER_LIBUNWIND:
        n = unw_backtrace_fn((void **)pc, max);
        /* The stack ends at its first interpreter frame, as step() ends it. */
        for (int i = 0; i < n; i++)
            if (pc[i] >= py_lo && pc[i] < py_hi)
                return i + 1;
        return n;
    case UNWINDER_LIBGCC:
        unwind_backtrace(step, &w);
        return w.n;
    default:
        return backtrace((void **)pc, max);
    }
}

int64_t pyab__natsample_take(void *p, uint64_t n, int kind)
{
    uintptr_t pc[PYAB_NATSAMPLE_FRAMES + OWN_FRAMES];
    int npc, skip = 0;

    if (!atomic_load_explicit(&sampling, memory_order_acquire))
        return IDLE_COUNTDOWN;
    if (p) {
        npc = native_stack(pc, PYAB_NATSAMPLE_FRAMES + OWN_FRAMES);
        while (skip < npc && pc[skip] >= own_lo && pc[skip] < own_hi)
            skip++;
        record((uintptr_t)p, n, kind, pc + skip, npc - skip > PYAB_NATSAMPLE_FRAMES
                                                      ? PYAB_NATSAMPLE_FRAMES : npc - skip);
    }
    return next_countdown();
}

void pyab__natsample_forget(const void *p)
{
    pthread_mutex_lock(&lock);
    pyab__tab_forget((uintptr_t)p);
    pthread_mutex_unlock(&lock);
}

void pyab__natsample_unmap(const void *addr, size_t len)
{
    pthread_mutex_lock(&lock);
    pyab__tab_unmap((uintptr_t)addr, (uintptr_t)addr + len);
    pthread_mutex_unlock(&lock);
}

typedef struct segment {
    uintptr_t addr, lo, hi;
} segment;

/* The executable segment holding seg->addr. */
static int find_segment(struct dl_phdr_info *info, size_t size, void *data)
{
    segment *seg = data;

    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && seg->addr >= lo && seg->addr < hi) {
            seg->lo = lo;
            seg->hi = hi;
            return 1;
        }
    }
    return 0;
}

static void code_range(const void *addr, uintptr_t *lo, uintptr_t *hi)
{
    segment seg = {(uintptr_t)addr, 0, 0};

    if (addr)
        dl_iterate_phdr(find_segment, &seg);
    *lo = seg.lo;
    *hi = seg.hi;
}

static void load_libgcc(void)
{
    void *gcc = dlopen("libgcc_s.so.1", RTLD_NOW);

    if (gcc == NULL)
        return;
    unwind_getip = (_Unwind_Ptr(*)(struct _Unwind_Context *))dlsym(gcc, "_Unwind_GetIP");
    unwind_backtrace = (_Unwind_Reason_Code(*)(_Unwind_Trace_Fn, void *))dlsym(
        gcc, "_Unwind_Backtrace");
}

static void load_libunwind(void)
{
    void *unw = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);

    if (unw)
        unw_backtrace_fn = (int (*)(void **, int))dlsym(unw, "unw_backtrace");
}

/* The first unwinder that loads, from the one the environment asks for or from pyab's own. */
static int choose_unwinder(void)
{
    const char *want = getenv("PYAB_NATIVE_UNWINDER");
    int first = UNWINDER_PYAB;

    for (int i = 0; want && i < UNWINDER_BACKTRACE; i++)
        if (strcmp(want, unwinder_names[i]) == 0)
            first = i;
    for (int i = first; i < UNWINDER_BACKTRACE; i++) {
        if (i == UNWINDER_PYAB && pyab__unwind_init() == 0)
            return i;
        if (i == UNWINDER_LIBUNWIND && (load_libunwind(), unw_backtrace_fn))
            return i;
        if (i == UNWINDER_LIBGCC && (load_libgcc(), unwind_backtrace && unwind_getip))
            return i;
    }
    return UNWINDER_BACKTRACE;
}

/* A forked process must not wait on a lock another thread held at fork. */
static void after_fork_child(void)
{
    pthread_mutex_init(&lock, NULL);
    atomic_store(&sampling, 0);
}

static int api_start(double mean, const _Atomic uint64_t *counter, pyab_natsample_pystack_fn fn,
                     const void *interpreter)
{
    void *prime[4];

    if (mean < 1)
        return -EINVAL;
    pthread_mutex_lock(&lock);
    if (!tables_ready) {
        if (pyab__tab_init() < 0) {
            pthread_mutex_unlock(&lock);
            return -ENOMEM;
        }
        pthread_atfork(NULL, NULL, after_fork_child);
        tables_ready = 1;
    }
    /* Loading an unwinder allocates, and so does its first walk (libunwind's
     * maps the calling thread's cache; pyab's binds _dl_find_object): not
     * inside a hook. The first backtrace() loads libgcc_s, which pyab's
     * and libunwind's walks never need (128 KiB of RSS it would touch). */
    if (unwinder < 0)
        unwinder = choose_unwinder();
    if (unwinder >= UNWINDER_LIBGCC)
        backtrace(prime, 4);
    native_stack((uintptr_t *)prime, 4);
    code_range((const void *)(uintptr_t)&api_start, &own_lo, &own_hi);
    code_range(interpreter, &py_lo, &py_hi);
    mean_bytes = mean;
    dispatched = counter;
    pystack = fn;
    atomic_store_explicit(&sampling, 1, memory_order_release);
    pthread_mutex_unlock(&lock);
    return 0;
}

static void api_stop(void)
{
    atomic_store(&sampling, 0);
    /* Wait for a sample being recorded. */
    pthread_mutex_lock(&lock);
    pthread_mutex_unlock(&lock);
}

static void api_foreach(void (*fn)(void *, const pyab_natsample_live *,
                                   const pyab_natsample_stack *),
                        void *data)
{
    pthread_mutex_lock(&lock);
    pyab__tab_foreach(fn, data);
    pthread_mutex_unlock(&lock);
}

static void api_stats(pyab_natsample_stats *out)
{
    pthread_mutex_lock(&lock);
    pyab__tab_stats(out);
    out->unwinder = unwinder < 0 ? NULL : unwinder_names[unwinder];
    pthread_mutex_unlock(&lock);
}

static uintptr_t api_function_start(uintptr_t return_address)
{
    /* A return address can be one past its function's end (a call last). */
    return return_address ? pyab__unwind_function_start(return_address - 1) : 0;
}

EXPORT const pyab_natsample_api pyab_natsample = {
    PYAB_NATSAMPLE_VERSION, api_start, api_stop, api_foreach, api_stats, api_function_start,
};
