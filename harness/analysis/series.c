#include "series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[] = {
    [PYAB_PHASE_WARMUP] = "warmup",
    [PYAB_PHASE_WARMUP_END] = "warmup_end",
    [PYAB_PHASE_RUN] = "run",
    [PYAB_PHASE_END] = "end",
    [PYAB_PHASE_QUIESCE] = "quiesce",
};

/*
 * The columns the README defines, all numbers but phase: text in them is
 * an error, and a header naming another column, or one twice, is refused
 * (a second "phase" once made the reader write past its columns).
 */
static const char *const numeric_columns[] = {
    "t_s", "requests", "rss_bytes", "pyheap_bytes", "pymalloc_arena_bytes",
    "native_heap_bytes", "native_free_bytes", "gc_count0", "gc_count1", "gc_count2",
    "gc_collections", "gc_pause_s", "errors", "latency_p50_ms", "latency_p99_ms",
    "native_other_bytes", "pyheap_malloc_bytes", "refcount_total",
};

static int is_numeric_column(const char *name)
{
    for (size_t i = 0; i < PYAB_ARRAY_LEN(numeric_columns); i++)
        if (strcmp(name, numeric_columns[i]) == 0)
            return 1;
    return 0;
}

/* Splits one line in place at commas; returns the field count (at most max). */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (n < max)
            fields[n] = p;
        n++;
        if (comma == NULL)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

/* Cuts the next line out of the text, dropping a trailing CR; NULL at the end. */
static char *next_line(char **cursor, char *end)
{
    char *line = *cursor, *nl;
    size_t len;
    if (line >= end)
        return NULL;
    nl = memchr(line, '\n', (size_t)(end - line));
    *cursor = nl ? nl + 1 : end;
    len = (size_t)((nl ? nl : end) - line);
    if (len > 0 && line[len - 1] == '\r')
        len--;
    line[len] = '\0';
    return line;
}

static ptrdiff_t find_column(const pyab_series *s, const char *name)
{
    for (size_t c = 0; c < s->ncols; c++)
        if (strcmp(s->names[c], name) == 0)
            return (ptrdiff_t)c;
    return -1;
}

/* A header field that is not a column of samples.csv, or one seen before, is -EINVAL with err set. */
static int check_column(const pyab_series *s, const char *name, int phase_seen, pyab_error *err)
{
    if (strcmp(name, "phase") == 0 ? phase_seen : find_column(s, name) >= 0)
        return pyab_error_set(err, "%s:1: column '%s' appears twice in the header", s->path,
                              name);
    if (strcmp(name, "phase") != 0 && !is_numeric_column(name))
        return pyab_error_set(err, "%s:1: unknown column '%s' (samples.csv has t_s, requests, "
                              "phase and the columns the README lists)", s->path, name);
    return 0;
}

static int parse_header(pyab_series *s, char *line, size_t *phase_col, size_t *nfields,
                        pyab_error *err)
{
    size_t n = 1;
    char **fields;

    for (const char *p = line; *p; p++)
        n += *p == ',';
    fields = xcalloc(n, sizeof(*fields));
    int rc = 0;

    split_fields(line, fields, n);
    *nfields = n;
    *phase_col = n;
    s->names = xcalloc(n, sizeof(*s->names));
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_column(s, fields[i], *phase_col < n, err)) < 0)
            break;
        if (strcmp(fields[i], "phase") == 0)
            *phase_col = i;
        else
            s->names[s->ncols++] = xstrdup(fields[i]);
    }
    if (rc == 0 && *phase_col == n)
        rc = pyab_error_set(err, "%s:1: the header has no 'phase' column", s->path);
    else if (rc == 0 && (find_column(s, "t_s") < 0 || find_column(s, "requests") < 0))
        rc = pyab_error_set(err, "%s:1: the header needs the columns t_s and requests", s->path);
    free(fields);
    return rc;
}

static int parse_phase(const char *text)
{
    for (size_t i = 0; i < PYAB_ARRAY_LEN(phase_names); i++)
        if (strcmp(text, phase_names[i]) == 0)
            return (int)i;
    return -1;
}

