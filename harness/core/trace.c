#include "trace.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const record_keys[] = {
    "t", "route", "body", "method", "path", "query", "headers",
};

typedef struct route_map {
    uint32_t *slots; /* route index + 1; 0 is empty */
    size_t cap;
} route_map;

static void put_varint(pyab_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;

    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    pyab_buf_add(b, tmp, n);
}

static void put_tag(pyab_buf *b, char tag)
{
    pyab_buf_add(b, &tag, 1);
}

static void put_string(pyab_buf *b, const char *s, size_t n)
{
    put_varint(b, n);
    pyab_buf_add(b, s, n);
}

static void encode_value(pyab_buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        put_tag(b, PYAB_TAG_NULL);
        break;
    case JSON_TRUE:
        put_tag(b, PYAB_TAG_TRUE);
        break;
    case JSON_FALSE:
        put_tag(b, PYAB_TAG_FALSE);
        break;
    case JSON_INTEGER: {
        int64_t i = json_integer_value(v);
        put_tag(b, PYAB_TAG_INT);
        put_varint(b, ((uint64_t)i << 1) ^ (uint64_t)(i >> 63));
        break;
    }
    case JSON_REAL: {
        double d = json_real_value(v);
        put_tag(b, PYAB_TAG_REAL);
        pyab_buf_add(b, &d, sizeof(d));
        break;
    }
    case JSON_STRING:
        put_tag(b, PYAB_TAG_STRING);
        put_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        put_tag(b, PYAB_TAG_ARRAY);
        put_varint(b, json_array_size(v));
        json_array_foreach(v, i, item)
            encode_value(b, item);
        break;
    }
    case JSON_OBJECT: {
        const char *key;
        json_t *item;
        put_tag(b, PYAB_TAG_OBJECT);
        put_varint(b, json_object_size(v));
        json_object_foreach((json_t *)v, key, item) {
            put_string(b, key, strlen(key));
            encode_value(b, item);
        }
        break;
    }
    }
}

static json_t *decode_value(const uint8_t **p)
{
    uint8_t tag = *(*p)++;

    switch (tag) {
    case PYAB_TAG_NULL:
        return json_null();
    case PYAB_TAG_TRUE:
        return json_true();
    case PYAB_TAG_FALSE:
        return json_false();
    case PYAB_TAG_INT: {
        uint64_t z = pyab_varint_read(p);
        return json_integer((json_int_t)((z >> 1) ^ (~(z & 1) + 1)));
    }
    case PYAB_TAG_REAL: {
        double d;
        memcpy(&d, *p, sizeof(d));
        *p += sizeof(d);
        return json_real(d);
    }
    case PYAB_TAG_STRING: {
        size_t n = pyab_varint_read(p);
        json_t *s = json_stringn((const char *)*p, n);
        *p += n;
        return s;
    }
    case PYAB_TAG_ARRAY: {
        size_t n = pyab_varint_read(p);
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, decode_value(p));
        return a;
    }
    default: {
        size_t n = pyab_varint_read(p);
        json_t *o = json_object();
        for (size_t i = 0; i < n; i++) {
            size_t klen = pyab_varint_read(p);
            char *key = xstrndup((const char *)*p, klen);
            *p += klen;
            json_object_set_new(o, key, decode_value(p));
            free(key);
        }
        return o;
    }
    }
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static uint32_t route_intern(pyab_trace *tr, route_map *map, const char *name)
{
    size_t i;

    if ((tr->nroutes + 1) * 2 > map->cap) {
        size_t cap = map->cap ? map->cap * 2 : 64;
        free(map->slots);
        map->slots = xcalloc(cap, sizeof(*map->slots));
        map->cap = cap;
        for (size_t r = 0; r < tr->nroutes; r++) {
            i = hash_str(tr->routes[r]) & (cap - 1);
            while (map->slots[i])
                i = (i + 1) & (cap - 1);
            map->slots[i] = (uint32_t)r + 1;
        }
    }
    i = hash_str(name) & (map->cap - 1);
    while (map->slots[i]) {
        if (strcmp(tr->routes[map->slots[i] - 1], name) == 0)
            return map->slots[i] - 1;
        i = (i + 1) & (map->cap - 1);
    }
    tr->routes = xrealloc(tr->routes, (tr->nroutes + 1) * sizeof(*tr->routes));
    tr->routes[tr->nroutes] = xstrdup(name);
    map->slots[i] = (uint32_t)tr->nroutes + 1;
    return (uint32_t)tr->nroutes++;
}

