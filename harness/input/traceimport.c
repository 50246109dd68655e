#include "traceimport.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "accesslog.h"
#include "trace.h"

/* One imported request before sorting; the time is kept split so epoch
 * seconds do not eat the precision of the fraction. */
typedef struct import_rec {
    int64_t sec;
    double frac;
    size_t seq; /* input order, for a stable sort */
    json_t *rest; /* route, method, path, query, headers, body */
} import_rec;

typedef struct import_list {
    import_rec *v;
    size_t n, cap;
} import_list;

static void list_add(import_list *l, int64_t sec, double frac, json_t *rest)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n] = (import_rec){sec, frac, l->n, rest};
    l->n++;
}

static void list_finish(import_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->v[i].rest);
    free(l->v);
}

static int cmp_rec(const void *a, const void *b)
{
    const import_rec *x = a, *y = b;

    if (x->sec != y->sec)
        return x->sec < y->sec ? -1 : 1;
    if (x->frac != y->frac)
        return x->frac < y->frac ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_id_segment(const char *s, size_t n)
{
    size_t digits = 0, hex = 0;

    for (size_t i = 0; i < n; i++) {
        digits += s[i] >= '0' && s[i] <= '9';
        hex += is_hex(s[i]);
    }
    if (n > 0 && digits == n)
        return 1;
    if (n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && hex == 32)
        return 1;
    /* Twelve or more hex digits with a digit among them: object ids and
     * hashes, but not words such as "deadbeef" or "facade". */
    return n >= 12 && hex == n && digits > 0;
}

char *pyab_traceimport_route(const char *path, pyab_route_from route_from)
{
    pyab_buf b;
    const char *p = path;

    if (route_from == PYAB_ROUTE_PATH)
        return xstrdup(path);
    pyab_buf_init(&b);
    while (*p) {
        const char *seg = p + (*p == '/');
        const char *end = seg + strcspn(seg, "/");
        pyab_buf_add(&b, p, (size_t)(seg - p));
        if (is_id_segment(seg, (size_t)(end - seg)))
            pyab_buf_adds(&b, "{id}");
        else
            pyab_buf_add(&b, seg, (size_t)(end - seg));
        p = end;
    }
    return b.data;
}

static int read_int(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -EINVAL;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int pyab_traceimport_iso8601(const char *s, int64_t *sec, double *frac, const char **problem)
{
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 1;
    double f = 0, scale = 0.1;

    if (problem)
        *problem = "not an ISO-8601 date-time (YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM])";

    if (read_int(&s, 4, &y) < 0 || *s++ != '-' || read_int(&s, 2, &mo) < 0 || *s++ != '-' ||
        read_int(&s, 2, &d) < 0 || (*s != 'T' && *s != 't' && *s != ' '))
        return -EINVAL;
    s++;
    if (read_int(&s, 2, &h) < 0 || *s++ != ':' || read_int(&s, 2, &mi) < 0 || *s++ != ':' ||
        read_int(&s, 2, &se) < 0)
        return -EINVAL;
    if (*s == '.' || *s == ',') {
        if (s[1] < '0' || s[1] > '9')
            return -EINVAL;
        for (s++; *s >= '0' && *s <= '9'; s++, scale /= 10)
            f += (*s - '0') * scale;
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (read_int(&s, 2, &oh) < 0)
            return -EINVAL;
        if (*s == ':')
            s++;
        if (read_int(&s, 2, &om) < 0)
            return -EINVAL;
    }
    if (*s != '\0')
        return -EINVAL;
    if (pyab_accesslog_check_date(y, mo, d, h, mi, se, oh, om, problem) != PYAB_DATE_OK)
        return -EINVAL;
    *sec = pyab_accesslog_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se -
           sign * (oh * 3600 + om * 60);
    *frac = f;
    return 0;
}

/* Splits a URL (absolute, or origin-form "/p?q") into new path and query strings. */
static int split_url(const char *url, char **path, char **query)
{
    const char *p = url, *scheme = strstr(url, "://"), *q, *hash;

    if (scheme && scheme < url + strcspn(url, "/?#")) {
        p = scheme + 3;
        p += strcspn(p, "/?#");
    } else if (*url != '/') {
        return -EINVAL;
    }
    hash = p + strcspn(p, "#");
    q = memchr(p, '?', (size_t)(hash - p));
    if (q == NULL)
        q = hash;
    *path = q == p ? xstrdup("/") : xstrndup(p, (size_t)(q - p));
    *query = q < hash && hash - q > 1 ? xstrndup(q + 1, (size_t)(hash - q - 1)) : NULL;
    return 0;
}

/* Sets route, method, path and query of a record, in that order, from its method and URL. */
static int put_target(json_t *rest, const char *method, const char *url,
                      pyab_route_from route_from)
{
    char *path, *query, *route;

    int rc = 0;

    if (split_url(url, &path, &query) < 0)
        return -EINVAL;
    route = pyab_traceimport_route(path, route_from);
    /* json_string refuses bytes that are not UTF-8, which a log may hold. */
    if (json_object_set_new(rest, "route", json_string(route)) < 0 ||
        json_object_set_new(rest, "method", json_string(method)) < 0 ||
        json_object_set_new(rest, "path", json_string(path)) < 0 ||
        (query && json_object_set_new(rest, "query", json_string(query)) < 0))
        rc = -EINVAL;
    free(route);
    free(path);
    free(query);
    return rc;
}

/* ---- HAR ---- */

static int har_headers(json_t *list, json_t *rest, const char *where, size_t idx,
                       pyab_error *err)
{
    json_t *headers = json_object(), *h;
    size_t i;

    json_array_foreach(list, i, h) {
        json_t *name = json_object_get(h, "name"), *value = json_object_get(h, "value");
        if (!json_is_string(name) || !json_is_string(value)) {
            json_decref(headers);
            return pyab_error_set(err, "%s: log.entries[%zu].request.headers[%zu]: must be an "
                                  "object with string \"name\" and \"value\"", where, idx, i);
        }
        const char *n = json_string_value(name);
        /* HTTP/2 pseudo-headers (:authority, :path) are not headers a service sees. */
        if (n[0] == ':')
            continue;
        json_t *old = json_object_get(headers, n);
        if (old) {
            const char *sep = strcasecmp(n, "cookie") == 0 ? "; " : ", ";
            json_object_set_new(headers, n, json_sprintf("%s%s%s", json_string_value(old), sep,
                                                         json_string_value(value)));
        } else {
            json_object_set(headers, n, value);
        }
    }
    if (json_object_size(headers))
        json_object_set_new(rest, "headers", headers);
    else
        json_decref(headers);
    return 0;
}

static int base64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    return c == '/' || c == '_' ? 63 : -1;
}

/*
 * Base64 (RFC 4648, standard or URL-safe alphabet, padding optional, blanks
 * skipped) into a new buffer of *len bytes (NUL-terminated); NULL when
 * malformed.
 */
static char *base64_decode(const char *s, size_t n, size_t *len)
{
    char *out = xmalloc(n / 4 * 3 + 4);
    uint32_t acc = 0;
    int bits = 0, pad = 0;

    *len = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i], v = base64_value(c);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=' && ++pad <= 2)
            continue;
        if (v < 0 || pad)
            goto bad;
        acc = (acc << 6) | (uint32_t)v;
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[(*len)++] = (char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Six bits left over is one character of a quantum: no whole byte. */
    if (bits >= 6)
        goto bad;
    out[*len] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/*
 * The body from postData: text (base64-decoded when "encoding" says so),
 * parsed as JSON when the mime type says JSON, else kept as a string; form
 * params without text become an object. -EINVAL with `problem` set for a
 * body that cannot go into a trace.
 */
static int har_body(json_t *post, json_t *rest, char *problem, size_t size)
{
    json_t *text = json_object_get(post, "text"), *params = json_object_get(post, "params");
    const char *mime = json_string_value(json_object_get(post, "mimeType"));
    const char *encoding = json_string_value(json_object_get(post, "encoding"));
    char *decoded = NULL;
    const char *body;
    size_t len;

    if (json_is_string(text) && json_string_length(text) > 0) {
        body = json_string_value(text);
        len = json_string_length(text);
        if (encoding && strcasecmp(encoding, "base64") == 0 &&
            (body = decoded = base64_decode(body, len, &len)) == NULL) {
            snprintf(problem, size, ".request.postData.text: \"encoding\" is base64 but the "
                     "text is not base64");
            return -EINVAL;
        }
        json_t *v = mime && strstr(mime, "json") ? json_loadb(body, len, JSON_DECODE_ANY, NULL)
                                                 : NULL;
        if (v == NULL && (v = json_stringn(body, len)) == NULL) {
            snprintf(problem, size, ".request.postData.text: the decoded body is not UTF-8 text "
                     "(a trace holds JSON or text bodies, not binary ones)");
            free(decoded);
            return -EINVAL;
        }
        json_object_set_new(rest, "body", v);
        free(decoded);
    } else if (json_is_array(params) && json_array_size(params)) {
        json_t *form = json_object(), *p;
        size_t i;
        json_array_foreach(params, i, p) {
            json_t *name = json_object_get(p, "name"), *value = json_object_get(p, "value");
            if (json_is_string(name))
                json_object_set_new(form, json_string_value(name),
                                    json_is_string(value) ? json_copy(value) : json_string(""));
        }
        json_object_set_new(rest, "body", form);
    }
    return 0;
}

static int har_entry(const char *name, size_t i, json_t *entry, pyab_route_from route_from,
                     import_list *out, pyab_error *err)
{
    json_t *rest = json_object(), *date, *req, *method, *url, *v;
    const char *why;
    char problem[512];
    int64_t sec;
    double frac;

    if (!json_is_object(entry)) {
        snprintf(problem, sizeof(problem), ": must be an object");
        goto fail;
    }
    date = json_object_get(entry, "startedDateTime");
    if (!json_is_string(date)) {
        snprintf(problem, sizeof(problem), ".startedDateTime: %s",
                 date == NULL ? "missing" : "must be a string");
        goto fail;
    }
    if (pyab_traceimport_iso8601(json_string_value(date), &sec, &frac, &why) < 0) {
        snprintf(problem, sizeof(problem), ".startedDateTime: %s: \"%.200s\"", why,
                 json_string_value(date));
        goto fail;
    }
    req = json_object_get(entry, "request");
    method = json_object_get(req, "method");
    url = json_object_get(req, "url");
    if (!json_is_object(req)) {
        snprintf(problem, sizeof(problem), ".request: %s", req ? "must be an object" : "missing");
        goto fail;
    }
    if (!json_is_string(method)) {
        snprintf(problem, sizeof(problem), ".request.method: %s",
                 method ? "must be a string" : "missing");
        goto fail;
    }
    if (!json_is_string(url) ||
        put_target(rest, json_string_value(method), json_string_value(url), route_from) < 0) {
        snprintf(problem, sizeof(problem), ".request.url: %s%.200s",
                 url == NULL ? "missing" : json_is_string(url) ?
                 "not an absolute URL or a path: " : "must be a string",
                 json_is_string(url) ? json_string_value(url) : "");
        goto fail;
    }
    v = json_object_get(req, "headers");
    if (v && !json_is_array(v)) {
        snprintf(problem, sizeof(problem), ".request.headers: must be an array");
        goto fail;
    }
    if (v && har_headers(v, rest, name, i, err) < 0) {
        json_decref(rest);
        return -EINVAL;
    }
    v = json_object_get(req, "postData");
    if (v && !json_is_object(v)) {
        snprintf(problem, sizeof(problem), ".request.postData: must be an object");
        goto fail;
    }
    if (v && har_body(v, rest, problem, sizeof(problem)) < 0)
        goto fail;
    list_add(out, sec, frac, rest);
    return 0;

fail:
    json_decref(rest);
    return pyab_error_set(err, "%s: log.entries[%zu]%s", name, i, problem);
}

static int import_har(const char *name, json_t *root, pyab_route_from route_from,
                      import_list *out, pyab_error *err)
{
    json_t *log = json_object_get(root, "log"), *entries, *e;
    size_t i;
    int rc;

    if (!json_is_object(log))
        return pyab_error_set(err, "%s: log: %s", name, log ? "must be an object" :
                              "missing (not a HAR file)");
    entries = json_object_get(log, "entries");
    if (!json_is_array(entries))
        return pyab_error_set(err, "%s: log.entries: %s", name,
                              entries ? "must be an array" : "missing");
    json_array_foreach(entries, i, e) {
        if ((rc = har_entry(name, i, e, route_from, out, err)) < 0)
            return rc;
    }
    return 0;
}

/* ---- access logs ---- */

static json_t *log_record(const pyab_accesslog_entry *e, pyab_route_from route_from)
{
    json_t *rest = json_object();

    if (put_target(rest, e->method, e->target, route_from) < 0) {
        json_decref(rest);
        return NULL;
    }
    json_t *h = json_object();
    /* A header that is not UTF-8 is dropped: the request itself is still good. */
    if (e->referer)
        json_object_set_new(h, "Referer", json_string(e->referer));
    if (e->user_agent)
        json_object_set_new(h, "User-Agent", json_string(e->user_agent));
    if (json_object_size(h))
        json_object_set_new(rest, "headers", h);
    else
        json_decref(h);
    return rest;
}

/*
 * Logs carry whole seconds. The n requests of one second are spread at
 * k/n (k = 0..n-1) in log order: evenly, and the same on every import.
 */
static void spread_seconds(import_list *l)
{
    if (l->n)
        qsort(l->v, l->n, sizeof(*l->v), cmp_rec);
    for (size_t i = 0, j; i < l->n; i = j) {
        for (j = i; j < l->n && l->v[j].sec == l->v[i].sec; j++)
            ;
        for (size_t k = i; k < j; k++)
            l->v[k].frac = (double)(k - i) / (double)(j - i);
    }
}

static int import_log(const char *name, const char *data, size_t len, pyab_route_from route_from,
                      import_list *out, size_t *skipped, pyab_error *err)
{
    const char *p = data, *end = data + len;
    size_t line = 0;

    for (; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
        pyab_accesslog_entry e;
        const char *problem;
        int column;

        const char *s = p;

        while (s < eol && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        if (s == eol) {
            p = eol + 1;
            continue;
        }
        if (pyab_accesslog_parse(p, (size_t)(eol - p), &e, &column, &problem) < 0)
            return pyab_error_set(err, "%s:%zu:%d: %s", name, line + 1, column, problem);
        json_t *rest = e.method ? log_record(&e, route_from) : NULL;
        if (rest)
            list_add(out, e.epoch, 0, rest);
        else
            (*skipped)++;
        pyab_accesslog_entry_finish(&e);
        p = eol + 1;
    }
    spread_seconds(out);
    return 0;
}

/* ---- detection and output ---- */

static int detect(const char *name, const char *data, size_t len, pyab_import_format *format,
                  pyab_error *err)
{
    const char *p = data, *end = data + len, *eol;

    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (p < end && *p == '{') {
        *format = PYAB_IMPORT_HAR;
        return 0;
    }
    eol = memchr(p, '\n', (size_t)(end - p));
    /* A first line that starts as a log line but does not parse (a bad date, a
     * truncated quote) is a log: the import then names its line, column and fault. */
    if (p < end && pyab_accesslog_looks_like(p, (size_t)((eol ? eol : end) - p))) {
        *format = PYAB_IMPORT_ACCESS_LOG;
        return 0;
    }
    return pyab_error_set(err, "%s: cannot tell the format: neither a HAR file (a JSON object "
                          "with \"log\") nor a combined-format access log; pass --format", name);
}

int pyab_traceimport_mem(const char *name, const char *data, size_t len,
                         pyab_import_format format, pyab_route_from route_from,
                         pyab_buf *out, pyab_import_result *res, pyab_error *err)
{
    import_list list = {0};
    int rc;

    memset(res, 0, sizeof(*res));
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        data += 3; /* a UTF-8 byte-order mark, as some HAR exporters write */
        len -= 3;
    }
    if (format == PYAB_IMPORT_AUTO && (rc = detect(name, data, len, &format, err)) < 0)
        return rc;
    res->format = format;
    if (format == PYAB_IMPORT_HAR) {
        json_error_t jerr;
        json_t *root = json_loadb(data, len, 0, &jerr);
        if (root == NULL)
            return pyab_error_set(err, "%s:%d:%d: %s", name, jerr.line, pyab_json_column(&jerr),
                                  jerr.text);
        rc = import_har(name, root, route_from, &list, err);
        json_decref(root);
        if (rc == 0 && list.n)
            qsort(list.v, list.n, sizeof(*list.v), cmp_rec);
    } else {
        rc = import_log(name, data, len, route_from, &list, &res->skipped, err);
    }
    if (rc == 0 && list.n == 0)
        rc = pyab_error_set(err, "%s: no requests found", name);
    for (size_t i = 0; rc == 0 && i < list.n; i++) {
        double t = (double)(list.v[i].sec - list.v[0].sec) + (list.v[i].frac - list.v[0].frac);
        pyab_trace_write_record(out, t, list.v[i].rest);
    }
    res->requests = rc == 0 ? list.n : 0;
    list_finish(&list);
    return rc;
}

int pyab_traceimport_file(const char *input, const char *output, pyab_import_format format,
                          pyab_route_from route_from, pyab_import_result *res,
                          pyab_error *err)
{
    char *data;
    size_t len;
    pyab_buf out;
    int rc = pyab_file_read(input, &data, &len);

    if (rc < 0)
        return pyab_error_set(err, "%s: cannot read: %s", input, pyab_file_strerror(rc));
    pyab_buf_init(&out);
    rc = pyab_traceimport_mem(input, data, len, format, route_from, &out, res, err);
    free(data);
    if (rc == 0 && (rc = pyab_file_write_atomic(output, out.data, out.len)) < 0)
        pyab_error_set(err, "%s: cannot write: %s", output, strerror(-rc));
    pyab_buf_finish(&out);
    return rc;
}
