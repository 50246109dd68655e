/*
 * curves: one rep's measurements read back from the results folder and
 * shrunk for display.
 *
 * The report (report.c) is the only user. It loads every rep's samples.csv
 * and events.jsonl with pyab_curves_load, then asks for JSON fragments small
 * enough for a browser: each series cut into a fixed number of buckets that
 * keep their minimum and maximum (so a one-sample spike stays visible), the
 * median of an arm's reps on a common grid, and a GC pause histogram. An
 * hour at 100 Hz (360k samples) becomes a few thousand points per series.
 *
 * Quiesce samples (taken after gc.collect() and malloc_trim) are kept apart
 * from the curve: they are points to mark, not part of the line.
 */
#ifndef PYAB_CURVES_H
#define PYAB_CURVES_H

#include <stddef.h>

#include "util.h"

/* The samples.csv columns the report reads. */
enum {
    PYAB_CURVE_T,
    PYAB_CURVE_REQUESTS,
    PYAB_CURVE_RSS,
    PYAB_CURVE_PYHEAP,
    PYAB_CURVE_NATIVE,
    PYAB_CURVE_NATIVE_FREE,
    PYAB_CURVE_P50,
    PYAB_CURVE_P99,
    PYAB_CURVE_NCOLS,
};

/* Rows of samples, column by column; an empty field is NaN. */
typedef struct pyab_curve_rows {
    size_t n, cap;
    double *col[PYAB_CURVE_NCOLS];
} pyab_curve_rows;

/* One GC collection from events.jsonl. */
typedef struct pyab_curve_event {
    double t_s, pause_ms;
    int gen;
} pyab_curve_event;

/* One rep. init/finish: embedded. */
typedef struct pyab_curves {
    pyab_curve_rows rows;    /* every sample but the quiesce ones, in time order */
    pyab_curve_rows quiesce; /* the quiesce samples */
    double warmup_t, warmup_requests; /* the warmup_end sample; NaN when none */
    pyab_curve_event *events;
    size_t nevents;
    int native_other; /* PYAB_CURVE_NATIVE holds native_other_bytes, else native_heap_bytes */
    int partial;      /* read from samples.csv.part: the rep never finished */
} pyab_curves;

void pyab_curves_init(pyab_curves *c);
void pyab_curves_finish(pyab_curves *c);

/*
 * Reads REPDIR/samples.csv (required) and REPDIR/events.jsonl (optional),
 * or their .part files when only those exist (a rep whose parent was
 * killed: read up to the last whole line, c->partial set). The native
 * curve is native_other_bytes when the file has that column, else
 * native_heap_bytes (c->native_other says which). Errors name the file and
 * line. A last line cut short (a rep killed while writing) is skipped, not
 * an error. 0, -ENOENT when samples.csv does not exist (err set), or
 * another negative errno.
 */
int pyab_curves_load(pyab_curves *c, const char *repdir, pyab_error *err);

/*
 * Appends the rep's display fields (without braces) to b: "points", "t",
 * "r" (x in seconds and requests), "rss", "pyheap", "native" (with
 * "native_column" naming its column), "native_free"
 * (min/max envelope per bucket), "tput" (requests/s per bucket), "p50" and
 * "p99" (bucket mean and max), "warmup", "quiesce" and "gc" (pauses, the
 * longest per bucket when there are many). At most 2 * buckets points.
 */
void pyab_curves_add_json(const pyab_curves *c, size_t buckets, pyab_buf *b);

/*
 * Appends {"time": {...}, "requests": {...}} to b: for each x axis, a grid
 * of `grid` points and, per memory series, the median over the reps that
 * cover that x (null where none does), interpolated between samples.
 */
void pyab_curves_add_median_json(const pyab_curves *reps, size_t nreps, size_t grid,
                                 pyab_buf *b);

/*
 * Appends {"edges_ms": [...], "counts": [...], "total": n, "sum_ms": s} to b:
 * all pauses of the reps in fixed log-spaced bins (4 per decade, 10 us to
 * 10 s, plus one bin below and one above), the same for every arm.
 */
void pyab_curves_add_pause_histogram_json(const pyab_curves *reps, size_t nreps, pyab_buf *b);

#endif
