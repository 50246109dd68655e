/*
 * The SPEC half of tracesynth (keys documented in tracesynth.h): reads the
 * JSON into a pyab_synth_spec, checking every key and naming its path in
 * errors, so that a typo ("wieght") fails loudly instead of being ignored.
 */
#include "tracesynth.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *name;
    pyab_error *err;
} parser;

static const char *const top_keys[] = {
    "duration", "rate", "seed", "routes", "cycle", "bursts", "batches", NULL,
};
static const char *const route_keys[] = {
    "route", "weight", "method", "ids", "body", "size", "headers", NULL,
};
static const char *const batch_keys[] = {
    "every", "count", "start", "spread", "route", "method", "ids", "body", "size", "headers", NULL,
};
static const char *const cycle_keys[] = {"period", "amplitude", "phase", NULL};
static const char *const burst_keys[] = {"start", "duration", "multiplier", NULL};
static const char *const size_keys[] = {"dist", "bytes", "median", "sigma", "min", "max", NULL};

/* "routes[1]" + "weight" -> "routes[1].weight"; the top level has no prefix. */
static void key_path(char *buf, size_t n, const char *where, const char *key)
{
    snprintf(buf, n, "%s%s%s", where, where[0] ? "." : "", key);
}

static int check_keys(parser *p, const json_t *obj, const char *where,
                      const char *const *known)
{
    const char *key;
    json_t *v;
    char path[256], list[512] = "";

    if (!json_is_object(obj))
        return pyab_error_set(p->err, "%s: %s: must be an object", p->name,
                              where[0] ? where : "the spec");
    json_object_foreach((json_t *)obj, key, v) {
        size_t i;
        for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
            ;
        if (known[i])
            continue;
        for (i = 0; known[i]; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                     known[i]);
        key_path(path, sizeof(path), where, key);
        return pyab_error_set(p->err, "%s: %s: unknown key (known: %s)", p->name, path, list);
    }
    return 0;
}

/* A number in [lo, hi] (lo excluded when `open_lo`), or `def` when absent. */
static int get_number(parser *p, const json_t *obj, const char *where, const char *key,
                      double def, double lo, int open_lo, double hi, double *out)
{
    json_t *v = json_object_get(obj, key);
    char path[256];
    double x;

    *out = def;
    if (v == NULL)
        return 0;
    x = json_number_value(v);
    if (json_is_number(v) && isfinite(x) && (open_lo ? x > lo : x >= lo) && x <= hi) {
        *out = x;
        return 0;
    }
    key_path(path, sizeof(path), where, key);
    if (isinf(hi))
        return pyab_error_set(p->err, "%s: %s: must be a number %s %g", p->name, path,
                              open_lo ? ">" : ">=", lo);
    return pyab_error_set(p->err, "%s: %s: must be a number %s %g and <= %g", p->name, path,
                          open_lo ? ">" : ">=", lo, hi);
}

static int get_string(parser *p, const json_t *obj, const char *where, const char *key,
                      const char *def, char **out)
{
    json_t *v = json_object_get(obj, key);
    char path[256];

    if (v && !json_is_string(v)) {
        key_path(path, sizeof(path), where, key);
        return pyab_error_set(p->err, "%s: %s: must be a string", p->name, path);
    }
    *out = v ? xstrdup(json_string_value(v)) : def ? xstrdup(def) : NULL;
    return 0;
}

static int parse_size(parser *p, const json_t *v, const char *where, pyab_synth_size *s)
{
    const char *dist;
    int rc;

    memset(s, 0, sizeof(*s));
    s->max = 1 << 30;
    if (v == NULL || json_is_number(v)) {
        s->bytes = v ? json_number_value(v) : 100;
        if (s->bytes < 0 || s->bytes > s->max)
            return pyab_error_set(p->err, "%s: %s: must be a number >= 0 and <= %g", p->name,
                                  where, s->max);
        return 0;
    }
    if ((rc = check_keys(p, v, where, size_keys)) < 0)
        return rc;
    dist = json_string_value(json_object_get(v, "dist"));
    if (dist == NULL || strcmp(dist, "fixed") == 0)
        s->dist = PYAB_SIZE_FIXED;
    else if (strcmp(dist, "lognormal") == 0)
        s->dist = PYAB_SIZE_LOGNORMAL;
    else if (strcmp(dist, "uniform") == 0)
        s->dist = PYAB_SIZE_UNIFORM;
    else
        return pyab_error_set(p->err, "%s: %s.dist: must be \"fixed\", \"lognormal\" or "
                              "\"uniform\"", p->name, where);
    if (get_number(p, v, where, "bytes", 100, 0, 0, 1 << 30, &s->bytes) < 0 ||
        get_number(p, v, where, "median", 100, 0, 1, 1 << 30, &s->median) < 0 ||
        get_number(p, v, where, "sigma", 1, 0, 0, 10, &s->sigma) < 0 ||
        get_number(p, v, where, "min", 0, 0, 0, 1 << 30, &s->min) < 0 ||
        get_number(p, v, where, "max", s->dist == PYAB_SIZE_UNIFORM ? 1000 : 1 << 30, 0, 0,
                   1 << 30, &s->max) < 0)
        return -EINVAL;
    if (s->min > s->max)
        return pyab_error_set(p->err, "%s: %s: min is above max", p->name, where);
    return 0;
}

