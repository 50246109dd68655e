#include "routestats.h"

#include <string.h>

#include "interp.h"
#include "util.h"

typedef struct error_kind {
    char *type;
    char *traceback; /* of the first occurrence */
    uint64_t count;
    struct error_kind *next;
} error_kind;

typedef struct route_stats {
    uint64_t calls; /* the handler's calls, raised or not */
    uint64_t errors;
    uint64_t status[6]; /* [0] other, [1..5] = 1xx..5xx, from an int handler result */
    error_kind *kinds;
    int kept; /* the route has records this arm replays */
} route_stats;

struct pyab_routestats {
    size_t n;
    route_stats *routes;
    const error_kind *first; /* the run's first exception, of route first_route */
    uint32_t first_route;
};

pyab_routestats *pyab_routestats_create(size_t nroutes)
{
    pyab_routestats *rs = xcalloc(1, sizeof(*rs));

    rs->n = nroutes;
    rs->routes = xcalloc(nroutes, sizeof(*rs->routes));
    return rs;
}

void pyab_routestats_keep(pyab_routestats *rs, uint32_t route)
{
    rs->routes[route].kept = 1;
}

void pyab_routestats_error(pyab_routestats *s, uint32_t route)
{
    PyObject *exc = pyab_interp_take_exception();
    route_stats *rs = &s->routes[route];
    const char *type = exc ? Py_TYPE(exc)->tp_name : "unknown";
    error_kind *k;

    error_kind **tail = &rs->kinds;

    rs->calls++;
    rs->errors++;
    for (k = rs->kinds; k; tail = &k->next, k = k->next)
        if (strcmp(k->type, type) == 0)
            break;
    if (k == NULL) {
        /* Appended: "exceptions" lists the kinds in the order they first occurred. */
        k = xcalloc(1, sizeof(*k));
        k->type = xstrdup(type);
        k->traceback = exc ? pyab_interp_format_exception(exc) : xstrdup("");
        *tail = k;
        if (s->first == NULL) {
            s->first = k;
            s->first_route = route;
        }
    }
    k->count++;
    Py_XDECREF(exc);
}

void pyab_routestats_result(pyab_routestats *rs, uint32_t route, PyObject *res)
{
    rs->routes[route].calls++;
    pyab_routestats_status(rs, route, res);
}

void pyab_routestats_status(pyab_routestats *rs, uint32_t route, PyObject *res)
{
    if (PyLong_CheckExact(res)) {
        long code = PyLong_AsLong(res);
        rs->routes[route].status[code >= 100 && code < 600 ? code / 100 : 0]++;
        PyErr_Clear();
    }
}

json_t *pyab_routestats_json(const pyab_routestats *s, const char *const *names)
{
    json_t *out = json_object();
    static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};

    for (size_t r = 0; r < s->n; r++) {
        const route_stats *rs = &s->routes[r];
        if (!rs->kept)
            continue; /* filtered out by load.routes / load.exclude_routes */
        json_t *o = json_object(), *status = json_object(), *kinds = json_array();
        for (int c = 0; c < 6; c++)
            if (rs->status[c])
                json_object_set_new(status, classes[c], json_integer((json_int_t)rs->status[c]));
        for (error_kind *k = rs->kinds; k; k = k->next)
            json_array_append_new(kinds, json_pack("{s:s,s:I,s:s}", "type", k->type, "count",
                                                   (json_int_t)k->count, "traceback",
                                                   k->traceback));
        json_object_set_new(o, "requests", json_integer((json_int_t)rs->calls));
        json_object_set_new(o, "errors", json_integer((json_int_t)rs->errors));
        json_object_set_new(o, "status", status);
        json_object_set_new(o, "exceptions", kinds);
        json_object_set_new(out, names[r], o);
    }
    return out;
}

json_t *pyab_routestats_first_error(const pyab_routestats *s, const char *const *names)
{
    if (s->first == NULL)
        return json_null();
    return json_pack("{s:s,s:s,s:s}", "route", names[s->first_route], "type", s->first->type,
                     "traceback", s->first->traceback);
}
