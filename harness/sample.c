#include "sample.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "gcwatch.h"
#include "heap.h"

const char pyab_sample_csv_header[] =
    "t_s,requests,rss_bytes,pyheap_bytes,pymalloc_arena_bytes,native_heap_bytes,"
    "native_free_bytes,gc_count0,gc_count1,gc_count2,gc_collections,gc_pause_s,errors,"
    "latency_p50_ms,latency_p99_ms,phase,native_other_bytes,pyheap_malloc_bytes";

static int statm_fd = -1;
static long page_size;

int pyab_sample_open(void)
{
    page_size = sysconf(_SC_PAGESIZE);
    statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    return statm_fd < 0 ? -errno : 0;
}

int64_t pyab_sample_rss(void)
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
    struct mallinfo2 mi = mallinfo2();

    pyab_heap_read(&hs);
    pyab_gcwatch_totals(&gt);
    s->rss_bytes = pyab_sample_rss();
    s->pyheap_bytes = hs.live_bytes;
    s->pymalloc_arena_bytes = hs.arena_bytes;
    /* In use: sbrk heap + mmapped chunks; free: what malloc holds unused. */
    s->native_heap_bytes = (int64_t)(mi.uordblks + mi.hblkhd);
    s->native_free_bytes = (int64_t)mi.fordblks;
    /* Python's blocks over 512 bytes come from malloc too: take them out to
     * see the native libraries' own share. */
    s->pyheap_malloc_bytes = hs.malloc_bytes;
    s->native_other_bytes = s->native_heap_bytes - hs.malloc_bytes;
    s->gc_collections = gt.collections;
    s->gc_pause_s = (double)gt.pause_ns / 1e9;
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
    pyab_buf_addf(out, ",%s,%lld,%lld\n", s->phase, (long long)s->native_other_bytes,
                  (long long)s->pyheap_malloc_bytes);
}
