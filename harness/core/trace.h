/*
 * trace: a recorded request trace, loaded from JSONL into compact C memory.
 *
 * Each line is one request: {"t": seconds, "route": "/x", "body": <JSON>}
 * with optional "method", "path", "query" and "headers". The trace is kept
 * in C, never as Python objects, so loading it does not move the curves the
 * harness is there to measure: the fields of each record are encoded into
 * one byte arena (a small tagged binary form, smaller than the JSON text),
 * and the replayer decodes a fresh Python dict from it for every call.
 *
 * Records are kept in replay order: sorted by t, stably, so a trace whose
 * timestamps go backwards still replays in time order (the count of such
 * lines is kept in `reordered` and reported).
 */
#ifndef PYAB_TRACE_H
#define PYAB_TRACE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Value tags of the encoded form. */
enum {
    PYAB_TAG_NULL = 'n',
    PYAB_TAG_TRUE = 't',
    PYAB_TAG_FALSE = 'f',
    PYAB_TAG_INT = 'i',    /* zig-zag varint */
    PYAB_TAG_REAL = 'd',   /* 8 bytes, host order */
    PYAB_TAG_STRING = 's', /* varint length, UTF-8 bytes */
    PYAB_TAG_ARRAY = 'a',  /* varint count, values */
    PYAB_TAG_OBJECT = 'o', /* varint count, (varint key length, key, value)... */
};

typedef struct pyab_trace_rec {
    double t;      /* seconds since the first request */
    uint32_t off;  /* encoded fields: an object of everything but t and route */
    uint32_t len;
    uint32_t route; /* index into pyab_trace.routes */
    uint32_t line;  /* 1-based line in the source file */
} pyab_trace_rec;

typedef struct pyab_trace {
    char *path;
    pyab_trace_rec *recs;
    size_t count;
    uint8_t *arena; /* encoded fields of every record */
    size_t arena_len;
    char **routes; /* route names, indexed by pyab_trace_rec.route */
    size_t nroutes;
    double duration; /* t of the last record */
    size_t reordered; /* lines whose t was below the previous line's */
    size_t file_bytes;
} pyab_trace;

/*
 * Loads a JSONL trace. Returns a new trace, or NULL with err naming the
 * file, line and column (syntax) or line and key (content).
 */
pyab_trace *pyab_trace_load(const char *path, pyab_error *err);
/* Same, from bytes in memory; `name` is used in messages. */
pyab_trace *pyab_trace_load_mem(const char *name, const char *data, size_t len,
                                pyab_error *err);
void pyab_trace_destroy(pyab_trace *trace);

/* Bytes of memory the loaded trace holds (records, arena, routes). */
size_t pyab_trace_memory(const pyab_trace *trace);

/* Decodes record i back to a JSON object (new reference), as in the file. */
json_t *pyab_trace_record_json(const pyab_trace *trace, size_t i);

/* Varint helpers of the encoded form, shared with the Python-side decoder. */
static inline uint64_t pyab_varint_read(const uint8_t **p)
{
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t b;

    do {
        b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    return v;
}

/*
 * Appends one trace line: {"t":T, then the members of `rest` (borrowed; an
 * object holding at least "route"), in their order. T is printed with
 * microsecond precision so the text does not depend on float formatting.
 */
void pyab_trace_write_record(pyab_buf *out, double t, const json_t *rest);

#endif