static const char *const body_names[] = {"both", "size", "filler", "none"};

static int parse_route(parser *p, const json_t *v, const char *where, int batch,
                       pyab_synth_route *r)
{
    char path[256], *body = NULL;
    double ids;
    int rc;

    if ((rc = check_keys(p, v, where, batch ? batch_keys : route_keys)) < 0)
        return rc;
    if ((rc = get_string(p, v, where, "route", batch ? NULL : "/predict", &r->route)) < 0 ||
        (rc = get_string(p, v, where, "method", "POST", &r->method)) < 0 ||
        (rc = get_number(p, v, where, "weight", 1, 0, 1, INFINITY, &r->weight)) < 0 ||
        (rc = get_number(p, v, where, "ids", 1000, 1, 0, 1e15, &ids)) < 0 ||
        (rc = get_string(p, v, where, "body", "both", &body)) < 0)
        return rc;
    r->ids = (long)ids;
    r->body = PYAB_BODY_NONE + 1;
    for (size_t i = 0; i < PYAB_ARRAY_LEN(body_names); i++)
        if (strcmp(body, body_names[i]) == 0)
            r->body = i;
    free(body);
    if (r->route == NULL || r->route[0] != '/')
        return pyab_error_set(p->err, "%s: %s.route: %s", p->name, where,
                              r->route ? "must start with '/'" : "missing");
    if (r->body > PYAB_BODY_NONE)
        return pyab_error_set(p->err, "%s: %s.body: must be \"both\", \"size\", \"filler\" or "
                              "\"none\"", p->name, where);
    key_path(path, sizeof(path), where, "size");
    if ((rc = parse_size(p, json_object_get(v, "size"), path, &r->size)) < 0)
        return rc;
    r->headers = json_object_get(v, "headers");
    if (r->headers) {
        const char *k;
        json_t *h;
        key_path(path, sizeof(path), where, "headers");
        if (!json_is_object(r->headers)) {
            r->headers = NULL;
            return pyab_error_set(p->err, "%s: %s: must be an object", p->name, path);
        }
        json_object_foreach(r->headers, k, h)
            if (!json_is_string(h)) {
                r->headers = NULL;
                return pyab_error_set(p->err, "%s: %s.%s: must be a string", p->name, path, k);
            }
        r->headers = json_deep_copy(r->headers);
    }
    return 0;
}

static int parse_list(parser *p, const json_t *v, const char *key, size_t *n)
{
    *n = 0;
    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return pyab_error_set(p->err, "%s: %s: must be an array", p->name, key);
    *n = json_array_size(v);
    return 0;
}

static int parse_routes(parser *p, const json_t *json, pyab_synth_spec *s)
{
    const json_t *list = json_object_get(json, "routes");
    char where[64];
    int rc;

    if ((rc = parse_list(p, list, "routes", &s->nroutes)) < 0)
        return rc;
    if (list && s->nroutes == 0)
        return pyab_error_set(p->err, "%s: routes: must not be empty", p->name);
    if (list == NULL) {
        s->routes = xcalloc(1, sizeof(*s->routes));
        s->nroutes = 1;
        json_t *empty = json_object();
        rc = parse_route(p, empty, "routes[0]", 0, &s->routes[0]);
        json_decref(empty);
        return rc;
    }
    s->routes = xcalloc(s->nroutes, sizeof(*s->routes));
    for (size_t i = 0; i < s->nroutes; i++) {
        snprintf(where, sizeof(where), "routes[%zu]", i);
        if ((rc = parse_route(p, json_array_get(list, i), where, 0, &s->routes[i])) < 0)
            return rc;
    }
    return 0;
}

static int parse_bursts(parser *p, const json_t *json, pyab_synth_spec *s)
{
    const json_t *list = json_object_get(json, "bursts");
    char where[64];
    int rc;

    if ((rc = parse_list(p, list, "bursts", &s->nbursts)) < 0)
        return rc;
    s->bursts = xcalloc(s->nbursts, sizeof(*s->bursts));
    for (size_t i = 0; i < s->nbursts; i++) {
        const json_t *b = json_array_get(list, i);
        pyab_synth_burst *u = &s->bursts[i];
        snprintf(where, sizeof(where), "bursts[%zu]", i);
        if ((rc = check_keys(p, b, where, burst_keys)) < 0 ||
            (rc = get_number(p, b, where, "start", 0, 0, 0, INFINITY, &u->start)) < 0 ||
            (rc = get_number(p, b, where, "duration", 10, 0, 1, INFINITY, &u->duration)) < 0 ||
            (rc = get_number(p, b, where, "multiplier", 2, 0, 0, 1e6, &u->multiplier)) < 0)
            return rc;
    }
    return 0;
}

