/*
 * The malloc family and anonymous mmap/munmap, replaced by pyab-native.so
 * and forwarded to the next definition (RTLD_NEXT: glibc, or the arm's
 * preloaded allocator, which the parent puts after this library). Each
 * allocation subtracts its size from the calling thread's countdown; the
 * one that takes it to zero or below goes to the sampler (natsample.c),
 * which hands back the next countdown. A free asks the sampler only when
 * its filter says the block may be sampled.
 */
/* Both mmap and mmap64 are defined here (the same call on 64-bit Linux);
 * with 64-bit offsets the header would rename mmap to mmap64. */
#undef _FILE_OFFSET_BITS

#include "natsample.h"
#include "unwinder.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))
#define unlikely(x) __builtin_expect(!!(x), 0)

static void *(*next_malloc)(size_t);
static void (*next_free)(void *);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void *(*next_reallocarray)(void *, size_t, size_t);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);
static void *(*next_memalign)(size_t, size_t);
static void *(*next_valloc)(size_t);
static void *(*next_pvalloc)(size_t);
static void *(*next_mmap)(void *, size_t, int, int, int, off_t);
static int (*next_munmap)(void *, size_t);
void *(*pyab__next_dlsym)(void *, const char *);

/* Bytes left before this thread's next sample; 0 in a new thread, which
 * therefore asks the sampler for its first countdown. */
static TLS int64_t countdown;
/* Set while this thread is inside the sampler: its own calls are not sampled. */
static TLS int in_sampler;
/* Whether this thread has drawn its first countdown. */
static TLS int drawn;

/*
 * dlsym allocates (its error buffer) before the next calloc is known: a
 * small static heap serves whatever is asked for while resolving. Its
 * blocks are never freed; free and realloc recognise them.
 */
static _Alignas(16) char boot_heap[8192];
static size_t boot_used;
static int resolving;

static void *boot_alloc(size_t n)
{
    size_t at = (boot_used + 15) & ~(size_t)15;

    if (n > sizeof(boot_heap) - at)
        return NULL;
    boot_used = at + n;
    return boot_heap + at;
}

static int is_boot(const void *p)
{
    return (const char *)p >= boot_heap && (const char *)p < boot_heap + sizeof(boot_heap);
}

/* Called from here, the real dlsym resolves RTLD_NEXT relative to this library. */
#define RESOLVE(name) next_##name = (__typeof__(next_##name))pyab__next_dlsym(RTLD_NEXT, #name)

static void resolve(void)
{
    if (resolving)
        return;
    resolving = 1;
    pyab__next_dlsym = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (pyab__next_dlsym == NULL)
        pyab__next_dlsym = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym",
                                                                  "GLIBC_2.2.5");
    RESOLVE(calloc);
    RESOLVE(malloc);
    RESOLVE(free);
    RESOLVE(realloc);
    RESOLVE(reallocarray);
    RESOLVE(posix_memalign);
    RESOLVE(aligned_alloc);
    RESOLVE(memalign);
    RESOLVE(valloc);
    RESOLVE(pvalloc);
    RESOLVE(mmap);
    RESOLVE(munmap);
    resolving = 0;
}

__attribute__((constructor)) static void natsample_init(void)
{
    if (next_malloc == NULL)
        resolve();
}

static void cross(void *p, uint64_t n, int kind)
{
    if (in_sampler) {
        countdown = 1 << 20;
        return;
    }
    in_sampler = 1;
    /* A thread's first crossing is its initial 0, not a sample: recording
     * it would sample every thread's first allocation. */
    countdown = pyab__natsample_take(drawn ? p : NULL, n, kind);
    drawn = 1;
    in_sampler = 0;
}

static inline void account(void *p, uint64_t n, int kind)
{
    if (unlikely((countdown -= (int64_t)n) <= 0))
        cross(p, n, kind);
}

static inline void drop(void *p)
{
    if (unlikely(pyab__natsample_maybe(p)) && !in_sampler)
        pyab__natsample_forget(p);
}

EXPORT void *malloc(size_t n)
{
    void *p;

    if (unlikely(next_malloc == NULL)) {
        resolve();
        if (next_malloc == NULL)
            return boot_alloc(n);
    }
    p = next_malloc(n);
    if (p)
        account(p, n, PYAB_NATSAMPLE_MALLOC);
    return p;
}

EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;
    void *p;

    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (unlikely(next_calloc == NULL)) {
        resolve();
        if (next_calloc == NULL)
            return boot_alloc(total); /* static, hence zeroed */
    }
    p = next_calloc(n, size);
    if (p)
        account(p, total, PYAB_NATSAMPLE_MALLOC);
    return p;
}

EXPORT void free(void *p)
{
    if (p == NULL || unlikely(is_boot(p)))
        return;
    if (unlikely(next_free == NULL))
        resolve();
    drop(p);
    next_free(p);
}

static void *realloc_boot(void *p, size_t n)
{
    size_t room = (size_t)(boot_heap + sizeof(boot_heap) - (char *)p);
    void *q = malloc(n);

    if (q)
        memcpy(q, p, n < room ? n : room);
    return q;
}

