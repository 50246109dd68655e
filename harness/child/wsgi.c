#include "wsgi.h"

#include <stdio.h>
#include <string.h>

#include "trace.h"
#include "util.h"

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static void put(buf *b, const void *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->data = xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void put_string(buf *b, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t from = 0;

    put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        char esc[6] = {'\\', 'u', '0', '0', 0, 0};
        size_t elen = 2;
        switch (s[i]) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (s[i] >= 0x20)
                continue;
            esc[4] = hex[s[i] >> 4];
            esc[5] = hex[s[i] & 15];
            elen = 6;
        }
        put(b, s + from, i - from);
        put(b, esc, elen);
        from = i + 1;
    }
    put(b, s + from, n - from);
    put(b, "\"", 1);
}

/* Python's repr of a float; JSON has no inf/nan, and the trace loader never stores them. */
static int put_real(buf *b, double d)
{
    char *s = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);

    if (s == NULL)
        return -1;
    put(b, s, strlen(s));
    PyMem_Free(s);
    return 0;
}

static int write_value(buf *b, const uint8_t **p)
{
    uint8_t tag = *(*p)++;
    char num[32];
    size_t n;

    switch (tag) {
    case PYAB_TAG_NULL:
        put(b, "null", 4);
        return 0;
    case PYAB_TAG_TRUE:
        put(b, "true", 4);
        return 0;
    case PYAB_TAG_FALSE:
        put(b, "false", 5);
        return 0;
    case PYAB_TAG_INT: {
        uint64_t z = pyab_varint_read(p);
        long long v = (long long)((z >> 1) ^ (~(z & 1) + 1));
        put(b, num, (size_t)snprintf(num, sizeof(num), "%lld", v));
        return 0;
    }
    case PYAB_TAG_REAL: {
        double d;
        memcpy(&d, *p, sizeof(d));
        *p += sizeof(d);
        return put_real(b, d);
    }
    case PYAB_TAG_STRING:
        n = pyab_varint_read(p);
        put_string(b, *p, n);
        *p += n;
        return 0;
    case PYAB_TAG_ARRAY:
        n = pyab_varint_read(p);
        put(b, "[", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                put(b, ",", 1);
            if (write_value(b, p) < 0)
                return -1;
        }
        put(b, "]", 1);
        return 0;
    default:
        n = pyab_varint_read(p);
        put(b, "{", 1);
        for (size_t i = 0; i < n; i++) {
            size_t klen = pyab_varint_read(p);
            if (i)
                put(b, ",", 1);
            put_string(b, *p, klen);
            *p += klen;
            put(b, ":", 1);
            if (write_value(b, p) < 0)
                return -1;
        }
        put(b, "}", 1);
        return 0;
    }
}

PyObject *pyab_wsgi_body(const uint8_t **p)
{
    buf b = {NULL, 0, 0};
    PyObject *out = NULL;

    if (write_value(&b, p) == 0)
        out = PyBytes_FromStringAndSize(b.data ? b.data : "", (Py_ssize_t)b.len);
    free(b.data);
    return out;
}