static int parse_batches(parser *p, const json_t *json, pyab_synth_spec *s)
{
    const json_t *list = json_object_get(json, "batches");
    char where[64];
    double count;
    int rc;

    if ((rc = parse_list(p, list, "batches", &s->nbatches)) < 0)
        return rc;
    s->batches = xcalloc(s->nbatches, sizeof(*s->batches));
    for (size_t i = 0; i < s->nbatches; i++) {
        const json_t *b = json_array_get(list, i);
        pyab_synth_batch *u = &s->batches[i];
        snprintf(where, sizeof(where), "batches[%zu]", i);
        if ((rc = parse_route(p, b, where, 1, &u->req)) < 0)
            return rc;
        if (json_object_get(b, "every") == NULL || json_object_get(b, "count") == NULL)
            return pyab_error_set(p->err, "%s: %s.%s: missing", p->name, where,
                                  json_object_get(b, "every") ? "count" : "every");
        if ((rc = get_number(p, b, where, "every", 60, 0, 1, INFINITY, &u->every)) < 0 ||
            (rc = get_number(p, b, where, "count", 1, 1, 0, 1e7, &count)) < 0 ||
            (rc = get_number(p, b, where, "start", u->every, 0, 0, INFINITY, &u->start)) < 0 ||
            (rc = get_number(p, b, where, "spread", 1, 0, 0, INFINITY, &u->spread)) < 0)
            return rc;
        u->count = (long)count;
    }
    return 0;
}

static int parse_top(parser *p, const json_t *json, pyab_synth_spec *s)
{
    const json_t *cycle = json_object_get(json, "cycle"), *seed = json_object_get(json, "seed");
    int rc;

    if ((rc = check_keys(p, json, "", top_keys)) < 0 ||
        (rc = get_number(p, json, "", "duration", 60, 0, 1, 1e9, &s->duration)) < 0 ||
        (rc = get_number(p, json, "", "rate", 10, 0, 0, 1e7, &s->rate)) < 0)
        return rc;
    if (seed && (!json_is_integer(seed) || json_integer_value(seed) < 0))
        return pyab_error_set(p->err, "%s: seed: must be an integer >= 0", p->name);
    s->seed = seed ? (uint64_t)json_integer_value(seed) : 1;
    if (cycle) {
        if ((rc = check_keys(p, cycle, "cycle", cycle_keys)) < 0)
            return rc;
        if (json_object_get(cycle, "period") == NULL)
            return pyab_error_set(p->err, "%s: cycle.period: missing", p->name);
        if ((rc = get_number(p, cycle, "cycle", "period", 0, 0, 1, INFINITY,
                             &s->cycle_period)) < 0 ||
            (rc = get_number(p, cycle, "cycle", "amplitude", 0.5, 0, 0, 1,
                             &s->cycle_amplitude)) < 0 ||
            (rc = get_number(p, cycle, "cycle", "phase", 0, 0, 0, 1, &s->cycle_phase)) < 0)
            return rc;
    }
    if ((rc = parse_routes(p, json, s)) < 0 || (rc = parse_bursts(p, json, s)) < 0 ||
        (rc = parse_batches(p, json, s)) < 0)
        return rc;
    return 0;
}

pyab_synth_spec *pyab_tracesynth_spec_parse(const char *name, const json_t *json,
                                            pyab_error *err)
{
    parser p = {name, err};
    pyab_synth_spec *s = xcalloc(1, sizeof(*s));
    json_t *empty = json ? NULL : json_object();

    if (parse_top(&p, json ? json : empty, s) < 0) {
        pyab_tracesynth_spec_destroy(s);
        s = NULL;
    }
    json_decref(empty);
    return s;
}

pyab_synth_spec *pyab_tracesynth_spec_load(const char *path, pyab_error *err)
{
    json_t *json;
    pyab_synth_spec *s;

    if (path == NULL)
        return pyab_tracesynth_spec_parse("(defaults)", NULL, err);
    if ((json = pyab_json_read(path, JSON_REJECT_DUPLICATES, err)) == NULL)
        return NULL;
    s = pyab_tracesynth_spec_parse(path, json, err);
    json_decref(json);
    return s;
}

static void route_finish(pyab_synth_route *r)
{
    free(r->route);
    free(r->method);
    json_decref(r->headers);
}

void pyab_tracesynth_spec_destroy(pyab_synth_spec *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nroutes; i++)
        route_finish(&s->routes[i]);
    for (size_t i = 0; i < s->nbatches; i++)
        route_finish(&s->batches[i].req);
    free(s->routes);
    free(s->bursts);
    free(s->batches);
    free(s);
}