static int known_key(const char *key)
{
    for (size_t i = 0; i < PYAB_ARRAY_LEN(record_keys); i++)
        if (strcmp(key, record_keys[i]) == 0)
            return 1;
    return 0;
}

static int check_record(const char *name, size_t line, json_t *rec, pyab_error *err)
{
    const char *key;
    json_t *v;

    if (!json_is_object(rec))
        return pyab_error_set(err, "%s:%zu: a request must be a JSON object", name, line);
    json_object_foreach(rec, key, v) {
        if (!known_key(key))
            return pyab_error_set(err, "%s:%zu: unknown key \"%s\" (known: t, route, body, "
                                  "method, path, query, headers)", name, line, key);
    }
    v = json_object_get(rec, "t");
    if (v == NULL)
        return pyab_error_set(err, "%s:%zu: missing key \"t\" (seconds)", name, line);
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
        return pyab_error_set(err, "%s:%zu: key \"t\": must be a finite number >= 0", name, line);
    if (json_object_get(rec, "route") == NULL && json_object_get(rec, "path") == NULL)
        return pyab_error_set(err, "%s:%zu: missing key \"route\" (or \"path\")", name, line);
    static const char *const string_keys[] = {"route", "method", "path"};
    for (size_t i = 0; i < PYAB_ARRAY_LEN(string_keys); i++) {
        v = json_object_get(rec, string_keys[i]);
        if (v && !json_is_string(v))
            return pyab_error_set(err, "%s:%zu: key \"%s\": must be a string", name, line,
                                  string_keys[i]);
    }
    v = json_object_get(rec, "query");
    if (v && !json_is_string(v) && !json_is_object(v))
        return pyab_error_set(err, "%s:%zu: key \"query\": must be a string or an object",
                              name, line);
    v = json_object_get(rec, "headers");
    if (v) {
        json_t *h;
        if (!json_is_object(v))
            return pyab_error_set(err, "%s:%zu: key \"headers\": must be an object", name, line);
        json_object_foreach(v, key, h) {
            if (!json_is_string(h))
                return pyab_error_set(err, "%s:%zu: key \"headers.%s\": must be a string",
                                      name, line, key);
        }
    }
    return 0;
}

static int add_record(pyab_trace *tr, route_map *map, pyab_buf *arena, const char *name,
                      size_t line, json_t *rec, pyab_error *err)
{
    json_t *route = json_object_get(rec, "route");
    const char *key;
    json_t *v;
    size_t off = arena->len, nfields = 0;
    pyab_trace_rec *r;
    int rc;

    if ((rc = check_record(name, line, rec, err)) < 0)
        return rc;
    if (route == NULL)
        route = json_object_get(rec, "path");
    json_object_foreach(rec, key, v)
        nfields += strcmp(key, "t") != 0 && strcmp(key, "route") != 0;
    put_tag(arena, PYAB_TAG_OBJECT);
    put_varint(arena, nfields);
    json_object_foreach(rec, key, v) {
        if (strcmp(key, "t") == 0 || strcmp(key, "route") == 0)
            continue;
        put_string(arena, key, strlen(key));
        encode_value(arena, v);
    }
    if (arena->len > UINT32_MAX)
        return pyab_error_set(err, "%s:%zu: trace too large (over 4 GiB encoded)", name, line);
    if ((tr->count & (tr->count - 1)) == 0)
        tr->recs = xrealloc(tr->recs, (tr->count ? tr->count * 2 : 1024) * sizeof(*tr->recs));
    r = &tr->recs[tr->count++];
    r->t = json_number_value(json_object_get(rec, "t"));
    r->off = (uint32_t)off;
    r->len = (uint32_t)(arena->len - off);
    r->route = route_intern(tr, map, json_string_value(route));
    r->line = (uint32_t)line;
    return 0;
}

static int cmp_rec(const void *a, const void *b)
{
    const pyab_trace_rec *x = a, *y = b;

    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line; /* stable: file order */
}

