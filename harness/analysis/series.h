/*
 * series: one rep's samples.csv as columns of doubles.
 *
 * The child writes a sample row every sampling interval (layout.md names
 * the columns). The analysis reads it back here. Columns are found by their
 * header name, so a writer may reorder them or leave some out; only t_s,
 * requests and phase are required. A column the README does not define,
 * or one named twice, is an error naming the file and the column. Empty fields
 * (a latency with no request in the interval, a counter the platform lacks)
 * become NaN. Any malformed row is an error naming the file and line.
 */
#ifndef PYAB_SERIES_H
#define PYAB_SERIES_H

#include <stddef.h>

#include "util.h"

/* The phase column, in the order a rep goes through them. */
enum {
    PYAB_PHASE_WARMUP,
    PYAB_PHASE_WARMUP_END,
    PYAB_PHASE_RUN,
    PYAB_PHASE_END,
    PYAB_PHASE_QUIESCE,
};

typedef struct pyab_series {
    char *path;
    size_t n;           /* rows */
    size_t ncols;       /* numeric columns (every column but phase) */
    char **names;       /* their header names */
    double **cols;      /* cols[c][row] */
    unsigned char *phase; /* PYAB_PHASE_* per row */
} pyab_series;

/* Reads a samples.csv. New series, or NULL with err naming the file and line. */
pyab_series *pyab_series_load(const char *path, pyab_error *err);
/* Same, from text in memory; `path` names it in messages. */
pyab_series *pyab_series_parse(const char *path, const char *text, size_t len, pyab_error *err);
void pyab_series_destroy(pyab_series *s);

/* The column with this header name (borrowed, n values), or NULL when absent. */
const double *pyab_series_column(const pyab_series *s, const char *name);

#endif
