#include "accesslog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct cursor {
    const char *start, *p, *end;
    const char *problem;
} cursor;

static const char *const month_names[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

int64_t pyab_accesslog_days_from_civil(int64_t y, int m, int d)
{
    /* Howard Hinnant's days_from_civil: exact over the whole int range. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

pyab_date_field pyab_accesslog_check_date(int64_t year, int month, int day, int hour, int minute,
                                          int second, int offset_h, int offset_m,
                                          const char **problem)
{
    pyab_date_field f = PYAB_DATE_OK;
    const char *why = NULL;

    if (month < 1 || month > 12)
        f = PYAB_DATE_MONTH, why = "month out of range (01-12)";
    else if (day < 1 || day > days_in_month(year, month))
        f = PYAB_DATE_DAY, why = month == 2 && day == 29
            ? "day out of range: 29 February in a year that is not a leap year"
            : "day out of range for its month";
    else if (hour < 0 || hour > 23)
        f = PYAB_DATE_HOUR, why = "hour out of range (00-23)";
    else if (minute < 0 || minute > 59)
        f = PYAB_DATE_MINUTE, why = "minute out of range (00-59)";
    else if (second < 0 || second > 60 || (second == 60 && (hour != 23 || minute != 59)))
        f = PYAB_DATE_SECOND, why = "second out of range (00-59, or 60 at 23:59 for a leap second)";
    else if (offset_m < 0 || offset_m > 59)
        f = PYAB_DATE_OFFSET, why = "UTC offset minutes out of range (00-59)";
    else if (offset_h < 0 || offset_h * 60 + offset_m > 14 * 60)
        f = PYAB_DATE_OFFSET, why = "UTC offset out of range (at most 14:00 either way)";
    if (problem)
        *problem = why;
    return f;
}

static int fail(cursor *c, const char *problem)
{
    c->problem = problem;
    return -EINVAL;
}

static void skip_spaces(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* A field up to the next blank; the field must not be empty. */
static int skip_token(cursor *c, const char *problem)
{
    const char *s = c->p;

    while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
        c->p++;
    if (c->p == s)
        return fail(c, problem);
    skip_spaces(c);
    return 0;
}

static int read_digits(cursor *c, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++, c->p++) {
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return -EINVAL;
        v = v * 10 + (*c->p - '0');
    }
    *out = v;
    return 0;
}

static int expect_char(cursor *c, char ch)
{
    if (c->p >= c->end || *c->p != ch)
        return -EINVAL;
    c->p++;
    return 0;
}

/* [10/Oct/2000:13:55:36 -0700]; a bad field's message names it, and its column points at it. */
static int read_date(cursor *c, int64_t *epoch)
{
    int day, year, hh, mm, ss, off, month = -1;
    int sign;
    const char *start;
    static const int field_at[] = {
        [PYAB_DATE_MONTH] = 3, [PYAB_DATE_DAY] = 0, [PYAB_DATE_HOUR] = 12,
        [PYAB_DATE_MINUTE] = 15, [PYAB_DATE_SECOND] = 18, [PYAB_DATE_OFFSET] = 21,
    };
    static const char *const messages[] = {
        [PYAB_DATE_MONTH] = "bad date: month out of range (01-12)",
        [PYAB_DATE_DAY] = "bad date: day out of range for its month",
        [PYAB_DATE_HOUR] = "bad date: hour out of range (00-23)",
        [PYAB_DATE_MINUTE] = "bad date: minute out of range (00-59)",
        [PYAB_DATE_SECOND] = "bad date: second out of range (00-59, or 60 at 23:59)",
        [PYAB_DATE_OFFSET] = "bad date: UTC offset out of range (at most +1400 or -1400, "
                             "minutes 00-59)",
    };

    if (expect_char(c, '[') < 0)
        return fail(c, "expected '[' before the date");
    start = c->p;
    if (read_digits(c, 2, &day) < 0 || expect_char(c, '/') < 0)
        return fail(c, "bad date: expected DD/Mon/YYYY:HH:MM:SS +ZZZZ");
    for (int i = 0; i < 12; i++)
        if (c->end - c->p >= 3 && memcmp(c->p, month_names[i], 3) == 0)
            month = i + 1;
    if (month < 0)
        return fail(c, "bad date: unknown month name");
    c->p += 3;
    if (expect_char(c, '/') < 0 || read_digits(c, 4, &year) < 0 || expect_char(c, ':') < 0 ||
        read_digits(c, 2, &hh) < 0 || expect_char(c, ':') < 0 || read_digits(c, 2, &mm) < 0 ||
        expect_char(c, ':') < 0 || read_digits(c, 2, &ss) < 0 || expect_char(c, ' ') < 0)
        return fail(c, "bad date: expected DD/Mon/YYYY:HH:MM:SS +ZZZZ");
    if (c->p >= c->end || (*c->p != '+' && *c->p != '-'))
        return fail(c, "bad date: expected a +ZZZZ or -ZZZZ offset");
    sign = *c->p++ == '-' ? -1 : 1;
    if (read_digits(c, 4, &off) < 0)
        return fail(c, "bad date: expected a +ZZZZ or -ZZZZ offset");
    pyab_date_field bad = pyab_accesslog_check_date(year, month, day, hh, mm, ss, off / 100,
                                                    off % 100, NULL);
    if (bad != PYAB_DATE_OK) {
        c->p = start + field_at[bad];
        /* 29 Feb outside a leap year is the one that surprises: say so. */
        return fail(c, bad == PYAB_DATE_DAY && month == 2 && day == 29
                           ? "bad date: 29 Feb in a year that is not a leap year"
                           : messages[bad]);
    }
    if (expect_char(c, ']') < 0)
        return fail(c, "expected ']' after the date");
    *epoch = pyab_accesslog_days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 +
             ss - sign * ((off / 100) * 3600 + (off % 100) * 60);
    skip_spaces(c);
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/*
 * A double-quoted field into a new string. Apache escapes a quote inside
 * as \" and nginx as \x22, so both escapes are undone here.
 */
static int read_quoted(cursor *c, char **out, const char *what)
{
    pyab_buf b;

    if (expect_char(c, '"') < 0)
        return fail(c, what);
    pyab_buf_init(&b);
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p++;
        if (ch == '\\' && c->p < c->end) {
            if (*c->p == 'x' && c->end - c->p >= 3 && hexval(c->p[1]) >= 0 &&
                hexval(c->p[2]) >= 0) {
                ch = (char)(hexval(c->p[1]) * 16 + hexval(c->p[2]));
                c->p += 3;
            } else {
                ch = *c->p++;
            }
        }
        pyab_buf_add(&b, &ch, 1);
    }
    if (c->p >= c->end) {
        pyab_buf_finish(&b);
        return fail(c, "unterminated quoted field (truncated line?)");
    }
    c->p++;
    *out = b.data;
    return 0;
}

/* "GET /a?x=1 HTTP/1.1" into method and target; anything else leaves them NULL. */
static void split_request(char *req, pyab_accesslog_entry *e)
{
    char *sp = strchr(req, ' ');
    char *target, *end;

    if (sp == NULL || sp == req)
        return;
    for (char *m = req; m < sp; m++)
        if (*m < 'A' || *m > 'Z')
            return;
    target = sp + 1;
    end = strchr(target, ' ');
    if (end == NULL)
        end = target + strlen(target);
    if (end == target || (target[0] != '/' && strncmp(target, "http", 4) != 0))
        return;
    e->method = xstrndup(req, (size_t)(sp - req));
    e->target = xstrndup(target, (size_t)(end - target));
}

static char *dash_to_null(char *s)
{
    if (s && (s[0] == '\0' || strcmp(s, "-") == 0)) {
        free(s);
        return NULL;
    }
    return s;
}

static int parse(cursor *c, pyab_accesslog_entry *e)
{
    char *req = NULL;
    int rc;

    if (skip_token(c, "expected the client address") < 0 ||
        skip_token(c, "expected the ident field") < 0 || skip_token(c, "expected the user field") < 0)
        return -EINVAL;
    if ((rc = read_date(c, &e->epoch)) < 0)
        return rc;
    if ((rc = read_quoted(c, &req, "expected '\"' before the request line")) < 0)
        return rc;
    split_request(req, e);
    free(req);
    skip_spaces(c);
    const char *status = c->p;
    if (read_digits(c, 3, &e->status) < 0) {
        c->p = status;
        return fail(c, "expected a 3-digit status");
    }
    skip_spaces(c);
    if (c->p >= c->end)
        return fail(c, "expected the response size");
    if (*c->p == '-')
        c->p++;
    else
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
            c->p++;
    if (c->p < c->end && *c->p != ' ' && *c->p != '\t')
        return fail(c, "bad response size");
    skip_spaces(c);
    if (c->p == c->end)
        return 0; /* common format: no referer or user agent */
    if ((rc = read_quoted(c, &e->referer, "expected '\"' before the referer")) < 0)
        return rc;
    skip_spaces(c);
    if ((rc = read_quoted(c, &e->user_agent, "expected '\"' before the user agent")) < 0)
        return rc;
    e->referer = dash_to_null(e->referer);
    e->user_agent = dash_to_null(e->user_agent);
    return 0; /* fields after the user agent (nginx extras) are ignored */
}

int pyab_accesslog_parse(const char *line, size_t len, pyab_accesslog_entry *e,
                         int *column, const char **problem)
{
    cursor c = {line, line, line + len, NULL};

    memset(e, 0, sizeof(*e));
    while (c.end > c.start && (c.end[-1] == '\r' || c.end[-1] == ' '))
        c.end--;
    if (parse(&c, e) < 0) {
        pyab_accesslog_entry_finish(e);
        *column = (int)(c.p - c.start) + 1;
        *problem = c.problem;
        return -EINVAL;
    }
    return 0;
}

int pyab_accesslog_matches(const char *line, size_t len)
{
    pyab_accesslog_entry e;
    int column;
    const char *problem;

    if (pyab_accesslog_parse(line, len, &e, &column, &problem) < 0)
        return 0;
    pyab_accesslog_entry_finish(&e);
    return 1;
}

int pyab_accesslog_looks_like(const char *line, size_t len)
{
    cursor c = {line, line, line + len, NULL};

    if (pyab_accesslog_matches(line, len))
        return 1;
    if (skip_token(&c, "") < 0 || skip_token(&c, "") < 0 || skip_token(&c, "") < 0)
        return 0;
    return c.end - c.p >= 2 && c.p[0] == '[' && c.p[1] >= '0' && c.p[1] <= '9';
}

void pyab_accesslog_entry_finish(pyab_accesslog_entry *e)
{
    free(e->method);
    free(e->target);
    free(e->referer);
    free(e->user_agent);
    memset(e, 0, sizeof(*e));
}
