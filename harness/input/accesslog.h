/*
 * accesslog: parses one line of an nginx or Apache access log in the
 * combined format (or the common format, which stops after the size):
 *
 *   127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a?x=1 HTTP/1.1" 200 2326 "ref" "ua"
 *
 * `pyab trace import` turns each line into a trace request. Logs carry no
 * request bodies and time only to the second, so the importer spreads the
 * requests of one second itself; this module only reads what is there.
 */
#ifndef PYAB_ACCESSLOG_H
#define PYAB_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct pyab_accesslog_entry {
    int64_t epoch;    /* seconds since 1970-01-01 UTC */
    char *method;     /* NULL when the request line is "-" or not a request */
    char *target;     /* as written: "/a?x=1", or absolute-form "http://h/a" */
    char *referer;    /* NULL when absent or "-" */
    char *user_agent; /* NULL when absent or "-" */
    int status;
} pyab_accesslog_entry;

/*
 * Parses `len` bytes of one line (no newline) into `e`, whose strings are
 * new. On failure returns -EINVAL, sets *column (1-based) and *problem (a
 * static string such as "expected '[' before the date") and leaves `e`
 * empty. A line whose request is "-" or garbage (a TLS handshake sent to
 * a plain port) parses, with e->method NULL, so that callers can skip it.
 */
int pyab_accesslog_parse(const char *line, size_t len, pyab_accesslog_entry *e,
                         int *column, const char **problem);
void pyab_accesslog_entry_finish(pyab_accesslog_entry *e);

/* Whether the line parses as an access-log line. */
int pyab_accesslog_matches(const char *line, size_t len);
/*
 * Whether the line is one, or starts as one (three fields, then '[' and a
 * digit) and fails further on: format detection takes such a first line
 * for a log, so that the import names its fault (a bad date) and column.
 */
int pyab_accesslog_looks_like(const char *line, size_t len);

/*
 * Days from 1970-01-01 to a date of the proleptic Gregorian calendar
 * (month 1-12). Shared with the HAR importer's ISO-8601 parser.
 */
int64_t pyab_accesslog_days_from_civil(int64_t year, int month, int day);

/* The fields of a date-time, for pyab_accesslog_check_date's answer. */
typedef enum pyab_date_field {
    PYAB_DATE_OK,
    PYAB_DATE_MONTH,
    PYAB_DATE_DAY,
    PYAB_DATE_HOUR,
    PYAB_DATE_MINUTE,
    PYAB_DATE_SECOND,
    PYAB_DATE_OFFSET,
} pyab_date_field;

/*
 * Checks a date-time's fields against the calendar: month 1-12, the day
 * within its month (29 February only in a leap year), hour 0-23, minute
 * 0-59, second 0-59 (60 only at 23:59, a leap second), and the UTC offset
 * (offset_h:offset_m, either sign) at most 14:00 with minutes 0-59. Returns
 * the first bad field, with *problem a static message naming it, or
 * PYAB_DATE_OK. Shared with the HAR importer's ISO-8601 parser.
 */
pyab_date_field pyab_accesslog_check_date(int64_t year, int month, int day, int hour, int minute,
                                          int second, int offset_h, int offset_m,
                                          const char **problem);

#endif
