#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The attribute lets the compiler check every caller's format against its arguments. */
PYAB_PRINTF(3, 0) static void error_vset(pyab_error *err, int code, const char *fmt, va_list ap)
{
    if (err == NULL)
        return;
    err->exit_code = code;
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
}

int pyab_error_set(pyab_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, PYAB_EXIT_USAGE, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int pyab_error_internal(pyab_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, PYAB_EXIT_INTERNAL, fmt, ap);
    va_end(ap);
    return -EIO;
}

void pyab_error_prefix(pyab_error *err, const char *fmt, ...)
{
    char prefix[512], old[sizeof(err->text)];
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->text, sizeof(old));
    /* Keep the end of the old text when both do not fit: it names the place. */
    size_t n = (size_t)snprintf(err->text, sizeof(err->text), "%s: ", prefix);
    if (n < sizeof(err->text))
        memcpy(err->text + n, old, sizeof(err->text) - n - 1);
    err->text[sizeof(err->text) - 1] = '\0';
}

static PYAB_NORETURN void out_of_memory(size_t n)
{
    fprintf(stderr, "pyab: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        out_of_memory(n);
    return p;
}

void *xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL)
        out_of_memory(count * n);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL)
        out_of_memory(n);
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        out_of_memory(strlen(fmt));
    va_end(ap);
    return s;
}

void pyab_buf_init(pyab_buf *b)
{
    b->cap = 256;
    b->len = 0;
    b->data = xmalloc(b->cap);
    b->data[0] = '\0';
}

void pyab_buf_reserve(pyab_buf *b, size_t n)
{
    if (b->cap < b->len + n + 1)
        b->data = xrealloc(b->data, b->cap = b->len + n + 1);
}

void pyab_buf_finish(pyab_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static void buf_reserve(pyab_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    while (b->len + extra + 1 > b->cap)
        b->cap *= 2;
    b->data = xrealloc(b->data, b->cap);
}

void pyab_buf_add(pyab_buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void pyab_buf_adds(pyab_buf *b, const char *s)
{
    pyab_buf_add(b, s, strlen(s));
}

void pyab_buf_addf(pyab_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void pyab_buf_add_json_string(pyab_buf *b, const char *s)
{
    pyab_buf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            pyab_buf_addf(b, "\\%c", c);
        else if (c < 0x20)
            pyab_buf_addf(b, "\\u%04x", c);
        else
            pyab_buf_add(b, s, 1);
    }
    pyab_buf_add(b, "\"", 1);
}

uint64_t pyab_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double pyab_now_s(void)
{
    return (double)pyab_now_ns() / 1e9;
}

void pyab_log(const char *fmt, ...)
{
    va_list ap;
    char line[4096];

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "pyab: %s\n", line);
}

char *pyab_path_join(const char *dir, const char *name)
{
    if (name[0] == '/' || dir == NULL || dir[0] == '\0')
        return xstrdup(name);
    return xasprintf("%s/%s", dir, name);
}

char *pyab_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

char *pyab_path_absolute(const char *path)
{
    char cwd[PATH_MAX];

    if (path[0] == '/')
        return xstrdup(path);
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return xstrdup(path);
    return xasprintf("%s/%s", cwd, path);
}

int pyab_mkdirs(const char *dir)
{
    char *p = xstrdup(dir);
    int rc = 0;

    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) < 0 && errno != EEXIST) {
            rc = -errno;
            goto out;
        }
        *s = '/';
    }
    if (mkdir(p, 0777) < 0 && errno != EEXIST)
        rc = -errno;
out:
    free(p);
    return rc;
}

/* Generous: a day of access log or a long HAR fits; /dev/zero behind a symlink does not. */
#define DEFAULT_MAX_FILE_MB 4096

size_t pyab_file_max_bytes(void)
{
    const char *env = getenv("PYAB_MAX_FILE_MB");
    long mb;

    if (env == NULL || pyab_parse_long(env, &mb) < 0 || mb <= 0 ||
        (unsigned long)mb > SIZE_MAX / 1048576)
        mb = DEFAULT_MAX_FILE_MB;
    return (size_t)mb * 1048576;
}

