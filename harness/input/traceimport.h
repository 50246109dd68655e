/*
 * traceimport: `pyab trace import`, which turns what a team already has
 * (a HAR 1.2 export from a browser or proxy, or an nginx/Apache access
 * log) into a JSONL trace that `pyab run` replays (format in trace.h).
 *
 * Every record gets t (seconds from the first request), route, method,
 * path, and where known query, headers and body; nothing else, because
 * the trace loader rejects unknown keys. Records are written sorted by t,
 * and the output file is written atomically, so a failed import leaves
 * any previous output untouched. The JSONL writer is shared with synth.
 */
#ifndef PYAB_TRACEIMPORT_H
#define PYAB_TRACEIMPORT_H

#include <jansson.h>
#include <stdint.h>

#include "util.h"

typedef enum pyab_import_format {
    PYAB_IMPORT_AUTO,       /* HAR if the input is a JSON object with "log", else access log */
    PYAB_IMPORT_HAR,
    PYAB_IMPORT_ACCESS_LOG,
} pyab_import_format;

typedef enum pyab_route_from {
    PYAB_ROUTE_PATH,     /* route = the path without its query */
    PYAB_ROUTE_TEMPLATE, /* same, with id-like segments collapsed to {id} */
} pyab_route_from;

typedef struct pyab_import_result {
    pyab_import_format format; /* the one used, after detection */
    size_t requests;
    size_t skipped; /* access-log lines without a usable request: "-", garbage, not UTF-8 */
} pyab_import_result;

/*
 * Converts the bytes of an input to JSONL appended to `out`. `name` is the
 * input's name in messages, which also name the place: the HAR entry and
 * field ("x.har: log.entries[3].request.url: missing"), the JSON syntax
 * line and column, or the access-log line and column. 0 or -EINVAL.
 */
int pyab_traceimport_mem(const char *name, const char *data, size_t len,
                         pyab_import_format format, pyab_route_from route_from,
                         pyab_buf *out, pyab_import_result *res, pyab_error *err);

/* Reads `input`, converts it and writes `output` atomically; 0 or negative errno. */
int pyab_traceimport_file(const char *input, const char *output, pyab_import_format format,
                          pyab_route_from route_from, pyab_import_result *res,
                          pyab_error *err);

/*
 * The route for a path (no query): the path itself, or with every segment
 * that looks like an id (all digits, a UUID, or 12+ hex digits with at
 * least one digit) replaced by "{id}". New string.
 */
char *pyab_traceimport_route(const char *path, pyab_route_from route_from);

/*
 * Parses an ISO-8601 date-time, "2024-03-01T12:00:00.250+01:00" (the
 * offset may be Z, +HH:MM, +HHMM or absent for UTC), into whole seconds
 * since 1970 UTC and a fraction in [0, 1). The fields must make a real
 * date-time (pyab_accesslog_check_date: no 30 February, offset at most
 * 14:00). 0, or -EINVAL with *problem (when not NULL) a static message
 * naming the bad field.
 */
int pyab_traceimport_iso8601(const char *s, int64_t *sec, double *frac, const char **problem);

#endif
