/*
 * util: the small pieces every other module leans on.
 *
 * Allocation that aborts on out-of-memory (so callers never test for NULL
 * from xmalloc), the error struct that carries a user-facing message with
 * its place (file, line, column, key path) up to main, monotonic clocks,
 * paths, and atomic file writes (write to a temporary, fsync, rename) so
 * that a reader never sees half a file.
 */
#ifndef PYAB_UTIL_H
#define PYAB_UTIL_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PYAB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PYAB_NORETURN __attribute__((noreturn))
#define PYAB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes, documented in the README. */
enum {
    PYAB_EXIT_OK = 0,
    PYAB_EXIT_FAIL = 1,     /* a check failed: budget or regression */
    PYAB_EXIT_USAGE = 2,    /* bad input: scenario, trace, flags */
    PYAB_EXIT_INTERNAL = 3, /* pyab's own failure */
};

/*
 * What the user must read when something fails. Filled by the module that
 * found the problem; main prints it. `text` always names the place.
 */
typedef struct pyab_error {
    int exit_code; /* PYAB_EXIT_USAGE or PYAB_EXIT_INTERNAL */
    char text[8192];
} pyab_error;

/* Sets err->text from a format; exit_code becomes PYAB_EXIT_USAGE. Returns -EINVAL. */
int pyab_error_set(pyab_error *err, const char *fmt, ...) PYAB_PRINTF(2, 3);
/* Same, for pyab's own failures; exit_code becomes PYAB_EXIT_INTERNAL. Returns -EIO. */
int pyab_error_internal(pyab_error *err, const char *fmt, ...) PYAB_PRINTF(2, 3);
/* Prepends "prefix: " to an error already set (adds context on the way up). */
void pyab_error_prefix(pyab_error *err, const char *fmt, ...) PYAB_PRINTF(2, 3);

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PYAB_PRINTF(1, 2);

/* A growable byte buffer. init/finish: embedded; the bytes stay NUL-terminated. */
typedef struct pyab_buf {
    char *data;
    size_t len, cap;
} pyab_buf;

void pyab_buf_init(pyab_buf *b);
void pyab_buf_finish(pyab_buf *b);
/* Makes room for n more bytes now, so later adds up to that do not allocate. */
void pyab_buf_reserve(pyab_buf *b, size_t n);
void pyab_buf_add(pyab_buf *b, const void *p, size_t n);
void pyab_buf_adds(pyab_buf *b, const char *s);
void pyab_buf_addf(pyab_buf *b, const char *fmt, ...) PYAB_PRINTF(2, 3);
/* Appends s as a JSON string literal (quoted and escaped). */
void pyab_buf_add_json_string(pyab_buf *b, const char *s);

/* Monotonic clock in nanoseconds and seconds. */
uint64_t pyab_now_ns(void);
double pyab_now_s(void);

/* Logging to stderr with the program's prefix. */
void pyab_log(const char *fmt, ...) PYAB_PRINTF(1, 2);

/* Paths. Results are new strings. */
char *pyab_path_join(const char *dir, const char *name);
char *pyab_path_dirname(const char *path);
char *pyab_path_absolute(const char *path);
/* Makes dir and its parents; 0 or -errno. */
int pyab_mkdirs(const char *dir);

/* What is at path, for output folders that must be new. */
enum { PYAB_PATH_MISSING, PYAB_PATH_EMPTY_DIR, PYAB_PATH_FULL_DIR, PYAB_PATH_NOT_DIR };
int pyab_path_state(const char *path);

/*
 * Reads a whole file (or a pipe) into a new NUL-terminated buffer; 0 or
 * -errno. A folder is -EISDIR, a device or socket -ENODEV (/dev/zero would
 * never end), anything larger than pyab_file_max_bytes() -EFBIG: say them
 * with pyab_file_strerror.
 */
int pyab_file_read(const char *path, char **out, size_t *len);
/* The most pyab_file_read takes: $PYAB_MAX_FILE_MB mebibytes, else 4 GiB. */
size_t pyab_file_max_bytes(void);
/* Why pyab_file_read returned rc (< 0), for "PATH: cannot read: WHY". Static string. */
const char *pyab_file_strerror(int rc);
/*
 * Writes a file atomically: PATH.tmp, fsync, rename. A reader sees the old
 * file or the whole new one, never half. 0 or -errno.
 */
int pyab_file_write_atomic(const char *path, const void *data, size_t len);

/* A JSON real, or null when v is NaN or infinite (JSON has neither). New reference. */
json_t *pyab_json_number(double v);
/*
 * Writes j (borrowed) to path atomically, dumped with jansson's `flags`.
 * 0, or a negative errno with err saying "PATH: cannot write: why".
 */
int pyab_json_write_atomic(const char *path, const json_t *j, size_t flags, pyab_error *err);

/*
 * Reads a JSON file a person wrote: a UTF-8 byte-order mark is skipped, a
 * folder is refused. New reference, or NULL with err naming the file (and
 * line and column for a syntax error).
 */
json_t *pyab_json_read(const char *path, size_t flags, pyab_error *err);

/*
 * The column of a jansson error, from 1: jansson says 0 for a place at the
 * start of a line (the end of a file after its last newline).
 */
int pyab_json_column(const json_error_t *jerr);

/* "s" unless n is 1: "%zu request%s", n, PYAB_PLURAL(n). */
#define PYAB_PLURAL(n) ((n) == 1 ? "" : "s")

/* Length of a UTF-8 byte-order mark at the start of data (3 or 0). */
size_t pyab_utf8_bom(const char *data, size_t len);

/* Parses a whole decimal integer or number; 0 on success, -EINVAL otherwise. */
int pyab_parse_long(const char *s, long *out);
int pyab_parse_double(const char *s, double *out);

#endif
