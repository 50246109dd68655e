#include "request.h"

#include "where.h"

#include <string.h>

#include "wsgi.h"

static PyObject *decode(const uint8_t **p)
{
    uint8_t tag = *(*p)++;
    size_t n;
    PyObject *o;

    switch (tag) {
    case PYAB_TAG_NULL:
        Py_RETURN_NONE;
    case PYAB_TAG_TRUE:
        Py_RETURN_TRUE;
    case PYAB_TAG_FALSE:
        Py_RETURN_FALSE;
    case PYAB_TAG_INT: {
        uint64_t z = pyab_varint_read(p);
        return PyLong_FromLongLong((long long)((z >> 1) ^ (~(z & 1) + 1)));
    }
    case PYAB_TAG_REAL: {
        double d;
        memcpy(&d, *p, sizeof(d));
        *p += sizeof(d);
        return PyFloat_FromDouble(d);
    }
    case PYAB_TAG_STRING:
        n = pyab_varint_read(p);
        o = PyUnicode_DecodeUTF8((const char *)*p, (Py_ssize_t)n, "surrogatepass");
        *p += n;
        return o;
    case PYAB_TAG_ARRAY:
        n = pyab_varint_read(p);
        o = PyList_New((Py_ssize_t)n);
        for (size_t i = 0; o && i < n; i++) {
            PyObject *item = decode(p);
            if (item == NULL) {
                Py_CLEAR(o);
                break;
            }
            PyList_SET_ITEM(o, (Py_ssize_t)i, item);
        }
        return o;
    default:
        n = pyab_varint_read(p);
        o = PyDict_New();
        for (size_t i = 0; o && i < n; i++) {
            size_t klen = pyab_varint_read(p);
            PyObject *k = PyUnicode_DecodeUTF8((const char *)*p, (Py_ssize_t)klen, "surrogatepass");
            *p += klen;
            PyObject *v = k ? decode(p) : NULL;
            if (v == NULL || PyDict_SetItem(o, k, v) < 0)
                Py_CLEAR(o);
            Py_XDECREF(k);
            Py_XDECREF(v);
        }
        return o;
    }
}

/*
 * The record's top-level object, for a WSGI app: as decode() but a body
 * that is not a string comes as bytes of JSON text (see wsgi.h).
 */
static PyObject *decode_for_wsgi(const uint8_t **p)
{
    size_t n;
    PyObject *o;

    if (**p != PYAB_TAG_OBJECT)
        return decode(p);
    (*p)++;
    n = pyab_varint_read(p);
    o = PyDict_New();
    for (size_t i = 0; o && i < n; i++) {
        size_t klen = pyab_varint_read(p);
        int body = klen == 4 && memcmp(*p, "body", 4) == 0;
        PyObject *k = PyUnicode_DecodeUTF8((const char *)*p, (Py_ssize_t)klen, "surrogatepass");
        *p += klen;
        body = body && **p != PYAB_TAG_STRING && **p != PYAB_TAG_NULL;
        PyObject *v = k == NULL ? NULL : body ? pyab_wsgi_body(p) : decode(p);
        if (v == NULL || PyDict_SetItem(o, k, v) < 0)
            Py_CLEAR(o);
        Py_XDECREF(k);
        Py_XDECREF(v);
    }
    return o;
}

static PyObject *build(const pyab_trace *trace, const pyab_trace_rec *rec, int wsgi,
                       PyObject *key_t, PyObject *key_route)
{
    const uint8_t *p = trace->arena + rec->off;
    const char *route = trace->routes[rec->route];
    PyObject *req = wsgi ? decode_for_wsgi(&p) : decode(&p), *v;

    if (req == NULL)
        return NULL;
    v = PyFloat_FromDouble(rec->t);
    if (v == NULL || PyDict_SetItem(req, key_t, v) < 0)
        goto fail;
    Py_DECREF(v);
    v = PyUnicode_FromString(route);
    if (v == NULL || PyDict_SetItem(req, key_route, v) < 0)
        goto fail;
    Py_DECREF(v);
    return req;
fail:
    Py_XDECREF(v);
    Py_DECREF(req);
    return NULL;
}

PyObject *pyab_request_build(const pyab_trace *trace, const pyab_trace_rec *rec, int wsgi,
                             PyObject *key_t, PyObject *key_route)
{
    PyObject *req;

    /* What a service keeps of its request was allocated here, by pyab, not
     * by a line of the service: where.c names it so. GIL held. */
    pyab_where_building_request = 1;
    req = build(trace, rec, wsgi, key_t, key_route);
    pyab_where_building_request = 0;
    return req;
}