const char *pyab_file_strerror(int rc)
{
    static __thread char buf[160];

    switch (-rc) {
    case ENODEV:
        return "not a regular file (a device or a socket; pyab reads files and pipes)";
    case EISDIR:
        return "is a folder, not a file";
    case EFBIG:
        snprintf(buf, sizeof(buf), "larger than the %zu MiB pyab reads into memory (set "
                 "PYAB_MAX_FILE_MB to allow more)", pyab_file_max_bytes() / 1048576);
        return buf;
    default:
        return strerror(-rc);
    }
}

/* Whether a file of this kind and size may be read whole; 0 or the -errno to refuse it with. */
static int readable_whole(const struct stat *st, size_t max)
{
    if (S_ISDIR(st->st_mode))
        return -EISDIR;
    if (!S_ISREG(st->st_mode) && !S_ISFIFO(st->st_mode))
        return -ENODEV;
    if (S_ISREG(st->st_mode) && (uintmax_t)st->st_size > max)
        return -EFBIG;
    return 0;
}

int pyab_file_read(const char *path, char **out, size_t *len)
{
    size_t max = pyab_file_max_bytes(), n;
    FILE *f = fopen(path, "rb");
    struct stat st;
    char chunk[65536];
    pyab_buf b;
    int rc;

    if (f == NULL)
        return -errno;
    rc = fstat(fileno(f), &st) != 0 ? -errno : readable_whole(&st, max);
    if (rc < 0) {
        fclose(f);
        return rc;
    }
    pyab_buf_init(&b);
    /* A pipe, or a file that grows while read, is held to the cap as well. */
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (n > max - b.len)
            rc = -EFBIG;
        else
            pyab_buf_add(&b, chunk, n);
    }
    if (rc == 0 && ferror(f))
        rc = errno ? -errno : -EIO;
    fclose(f);
    if (rc < 0) {
        pyab_buf_finish(&b);
        return rc;
    }
    *out = b.data;
    if (len)
        *len = b.len;
    return 0;
}

int pyab_file_write_atomic(const char *path, const void *data, size_t len)
{
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    const char *p = data;
    int fd, rc = 0;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = -errno;
        goto out_free;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out_close;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) < 0)
        rc = -errno;
out_close:
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
out_free:
    free(tmp);
    return rc;
}

int pyab_parse_long(const char *s, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return -EINVAL;
    return 0;
}

int pyab_parse_double(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    if (errno || end == s || *end != '\0')
        return -EINVAL;
    return 0;
}

json_t *pyab_json_number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int pyab_json_write_atomic(const char *path, const json_t *j, size_t flags, pyab_error *err)
{
    char *text = json_dumps(j, flags);
    int rc = text ? pyab_file_write_atomic(path, text, strlen(text)) : -ENOMEM;

    free(text);
    if (rc < 0)
        pyab_error_internal(err, "%s: cannot write: %s", path, strerror(-rc));
    return rc;
}

size_t pyab_utf8_bom(const char *data, size_t len)
{
    return len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

json_t *pyab_json_read(const char *path, size_t flags, pyab_error *err)
{
    json_error_t jerr;
    struct stat st;
    json_t *j;
    char *text;
    size_t len, skip;
    int rc;

    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        pyab_error_set(err, "%s: is a folder, not a file", path);
        return NULL;
    }
    if ((rc = pyab_file_read(path, &text, &len)) < 0) {
        pyab_error_set(err, "%s: cannot read: %s", path, pyab_file_strerror(rc));
        return NULL;
    }
    skip = pyab_utf8_bom(text, len);
    j = json_loadb(text + skip, len - skip, flags, &jerr);
    free(text);
    if (j == NULL)
        pyab_error_set(err, "%s:%d:%d: %s", path, jerr.line, pyab_json_column(&jerr), jerr.text);
    return j;
}

int pyab_json_column(const json_error_t *jerr)
{
    return jerr->column > 0 ? jerr->column : 1;
}

int pyab_path_state(const char *path)
{
    struct stat st;
    struct dirent *e;
    DIR *d;
    int state = PYAB_PATH_EMPTY_DIR;

    if (stat(path, &st) != 0)
        return PYAB_PATH_MISSING;
    if (!S_ISDIR(st.st_mode) || (d = opendir(path)) == NULL)
        return PYAB_PATH_NOT_DIR;
    while (state == PYAB_PATH_EMPTY_DIR && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            state = PYAB_PATH_FULL_DIR;
    closedir(d);
    return state;
}
