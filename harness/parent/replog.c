#include "replog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The service's stdout.log and stderr.log keep their first and last
 * LOG_KEEP bytes. The child writes to the files directly (opened in
 * spawn_rep) and they are cut once it has exited, keeping head and tail
 * at line boundaries with a line in between that says how much was cut.
 * A pipe that the parent reads would cap the disk used during the rep
 * too, but the parent would then copy every byte the service prints, and
 * whenever it lagged (a look at the samples, writing summary.json) the
 * service would block inside a request on a full pipe, changing the
 * latency being measured; a file behaves as in production. The price is
 * that a chatty service's log is whole on disk until its rep ends.
 */
#define LOG_KEEP (1024 * 1024)

/* Reads len bytes at off into a new buffer (NUL-terminated), or NULL. */
static char *read_at(int fd, off_t off, size_t len)
{
    char *buf = xmalloc(len + 1);
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

void pyab_replog_cap(const char *dir, json_t *logs, pyab_progress *progress, const char *name)
{
    char *path = pyab_path_join(dir, name), *head = NULL, *tail = NULL, mark[192];
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    off_t size = 0, cut = 0;

    if (fd < 0 || fstat(fd, &st) != 0)
        goto out;
    size = st.st_size;
    if (size <= 2 * LOG_KEEP + (off_t)sizeof(mark))
        goto out;
    head = read_at(fd, 0, LOG_KEEP);
    tail = read_at(fd, size - LOG_KEEP, LOG_KEEP);
    if (head && tail) {
        char *nl = memrchr(head, '\n', LOG_KEEP), *from = memchr(tail, '\n', LOG_KEEP);
        size_t keep_head = nl ? (size_t)(nl - head) + 1 : LOG_KEEP;
        size_t skip = from && from < tail + LOG_KEEP - 1 ? (size_t)(from - tail) + 1 : 0;
        size_t keep_tail = LOG_KEEP - skip;
        cut = size - (off_t)keep_head - (off_t)keep_tail;
        int n = snprintf(mark, sizeof(mark), "[pyab: %lld bytes of %lld cut here; the first and "
                         "last MiB are kept]\n", (long long)cut, (long long)size);
        if (pwrite(fd, mark, (size_t)n, (off_t)keep_head) != n ||
            pwrite(fd, tail + skip, keep_tail, (off_t)keep_head + n) != (ssize_t)keep_tail ||
            ftruncate(fd, (off_t)(keep_head + (size_t)n + keep_tail)) != 0)
            pyab_progress_log(progress, "%s: cannot cut: %s", path, strerror(errno));
    }
out:
    json_object_set_new(logs, name, json_pack("{sIsI}", "bytes_written", (json_int_t)size,
                                                 "bytes_cut", (json_int_t)cut));
    if (fd >= 0)
        close(fd);
    free(head);
    free(tail);
    free(path);
}