static void finish_order(pyab_trace *tr)
{
    double t0;

    for (size_t i = 1; i < tr->count; i++)
        tr->reordered += tr->recs[i].t < tr->recs[i - 1].t;
    if (tr->reordered)
        qsort(tr->recs, tr->count, sizeof(*tr->recs), cmp_rec);
    t0 = tr->recs[0].t;
    for (size_t i = 0; i < tr->count; i++)
        tr->recs[i].t -= t0;
    tr->duration = tr->recs[tr->count - 1].t;
}

pyab_trace *pyab_trace_load_mem(const char *name, const char *data, size_t len,
                                pyab_error *err)
{
    pyab_trace *tr = xcalloc(1, sizeof(*tr));
    route_map map = {0};
    pyab_buf arena;
    const char *p = data, *end = data + len;
    size_t line = 0;

    pyab_buf_init(&arena);
    tr->path = xstrdup(name);
    tr->file_bytes = len;
    p += pyab_utf8_bom(data, len); /* columns then count from after the mark */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        json_error_t jerr;
        json_t *rec;
        int rc;

        line++;
        const char *s = p;
        while (s < eol && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        if (s == eol) {
            p = eol + 1;
            continue;
        }
        /* A key given twice would replay one of the two silently, as scenarios refuse it. */
        rec = json_loadb(p, (size_t)(eol - p), JSON_REJECT_DUPLICATES, &jerr);
        if (rec == NULL) {
            pyab_error_set(err, "%s:%zu:%d: %s", name, line, pyab_json_column(&jerr), jerr.text);
            goto fail;
        }
        rc = add_record(tr, &map, &arena, name, line, rec, err);
        json_decref(rec);
        if (rc < 0)
            goto fail;
        p = eol + 1;
    }
    if (tr->count == 0) {
        pyab_error_set(err, "%s: the trace has no requests", name);
        goto fail;
    }
    finish_order(tr);
    tr->recs = xrealloc(tr->recs, tr->count * sizeof(*tr->recs));
    tr->arena = (uint8_t *)xrealloc(arena.data, arena.len);
    tr->arena_len = arena.len;
    free(map.slots);
    return tr;

fail:
    free(map.slots);
    pyab_buf_finish(&arena);
    pyab_trace_destroy(tr);
    return NULL;
}

pyab_trace *pyab_trace_load(const char *path, pyab_error *err)
{
    char *data;
    size_t len;
    pyab_trace *tr;
    int rc = pyab_file_read(path, &data, &len);

    if (rc < 0) {
        pyab_error_set(err, "%s: cannot read trace: %s", path, pyab_file_strerror(rc));
        return NULL;
    }
    tr = pyab_trace_load_mem(path, data, len, err);
    free(data);
    return tr;
}

void pyab_trace_destroy(pyab_trace *tr)
{
    if (tr == NULL)
        return;
    for (size_t i = 0; i < tr->nroutes; i++)
        free(tr->routes[i]);
    free(tr->routes);
    free(tr->recs);
    free(tr->arena);
    free(tr->path);
    free(tr);
}

size_t pyab_trace_memory(const pyab_trace *tr)
{
    size_t n = tr->count * sizeof(*tr->recs) + tr->arena_len +
               tr->nroutes * sizeof(*tr->routes);

    for (size_t i = 0; i < tr->nroutes; i++)
        n += strlen(tr->routes[i]) + 1;
    return n;
}

json_t *pyab_trace_record_json(const pyab_trace *tr, size_t i)
{
    const pyab_trace_rec *r = &tr->recs[i];
    const uint8_t *p = tr->arena + r->off;
    json_t *rec = decode_value(&p);

    json_object_set_new(rec, "t", json_real(r->t));
    json_object_set_new(rec, "route", json_string(tr->routes[r->route]));
    return rec;
}

void pyab_trace_write_record(pyab_buf *out, double t, const json_t *rest)
{
    char num[64], *s;
    size_t n;

    n = (size_t)snprintf(num, sizeof(num), "%.6f", t);
    while (n > 2 && num[n - 1] == '0' && num[n - 2] != '.')
        num[--n] = '\0';
    s = json_dumps(rest, JSON_COMPACT);
    pyab_buf_addf(out, "{\"t\":%s,%s\n", num, s + 1);
    free(s);
}