EXPORT void *realloc(void *p, size_t n)
{
    void *q;

    if (p && unlikely(is_boot(p)))
        return realloc_boot(p, n);
    if (unlikely(next_realloc == NULL))
        resolve();
    /* The old block's sample goes; whether the new block is sampled is a
     * fresh draw on its whole size, so the estimate of what survives
     * stays unbiased. */
    if (p)
        drop(p);
    q = next_realloc(p, n);
    if (q)
        account(q, n, PYAB_NATSAMPLE_MALLOC);
    return q;
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;

    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    int rc;

    if (unlikely(next_posix_memalign == NULL))
        resolve();
    rc = next_posix_memalign(out, align, n);
    if (rc == 0 && *out)
        account(*out, n, PYAB_NATSAMPLE_MALLOC);
    return rc;
}

#define ALIGNED(name, params, args, size)          \
    EXPORT void *name params                       \
    {                                              \
        void *p;                                   \
        if (unlikely(next_##name == NULL))         \
            resolve();                             \
        p = next_##name args;                      \
        if (p)                                     \
            account(p, size, PYAB_NATSAMPLE_MALLOC); \
        return p;                                  \
    }

ALIGNED(aligned_alloc, (size_t align, size_t n), (align, n), n)
ALIGNED(memalign, (size_t align, size_t n), (align, n), n)
ALIGNED(valloc, (size_t n), (n), n)
ALIGNED(pvalloc, (size_t n), (n), n)

/*
 * Anonymous mappings: private allocators and arenas (pymalloc's among
 * them) take memory this way. glibc's malloc maps its large blocks with
 * an internal call that does not come here; those are sampled as malloc.
 */
EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *p;

    if (unlikely(next_mmap == NULL))
        resolve();
    p = next_mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && (flags & MAP_ANONYMOUS) && !(flags & MAP_FIXED))
        account(p, len, PYAB_NATSAMPLE_MMAP);
    return p;
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

EXPORT int munmap(void *addr, size_t len)
{
    if (unlikely(next_munmap == NULL))
        resolve();
    if (atomic_load_explicit(&pyab__natsample_mmaps, memory_order_relaxed) && !in_sampler)
        pyab__natsample_unmap(addr, len);
    return next_munmap(addr, len);
}

/*
 * dlclose: the unwinder remembers rules by address, and another library
 * may be mapped where the closed one was (unwinder.h).
 */
EXPORT int dlclose(void *handle)
{
    static int (*next_dlclose)(void *);
    int rc;

    if (unlikely(pyab__next_dlsym == NULL))
        resolve();
    if (unlikely(next_dlclose == NULL))
        next_dlclose = (int (*)(void *))pyab__next_dlsym(RTLD_NEXT, "dlclose");
    rc = next_dlclose(handle);
    pyab__unwind_flush();
    return rc;
}

/*
 * dlsym on a library's own handle finds that library's definition, not
 * this one: ctypes' CDLL("libc.so.6").malloc would allocate behind the
 * sampler's back. So a lookup of one of the names replaced here that
 * lands on glibc's definition, or on the one these forward to, returns
 * the replacement instead. RTLD_NEXT must be resolved relative to the
 * caller, which only the real dlsym knows from its return address: the
 * entry below jumps there without a frame of its own (x86-64; elsewhere
 * dlsym is left alone and such lookups go unsampled).
 */
#if defined(__x86_64__)
static void *replacement(const char *name)
{
    static const struct {
        const char *name;
        void *ours;
        void **next;
    } names[] = {
        {"malloc", (void *)malloc, (void **)&next_malloc},
        {"free", (void *)free, (void **)&next_free},
        {"calloc", (void *)calloc, (void **)&next_calloc},
        {"realloc", (void *)realloc, (void **)&next_realloc},
        {"reallocarray", (void *)reallocarray, (void **)&next_reallocarray},
        {"posix_memalign", (void *)posix_memalign, (void **)&next_posix_memalign},
        {"aligned_alloc", (void *)aligned_alloc, (void **)&next_aligned_alloc},
        {"memalign", (void *)memalign, (void **)&next_memalign},
        {"valloc", (void *)valloc, (void **)&next_valloc},
        {"pvalloc", (void *)pvalloc, (void **)&next_pvalloc},
        {"mmap", (void *)mmap, (void **)&next_mmap},
        {"mmap64", (void *)mmap64, (void **)&next_mmap},
        {"munmap", (void *)munmap, (void **)&next_munmap},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i].name) == 0)
            return names[i].ours;
    return NULL;
}

__attribute__((visibility("hidden"))) void *pyab__dlsym_handle(void *handle, const char *name);

void *pyab__dlsym_handle(void *handle, const char *name)
{
    void *found, *ours;
    Dl_info info;

    if (unlikely(pyab__next_dlsym == NULL))
        resolve();
    found = pyab__next_dlsym(handle, name);
    if (found == NULL || name == NULL || (ours = replacement(name)) == NULL || found == ours)
        return found;
    if (dladdr(found, &info) && info.dli_fname && strstr(info.dli_fname, "/libc.so"))
        return ours;
    return found;
}

/* dlsym: RTLD_NEXT ((void *)-1) jumps to the real one (once it is known), the rest go above. */
__asm__(".text\n"
        ".globl dlsym\n"
        ".type dlsym, @function\n"
        "dlsym:\n"
        "    cmpq $-1, %rdi\n"
        "    jne 1f\n"
        "    cmpq $0, pyab__next_dlsym(%rip)\n"
        "    je 1f\n"
        "    jmp *pyab__next_dlsym(%rip)\n"
        "1:  jmp pyab__dlsym_handle\n"
        ".size dlsym, .-dlsym\n");
#endif
