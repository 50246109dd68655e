#include "transform.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

int pyab_transform_sampled(uint64_t seed, size_t i, double share)
{
    if (share >= 1)
        return 1;
    /* The top 53 bits as a uniform double in [0, 1). */
    return (double)(pyab_rng_mix(pyab_rng_mix(seed) ^ (uint64_t)i) >> 11) * 0x1.0p-53 < share;
}

static long route_index(const pyab_trace *tr, const char *name)
{
    for (size_t r = 0; r < tr->nroutes; r++)
        if (strcmp(tr->routes[r], name) == 0)
            return (long)r;
    return -1;
}

/* The trace's route names, comma-separated, for a message (new string). */
static char *route_names(const pyab_trace *tr)
{
    size_t len = 1;
    char *s;

    for (size_t r = 0; r < tr->nroutes && r < 20; r++)
        len += strlen(tr->routes[r]) + 2;
    s = xcalloc(1, len + 8);
    for (size_t r = 0; r < tr->nroutes && r < 20; r++) {
        if (r)
            strcat(s, ", ");
        strcat(s, tr->routes[r]);
    }
    if (tr->nroutes > 20)
        strcat(s, ", ...");
    return s;
}

/* Marks in `on` the routes named by `list` (a JSON list of strings) with `value`. */
static int mark_routes(const pyab_trace *tr, json_t *list, const char *key, const char *where,
                       uint8_t *on, uint8_t value, pyab_error *err)
{
    json_t *item;
    size_t i;

    json_array_foreach(list, i, item) {
        long r = route_index(tr, json_string_value(item));
        if (r < 0) {
            char *names = route_names(tr);
            pyab_error_set(err, "%s: key \"load.%s[%zu]\": \"%s\" is not a route of %s "
                           "(its routes: %s)", where, key, i, json_string_value(item),
                           tr->path, names);
            free(names);
            return -EINVAL;
        }
        on[r] = value;
    }
    return 0;
}

int pyab_transform_select(const pyab_config *cfg, const pyab_trace *trace, const char *where,
                          uint32_t **keep, size_t *n, pyab_error *err)
{
    uint8_t *on = xmalloc(trace->nroutes ? trace->nroutes : 1);
    uint32_t *out;
    size_t k = 0;

    memset(on, cfg->routes ? 0 : 1, trace->nroutes);
    if ((cfg->routes &&
         mark_routes(trace, cfg->routes, "routes", where, on, 1, err) < 0) ||
        (cfg->exclude_routes &&
         mark_routes(trace, cfg->exclude_routes, "exclude_routes", where, on, 0, err) < 0)) {
        free(on);
        return -EINVAL;
    }
    out = xmalloc((trace->count ? trace->count : 1) * sizeof(*out));
    for (size_t i = 0; i < trace->count; i++)
        if (on[trace->recs[i].route] && pyab_transform_sampled(cfg->seed, i, cfg->sample_share))
            out[k++] = (uint32_t)i;
    free(on);
    if (k == 0) {
        free(out);
        return pyab_error_set(err, "%s: key \"load\": the route filter and sample keep no "
                              "request of %s (%zu request%s)", where, trace->path, trace->count,
                              PYAB_PLURAL(trace->count));
    }
    *keep = out;
    *n = k;
    return 0;
}