/* Parses one data row into row s->n (room for it already made). */
static int parse_row(pyab_series *s, char *line, size_t lineno, size_t phase_col,
                     size_t nfields, char **fields, pyab_error *err)
{
    size_t n = split_fields(line, fields, nfields), c = 0, r = s->n;
    int phase;

    if (n != nfields)
        return pyab_error_set(err, "%s:%zu: %zu fields, the header has %zu", s->path, lineno,
                              n, nfields);
    for (size_t i = 0; i < n; i++) {
        double v = NAN;
        if (i == phase_col) {
            if ((phase = parse_phase(fields[i])) < 0)
                return pyab_error_set(err, "%s:%zu: unknown phase '%s'", s->path, lineno,
                                      fields[i]);
            s->phase[r] = (unsigned char)phase;
            continue;
        }
        if (fields[i][0] != '\0' && pyab_parse_double(fields[i], &v) < 0)
            return pyab_error_set(err, "%s:%zu: column %s: '%s' is not a number", s->path,
                                  lineno, s->names[c], fields[i]);
        s->cols[c++][r] = v;
    }
    return 0;
}

static void grow(pyab_series *s, size_t *cap)
{
    if (s->n < *cap)
        return;
    *cap = *cap ? 2 * *cap : 256;
    for (size_t c = 0; c < s->ncols; c++)
        s->cols[c] = xrealloc(s->cols[c], *cap * sizeof(double));
    s->phase = xrealloc(s->phase, *cap);
}

/* Rows must be in time order with requests never going back: the slopes rely on it. */
static int check_order(const pyab_series *s, size_t lineno, pyab_error *err)
{
    const double *t = pyab_series_column(s, "t_s"), *q = pyab_series_column(s, "requests");
    size_t r = s->n;
    if (isnan(t[r]) || isnan(q[r]))
        return pyab_error_set(err, "%s:%zu: t_s and requests must not be empty", s->path, lineno);
    if (r > 0 && (t[r] < t[r - 1] || q[r] < q[r - 1]))
        return pyab_error_set(err, "%s:%zu: t_s or requests goes back in time", s->path, lineno);
    return 0;
}

pyab_series *pyab_series_parse(const char *path, const char *text, size_t len, pyab_error *err)
{
    pyab_series *s = xcalloc(1, sizeof(*s));
    char *copy = xmalloc(len + 1), *cursor = copy, *end = copy + len, *line, **fields = NULL;
    size_t phase_col, nfields, lineno = 1, cap = 0;

    memcpy(copy, text, len);
    copy[len] = '\0';
    s->path = xstrdup(path);
    line = next_line(&cursor, end);
    if (line == NULL || line[0] == '\0') {
        pyab_error_set(err, "%s:1: empty file, expected a header line", path);
        goto fail;
    }
    if (parse_header(s, line, &phase_col, &nfields, err) < 0)
        goto fail;
    s->cols = xcalloc(s->ncols, sizeof(*s->cols));
    fields = xcalloc(nfields, sizeof(*fields));
    while ((line = next_line(&cursor, end)) != NULL) {
        lineno++;
        if (line[0] == '\0')
            continue;
        grow(s, &cap);
        if (parse_row(s, line, lineno, phase_col, nfields, fields, err) < 0 ||
            check_order(s, lineno, err) < 0)
            goto fail;
        s->n++;
    }
    free(fields);
    free(copy);
    return s;
fail:
    free(fields);
    free(copy);
    pyab_series_destroy(s);
    return NULL;
}

pyab_series *pyab_series_load(const char *path, pyab_error *err)
{
    char *text;
    size_t len;
    pyab_series *s;
    int rc = pyab_file_read(path, &text, &len);

    if (rc < 0) {
        pyab_error_set(err, "%s: cannot read: %s", path, pyab_file_strerror(rc));
        return NULL;
    }
    s = pyab_series_parse(path, text, len, err);
    free(text);
    return s;
}

void pyab_series_destroy(pyab_series *s)
{
    if (s == NULL)
        return;
    for (size_t c = 0; c < s->ncols; c++) {
        free(s->names[c]);
        if (s->cols)
            free(s->cols[c]);
    }
    free(s->names);
    free(s->cols);
    free(s->phase);
    free(s->path);
    free(s);
}

const double *pyab_series_column(const pyab_series *s, const char *name)
{
    ptrdiff_t c = find_column(s, name);
    return c < 0 ? NULL : s->cols[c];
}
