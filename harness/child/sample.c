#include "sample.h"

#include <errno.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "gcwatch.h"
#include "heap.h"
#include "pyfacts.h"



static int statm_fd = -1;
static long page_size;

/*
 * A preloaded allocator replaces malloc, and glibc's mallinfo2() then
 * describes only glibc's own, idle heap. jemalloc and tcmalloc answer the
 * same two questions (in use, free) through their own APIs, found with
 * dlsym so pyab links against neither.
 */
typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef int (*tc_property_fn)(const char *, size_t *);
static mallctl_fn je_mallctl;
static tc_property_fn tc_property;
static const char *native_source = "glibc mallinfo2";

static void find_allocator(void)
{
    je_mallctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    tc_property = (tc_property_fn)dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");
    if (je_mallctl)
        native_source = "jemalloc stats.allocated";
    else if (tc_property)
        native_source = "tcmalloc generic.current_allocated_bytes";
    else if (dlsym(RTLD_DEFAULT, "mi_malloc"))
        native_source = "mimalloc preloaded: glibc mallinfo2 (does not see mimalloc's heap)";
}

const char *pyab_sample_native_source(void)
{
    return native_source;
}

/* In-use and free bytes of the allocator behind malloc. */
static void native_heap(int64_t *in_use, int64_t *free_bytes)
{
    if (je_mallctl) {
        uint64_t epoch = 1;
        size_t allocated = 0, resident = 0, sz = sizeof(size_t), esz = sizeof(epoch);
        je_mallctl("epoch", &epoch, &esz, &epoch, esz);
        je_mallctl("stats.allocated", &allocated, &sz, NULL, 0);
        sz = sizeof(size_t);
        je_mallctl("stats.resident", &resident, &sz, NULL, 0);
        *in_use = (int64_t)allocated;
        *free_bytes = resident > allocated ? (int64_t)(resident - allocated) : 0;
    } else if (tc_property) {
        size_t allocated = 0, pagefree = 0;
        tc_property("generic.current_allocated_bytes", &allocated);
        tc_property("tcmalloc.pageheap_free_bytes", &pagefree);
        *in_use = (int64_t)allocated;
        *free_bytes = (int64_t)pagefree;
    } else {
        struct mallinfo2 mi = mallinfo2();
        /* In use: sbrk heap + mmapped chunks; free: what malloc holds unused. */
        *in_use = (int64_t)(mi.uordblks + mi.hblkhd);
        *free_bytes = (int64_t)mi.fordblks;
    }
}

int pyab_sample_open(void)
{
    page_size = sysconf(_SC_PAGESIZE);
    find_allocator();
    statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    return statm_fd < 0 ? -errno : 0;
}

/* Current RSS in bytes (-1 if unreadable). */
static int64_t read_rss(void)
{
    char buf[128];
    ssize_t n;
    char *p;

    if (statm_fd < 0)
        return -1;
    n = pread(statm_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    strtol(buf, &p, 10); /* size; the second field is resident */
    return strtoll(p, NULL, 10) * page_size;
}

void pyab_sample_memory(pyab_sample *s, int gil)
{
    pyab_heap_stats hs;
    pyab_gc_totals gt;

    pyab_heap_read(&hs);
    pyab_gcwatch_totals(&gt);
    s->rss_bytes = read_rss();
    s->pyheap_bytes = hs.live_bytes;
    s->pymalloc_arena_bytes = hs.arena_bytes;
    native_heap(&s->native_heap_bytes, &s->native_free_bytes);
    /* Python's blocks over 512 bytes come from malloc too: take them out to
     * see the native libraries' own share. */
    s->pyheap_malloc_bytes = hs.malloc_bytes;
    s->native_other_bytes = s->native_heap_bytes - hs.malloc_bytes;
    s->gc_collections = gt.collections;
    s->gc_pause_s = (double)gt.pause_ns / 1e9;
    s->refcount_total = pyab_pyfacts_refcount_total();
    if (gil)
        pyab_gcwatch_counts(s->gc_count);
}

static void add_ms(pyab_buf *out, double v)
{
    if (isnan(v))
        pyab_buf_adds(out, ",");
    else
        pyab_buf_addf(out, ",%.3f", v);
}

void pyab_sample_format(const pyab_sample *s, pyab_buf *out)
{
    pyab_buf_addf(out, "%.6f,%llu,%lld,%lld,%lld,%lld,%lld,%ld,%ld,%ld,%llu,%.6f,%llu", s->t_s,
                  (unsigned long long)s->requests, (long long)s->rss_bytes,
                  (long long)s->pyheap_bytes, (long long)s->pymalloc_arena_bytes,
                  (long long)s->native_heap_bytes, (long long)s->native_free_bytes,
                  s->gc_count[0], s->gc_count[1], s->gc_count[2],
                  (unsigned long long)s->gc_collections, s->gc_pause_s,
                  (unsigned long long)s->errors);
    add_ms(out, s->latency_p50_ms);
    add_ms(out, s->latency_p99_ms);
    pyab_buf_addf(out, ",%s,%lld,%lld", s->phase, (long long)s->native_other_bytes,
                  (long long)s->pyheap_malloc_bytes);
    /* Empty on a release build: it keeps no reference total. */
    if (s->refcount_total >= 0)
        pyab_buf_addf(out, ",%lld\n", (long long)s->refcount_total);
    else
        pyab_buf_adds(out, ",\n");
}
