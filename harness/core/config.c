#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "interpreter.h"
#include "keys.h"

static int parse_app(const pyab_where *w, pyab_config *cfg, json_t *root, const char *base)
{
    static const char *const keys[] = {"path", "module", "wsgi", "asgi", "handler"};
    json_t *app;
    int kinds = 0, rc;

    if ((rc = pyab_keys_object(w, root, "", "app", &app)) < 0)
        return rc;
    if (app == NULL)
        return pyab_keys_fail(w, "", "app",
                              "missing (e.g. {\"path\": \"service.py\", \"handler\": \"handle\"})");
    if ((rc = pyab_keys_check(w, app, "app", keys, PYAB_ARRAY_LEN(keys))) < 0)
        return rc;
    pyab_keys_absolutise(app, "path", base);
    for (int k = 0; k < 4; k++) {
        if (json_object_get(app, keys[k]) == NULL)
            continue;
        kinds++;
        cfg->app_kind = k;
        if ((rc = pyab_keys_string(w, app, "app", keys[k], &cfg->app_target)) < 0)
            return rc;
    }
    if (kinds != 1)
        return pyab_keys_fail(w, "", "app",
                              "needs exactly one of \"path\", \"module\", \"wsgi\" or \"asgi\"");
    if (cfg->app_kind == PYAB_APP_WSGI || cfg->app_kind == PYAB_APP_ASGI) {
        const char *kind = keys[cfg->app_kind];
        if (json_object_get(app, "handler")) {
            char what[96];
            snprintf(what, sizeof(what), "does not go with \"%s\" (name the app as \"module:attr\")",
                     kind);
            return pyab_keys_fail(w, "app", "handler", what);
        }
        if (strchr(cfg->app_target, ':') == NULL)
            return pyab_keys_fail(w, "app", kind, "must be \"module:attribute\"");
        return 0;
    }
    cfg->handler = xstrdup("handle");
    return pyab_keys_string(w, app, "app", "handler", &cfg->handler);
}

static int parse_python(const pyab_where *w, pyab_config *cfg, json_t *root, const char *base)
{
    static const char *const keys[] = {"path", "venv", "child", "home", "runtime", "build"};
    json_t *py, *paths, *item;
    size_t i;
    int rc;

    if ((rc = pyab_keys_object(w, root, "", "python", &py)) < 0 || py == NULL)
        return rc;
    if ((rc = pyab_keys_check(w, py, "python", keys, PYAB_ARRAY_LEN(keys))) < 0)
        return rc;
    pyab_keys_absolutise(py, "venv", base);
    if ((rc = pyab_keys_string(w, py, "python", "venv", &cfg->venv)) < 0 ||
        (rc = pyab_interpreter_parse(w, cfg, py, base)) < 0)
        return rc;
    paths = json_object_get(py, "path");
    if (paths == NULL)
        return 0;
    if (!json_is_array(paths))
        return pyab_keys_fail(w, "python", "path", "must be a list of folders");
    cfg->sys_path = xcalloc(json_array_size(paths), sizeof(char *));
    json_array_foreach(paths, i, item) {
        char *abs;
        if (!json_is_string(item)) {
            char idx[32];
            snprintf(idx, sizeof(idx), "path[%zu]", i);
            return pyab_keys_fail(w, "python", idx, "must be a string");
        }
        abs = pyab_path_join(base, json_string_value(item));
        json_array_set_new(paths, i, json_string(abs));
        cfg->sys_path[cfg->nsys_path++] = abs;
    }
    return 0;
}

/* A non-empty list of distinct, non-empty strings (route names), or absent. */
static int opt_route_list(const pyab_where *w, json_t *obj, const char *path, const char *key,
                          json_t **out)
{
    json_t *v = json_object_get(obj, key), *item;
    size_t i;

    *out = NULL;
    if (v == NULL)
        return 0;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return pyab_keys_fail(w, path, key,
                              "must be a non-empty list of route names, e.g. [\"/predict\"]");
    json_array_foreach(v, i, item) {
        char idx[48];
        snprintf(idx, sizeof(idx), "%s[%zu]", key, i);
        if (!json_is_string(item) || json_string_length(item) == 0)
            return pyab_keys_fail(w, path, idx, "must be a non-empty string (a route name)");
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(v, j), item))
                return pyab_keys_fail(w, path, idx, "repeats an earlier entry");
    }
    *out = v;
    return 0;
}

static int parse_load(const pyab_where *w, pyab_config *cfg, json_t *root)
{
    static const char *const keys[] = {"model", "speed", "loops", "rate", "users", "think_ms",
                                       "requests", "routes", "exclude_routes", "share",
                                       "sample", "until", "max_requests", "max_seconds"};
    static const char *const models[] = {"open", "closed"};
    static const char *const untils[] = {"planned", "settled"};
    json_t *load;
    const char *share_key;
    int rc;

    if ((rc = pyab_keys_object(w, root, "", "load", &load)) < 0 || load == NULL)
        return rc;
    /* load.sample is load.share's old name (the top-level "sample" is the
     * sampling of memory): accepted, and renamed in the JSON so that
     * config.json and the effective settings use the new name. */
    share_key = json_object_get(load, "sample") ? "sample" : "share";
    if (json_object_get(load, "sample") && json_object_get(load, "share"))
        return pyab_keys_fail(w, "load", "sample",
                              "is the old name of \"share\": give only \"share\"");
    if ((rc = pyab_keys_check(w, load, "load", keys, PYAB_ARRAY_LEN(keys))) < 0 ||
        (rc = pyab_keys_choice(w, load, "load", "model", models, 2, &cfg->load_model)) < 0 ||
        (rc = pyab_keys_number(w, load, "load", "speed", 1e-6, 1e9, &cfg->speed)) < 0 ||
        (rc = pyab_keys_long(w, load, "load", "loops", 1, 1000000, &cfg->loops)) < 0 ||
        (rc = pyab_keys_number(w, load, "load", "rate", 0, 1e9, &cfg->rate)) < 0 ||
        (rc = pyab_keys_long(w, load, "load", "users", 1, 100000, &cfg->users)) < 0 ||
        (rc = pyab_keys_number(w, load, "load", "think_ms", 0, 3.6e6, &cfg->think_ms)) < 0 ||
        (rc = pyab_keys_long(w, load, "load", "requests", 1, LONG_MAX, &cfg->requests)) < 0 ||
        (rc = opt_route_list(w, load, "load", "routes", &cfg->routes)) < 0 ||
        (rc = opt_route_list(w, load, "load", "exclude_routes", &cfg->exclude_routes)) < 0 ||
        (rc = pyab_keys_number(w, load, "load", share_key, 0, 1, &cfg->sample_share)) < 0 ||
        (rc = pyab_keys_choice(w, load, "load", "until", untils, 2, &cfg->until_settled)) < 0 ||
        (rc = pyab_keys_long(w, load, "load", "max_requests", 1, LONG_MAX, &cfg->max_requests)) < 0 ||
        (rc = pyab_keys_number(w, load, "load", "max_seconds", 0.001, 1e7, &cfg->max_seconds)) < 0)
        return rc;
    if (!cfg->until_settled && (json_object_get(load, "max_requests") || json_object_get(load, "max_seconds")))
        return pyab_keys_fail(w, "load", json_object_get(load, "max_requests") ? "max_requests" : "max_seconds",
                              "only goes with \"until\": \"settled\"");
    if (cfg->sample_share <= 0)
        return pyab_keys_fail(w, "load", share_key,
                              "must be above 0 (the share of requests kept, up to 1)");
    if (strcmp(share_key, "sample") == 0) {
        json_object_set(load, "share", json_object_get(load, "sample"));
        json_object_del(load, "sample");
    }
    if (cfg->load_model == PYAB_LOAD_OPEN) {
        static const char *const closed_only[] = {"users", "think_ms", "requests"};
        for (size_t i = 0; i < PYAB_ARRAY_LEN(closed_only); i++)
            if (json_object_get(load, closed_only[i]))
                return pyab_keys_fail(w, "load", closed_only[i],
                                      "only goes with \"model\": \"closed\"");
    } else {
        static const char *const open_only[] = {"speed", "loops", "rate"};
        for (size_t i = 0; i < PYAB_ARRAY_LEN(open_only); i++)
            if (json_object_get(load, open_only[i]))
                return pyab_keys_fail(w, "load", open_only[i],
                                      "only goes with \"model\": \"open\"");
    }
    return 0;
}

static int parse_either(const pyab_where *w, json_t *root, const char *key, const char *ikey,
                        long *iout, const char *dkey, double *dout, json_t **rest)
{
    json_t *obj;
    int rc;

    if ((rc = pyab_keys_object(w, root, "", key, &obj)) < 0 || obj == NULL)
        return rc;
    *rest = obj;
    if (json_object_get(obj, ikey) && json_object_get(obj, dkey))
        return pyab_keys_fail(w, "", key, "give either \"requests\" or \"seconds\", not both");
    if ((rc = pyab_keys_long(w, obj, key, ikey, 0, LONG_MAX, iout)) < 0)
        return rc;
    return pyab_keys_number(w, obj, key, dkey, 0, 1e7, dout);
}

static int parse_gc(const pyab_where *w, pyab_config *cfg, json_t *root)
{
    static const char *const keys[] = {"enabled", "threshold", "freeze_after_warmup",
                                       "collect_every"};
    static const char *const every_keys[] = {"requests", "seconds", "generation"};
    json_t *gc, *th, *every;
    double gen = 2;
    int rc;

    if ((rc = pyab_keys_object(w, root, "", "gc", &gc)) < 0 || gc == NULL)
        return rc;
    if ((rc = pyab_keys_check(w, gc, "gc", keys, PYAB_ARRAY_LEN(keys))) < 0 ||
        (rc = pyab_keys_bool(w, gc, "gc", "enabled", &cfg->gc_enabled)) < 0 ||
        (rc = pyab_keys_bool(w, gc, "gc", "freeze_after_warmup", &cfg->gc_freeze_after_warmup)) < 0)
        return rc;
    th = json_object_get(gc, "threshold");
    if (th) {
        if (!json_is_array(th) || json_array_size(th) != 3)
            return pyab_keys_fail(w, "gc", "threshold",
                                  "must be a list of three integers [t0, t1, t2]");
        for (size_t i = 0; i < 3; i++) {
            json_t *v = json_array_get(th, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > INT_MAX)
                return pyab_keys_fail(w, "gc", "threshold",
                                      "must be a list of three integers >= 0");
            cfg->gc_threshold[i] = (long)json_integer_value(v);
        }
        cfg->gc_has_threshold = 1;
    }
    if ((rc = pyab_keys_object(w, gc, "gc", "collect_every", &every)) < 0 || every == NULL)
        return rc;
    if ((rc = pyab_keys_check(w, every, "gc.collect_every", every_keys, 3)) < 0 ||
        (rc = pyab_keys_long(w, every, "gc.collect_every", "requests", 1, LONG_MAX,
                             &cfg->gc_collect_every_requests)) < 0 ||
        (rc = pyab_keys_number(w, every, "gc.collect_every", "seconds", 0.001, 1e6,
                               &cfg->gc_collect_every_seconds)) < 0 ||
        (rc = pyab_keys_number(w, every, "gc.collect_every", "generation", 0, 2, &gen)) < 0)
        return rc;
    if (!cfg->gc_collect_every_requests && cfg->gc_collect_every_seconds == 0)
        return pyab_keys_fail(w, "gc", "collect_every", "needs \"requests\" or \"seconds\"");
    if (cfg->gc_collect_every_requests && cfg->gc_collect_every_seconds > 0)
        return pyab_keys_fail(w, "gc", "collect_every",
                              "give either \"requests\" or \"seconds\", not both");
    cfg->gc_collect_generation = (int)gen;
    return 0;
}

/*
 * Finds an allocator library by name (jemalloc, tcmalloc, mimalloc): a new
 * path, or NULL. *package (optional) names the Debian package that
 * provides it, or NULL when the name is not one of those.
 */
static char *find_preload(const char *name, const char **package)
{
    static const struct {
        const char *name, *file, *package;
    } libs[] = {
        {"jemalloc", "libjemalloc.so.2", "libjemalloc2"},
        {"tcmalloc", "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"},
        {"mimalloc", "libmimalloc.so.2", "libmimalloc2.0"},
    };
    static const char *const dirs[] = {
        "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
        "/lib/x86_64-linux-gnu",
    };

    for (size_t i = 0; i < PYAB_ARRAY_LEN(libs); i++) {
        if (strcmp(name, libs[i].name) != 0)
            continue;
        if (package)
            *package = libs[i].package;
        for (size_t d = 0; d < PYAB_ARRAY_LEN(dirs); d++) {
            char *p = pyab_path_join(dirs[d], libs[i].file);
            if (access(p, R_OK) == 0)
                return p;
            free(p);
        }
        return NULL;
    }
    if (package)
        *package = NULL;
    return NULL;
}

static int parse_allocator(const pyab_where *w, pyab_config *cfg, json_t *root, const char *base)
{
    static const char *const keys[] = {"python", "malloc_arena_max", "mmap_threshold",
                                       "trim_threshold", "trim_every", "preload",
                                       "thread_caches"};
    static const char *const pys[] = {"pymalloc", "malloc", "pymalloc_debug"};
    static const char *const caches[] = {"off", "on"};
    json_t *al, *trim;
    int py = 0, rc;

    if ((rc = pyab_keys_object(w, root, "", "allocator", &al)) < 0 || al == NULL)
        return rc;
    if ((rc = pyab_keys_check(w, al, "allocator", keys, PYAB_ARRAY_LEN(keys))) < 0 ||
        (rc = pyab_keys_choice(w, al, "allocator", "python", pys, 3, &py)) < 0 ||
        (rc = pyab_keys_long(w, al, "allocator", "malloc_arena_max", 1, 4096,
                             &cfg->malloc_arena_max)) < 0 ||
        (rc = pyab_keys_long(w, al, "allocator", "mmap_threshold", 0, 1L << 30,
                             &cfg->mmap_threshold)) < 0 ||
        (rc = pyab_keys_long(w, al, "allocator", "trim_threshold", 0, LONG_MAX,
                             &cfg->trim_threshold)) < 0 ||
        (rc = pyab_keys_choice(w, al, "allocator", "thread_caches", caches, 2,
                               &cfg->allocator_caches)) < 0)
        return rc;
    free(cfg->py_allocator);
    cfg->py_allocator = xstrdup(pys[py]);
    if ((rc = pyab_keys_object(w, al, "allocator", "trim_every", &trim)) < 0)
        return rc;
    if (trim) {
        static const char *const tkeys[] = {"seconds"};
        if ((rc = pyab_keys_check(w, trim, "allocator.trim_every", tkeys, 1)) < 0 ||
            (rc = pyab_keys_number(w, trim, "allocator.trim_every", "seconds", 0.001, 1e6,
                                   &cfg->trim_every_seconds)) < 0)
            return rc;
        if (cfg->trim_every_seconds == 0)
            return pyab_keys_fail(w, "allocator", "trim_every", "needs \"seconds\"");
    }
    if ((rc = pyab_keys_string(w, al, "allocator", "preload", &cfg->preload_name)) < 0)
        return rc;
    if (cfg->preload_name) {
        const char *package = NULL;
        if (strchr(cfg->preload_name, '/')) {
            pyab_keys_absolutise(al, "preload", base);
            cfg->preload = xstrdup(json_string_value(json_object_get(al, "preload")));
            if (access(cfg->preload, R_OK) != 0)
                return pyab_keys_fail(w, "allocator", "preload", "no such library file");
        } else {
            cfg->preload = find_preload(cfg->preload_name, &package);
            if (cfg->preload == NULL && package == NULL)
                return pyab_keys_fail(w, "allocator", "preload",
                                      "must be \"jemalloc\", \"tcmalloc\", \"mimalloc\" or a path");
            if (cfg->preload == NULL) {
                char what[256];
                snprintf(what, sizeof(what), "%s is not installed (apt-get install %s)",
                         cfg->preload_name, package);
                return pyab_keys_fail(w, "allocator", "preload", what);
            }
        }
    }
    return 0;
}

static int parse_string_map(const pyab_where *w, json_t *root, const char *key, const char *base,
                            json_t **out)
{
    const char *k;
    json_t *obj, *v;
    int rc;

    if ((rc = pyab_keys_object(w, root, "", key, &obj)) < 0 || obj == NULL)
        return rc;
    json_object_foreach(obj, k, v) {
        if (!json_is_string(v))
            return pyab_keys_fail(w, key, k, "must be a string");
        if (base)
            pyab_keys_absolutise(obj, k, base);
    }
    *out = obj;
    return 0;
}

static int parse_limits(const pyab_where *w, pyab_config *cfg, json_t *root)
{
    static const char *const keys[] = {"run_seconds", "rss_mb", "stall_seconds",
                                       "max_error_share"};
    json_t *lim;
    int rc;

    if ((rc = pyab_keys_object(w, root, "", "limits", &lim)) < 0 || lim == NULL)
        return rc;
    if ((rc = pyab_keys_check(w, lim, "limits", keys, PYAB_ARRAY_LEN(keys))) < 0 ||
        (rc = pyab_keys_number(w, lim, "limits", "max_error_share", 0, 1,
                               &cfg->limit_error_share)) < 0 ||
        (rc = pyab_keys_number(w, lim, "limits", "stall_seconds", 1, 1e7,
                               &cfg->limit_stall_seconds)) < 0 ||
        (rc = pyab_keys_number(w, lim, "limits", "run_seconds", 0.1, 1e7,
                               &cfg->limit_run_seconds)) < 0)
        return rc;
    return pyab_keys_number(w, lim, "limits", "rss_mb", 1, 1e9, &cfg->limit_rss_mb);
}

/* where: allocation sites of the memory that survives (child/where.h). */
static int parse_where(const pyab_where *w, pyab_config *cfg, json_t *root)
{
    static const char *const keys[] = {"mode", "sample_bytes", "holders_seconds", "native",
                                       "native_sample_bytes"};
    static const char *const modes[] = {"sampled", "exact", "off"};
    json_t *wh;
    int rc;

    if ((rc = pyab_keys_object(w, root, "", "where", &wh)) < 0 || wh == NULL)
        return rc;
    if ((rc = pyab_keys_check(w, wh, "where", keys, PYAB_ARRAY_LEN(keys))) < 0 ||
        (rc = pyab_keys_choice(w, wh, "where", "mode", modes, 3, &cfg->where_mode)) < 0 ||
        (rc = pyab_keys_number(w, wh, "where", "holders_seconds", 0, 3600,
                               &cfg->where_holders_seconds)) < 0 ||
        (rc = pyab_keys_bool(w, wh, "where", "native", &cfg->where_native)) < 0 ||
        (rc = pyab_keys_long(w, wh, "where", "native_sample_bytes", 64, 1L << 30,
                             &cfg->where_native_sample_bytes)) < 0)
        return rc;
    return pyab_keys_number(w, wh, "where", "sample_bytes", 256, 1 << 30, &cfg->where_sample_bytes);
}

/* sample.every_requests: a count, or "auto" (0). */
static int parse_every_requests(const pyab_where *w, json_t *sample, long *out)
{
    json_t *v = json_object_get(sample, "every_requests");

    if (v == NULL || (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0))
        return 0;
    if (!json_is_integer(v))
        return pyab_keys_fail(w, "sample", "every_requests",
                              "must be \"auto\" or a whole number of requests (e.g. 100)");
    return pyab_keys_long(w, sample, "sample", "every_requests", 1, LONG_MAX, out);
}

/*
 * asgi: how event-loop apps (app.asgi, or an `async def` handler) run: the
 * loop implementation, the lifespan protocol, the body's chunk size and the
 * scope's root_path. Accepted for any app; only event-loop apps use it.
 */
static int parse_asgi(const pyab_where *w, pyab_config *cfg, json_t *root)
{
    static const char *const keys[] = {"loop", "lifespan", "chunk_bytes", "root_path"};
    static const char *const loops[] = {"asyncio", "uvloop"};
    static const char *const lifespans[] = {"auto", "on", "off"};
    json_t *asgi, *rp;
    int rc;

    if ((rc = pyab_keys_object(w, root, "", "asgi", &asgi)) < 0 || asgi == NULL)
        return rc;
    if ((rc = pyab_keys_check(w, asgi, "asgi", keys, PYAB_ARRAY_LEN(keys))) < 0 ||
        (rc = pyab_keys_choice(w, asgi, "asgi", "loop", loops, 2, &cfg->asgi_loop)) < 0 ||
        (rc = pyab_keys_choice(w, asgi, "asgi", "lifespan", lifespans, 3,
                               &cfg->asgi_lifespan)) < 0 ||
        (rc = pyab_keys_long(w, asgi, "asgi", "chunk_bytes", 1, 1L << 30,
                             &cfg->asgi_chunk_bytes)) < 0)
        return rc;
    rp = json_object_get(asgi, "root_path");
    if (rp == NULL)
        return 0;
    if (!json_is_string(rp) || (json_string_length(rp) > 0 && json_string_value(rp)[0] != '/') ||
        (json_string_length(rp) > 1 && json_string_value(rp)[json_string_length(rp) - 1] == '/'))
        return pyab_keys_fail(w, "asgi", "root_path",
                              "must be \"\" or a path like \"/api\" (a leading \"/\", no trailing one)");
    free(cfg->asgi_root_path);
    cfg->asgi_root_path = xstrdup(json_string_value(rp));
    return 0;
}

static void config_defaults(pyab_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->load_model = PYAB_LOAD_OPEN;
    cfg->speed = 1.0;
    cfg->loops = 1;
    cfg->sample_share = 1.0;
    cfg->users = 8;
    cfg->workers = 4;
    cfg->max_in_flight = 1024;
    cfg->sample_interval_ms = 100;
    cfg->seed = 1;
    cfg->timeout_ms = 10000;
    cfg->gc_enabled = 1;
    cfg->gc_collect_generation = 2;
    cfg->py_allocator = xstrdup("pymalloc");
    cfg->mmap_threshold = -1;
    cfg->trim_threshold = -1;
    cfg->limit_error_share = PYAB_MAX_ERROR_SHARE;
    cfg->where_mode = PYAB_WHERE_SAMPLED;
    cfg->where_sample_bytes = PYAB_WHERE_SAMPLE_BYTES;
    cfg->where_holders_seconds = PYAB_WHERE_HOLDERS_SECONDS;
    cfg->asgi_chunk_bytes = 65536;
    cfg->asgi_root_path = xstrdup("");
    cfg->where_native_sample_bytes = PYAB_NATIVE_SAMPLE_BYTES;
}

int pyab_config_parse(pyab_config *cfg, const char *file, const char *arm, json_t *json,
                      const char *base, pyab_error *err)
{
    char *prefix = strcmp(arm, "base") == 0 ? xstrdup("") : xasprintf("arms.%s.", arm);
    pyab_where w = {file, prefix, err};
    json_t *warm = NULL, *sample = NULL;
    long seed = 1;
    int rc;

    config_defaults(cfg);
    cfg->arm = xstrdup(arm);
    cfg->json = json_incref(json);
    if (json_object_get(json, "description") && !json_is_string(json_object_get(json, "description"))) {
        rc = pyab_keys_fail(&w, "", "description", "must be a string");
        goto out;
    }
    if ((rc = parse_app(&w, cfg, json, base)) < 0 || (rc = parse_python(&w, cfg, json, base)) < 0)
        goto out;
    pyab_keys_absolutise(json, "trace", base);
    if ((rc = pyab_keys_string(&w, json, "", "trace", &cfg->trace_path)) < 0)
        goto out;
    if (cfg->trace_path == NULL) {
        rc = pyab_keys_fail(&w, "", "trace", "missing (a JSONL file, one request per line)");
        goto out;
    }
    if ((rc = parse_load(&w, cfg, json)) < 0 ||
        (rc = pyab_keys_long(&w, json, "", "workers", 1, 256, &cfg->workers)) < 0 ||
        (rc = pyab_keys_long(&w, json, "", "max_in_flight", 1, 10000000,
                             &cfg->max_in_flight)) < 0 ||
        (rc = parse_either(&w, json, "warmup", "requests", &cfg->warmup_requests, "seconds",
                           &cfg->warmup_seconds, &warm)) < 0 ||
        (rc = pyab_keys_object(&w, json, "", "sample", &sample)) < 0)
        goto out;
    if (warm) {
        static const char *const keys[] = {"requests", "seconds"};
        if ((rc = pyab_keys_check(&w, warm, "warmup", keys, 2)) < 0)
            goto out;
    }
    if (sample) {
        static const char *const keys[] = {"interval_ms", "pyheap", "every_requests"};
        static const char *const modes[] = {"blocks", "requested", "off"};
        if ((rc = pyab_keys_check(&w, sample, "sample", keys, 3)) < 0 ||
            (rc = parse_every_requests(&w, sample, &cfg->sample_every_requests)) < 0 ||
            (rc = pyab_keys_number(&w, sample, "sample", "interval_ms", 1, 3.6e6,
                                   &cfg->sample_interval_ms)) < 0 ||
            (rc = pyab_keys_choice(&w, sample, "sample", "pyheap", modes, 3,
                                   &cfg->pyheap_mode)) < 0)
            goto out;
    }
    if ((rc = pyab_keys_long(&w, json, "", "seed", 0, LONG_MAX, &seed)) < 0 ||
        (rc = pyab_keys_number(&w, json, "", "timeout_ms", 1, 3.6e6, &cfg->timeout_ms)) < 0 ||
        (rc = parse_gc(&w, cfg, json)) < 0 || (rc = parse_allocator(&w, cfg, json, base)) < 0 ||
        (rc = parse_string_map(&w, json, "env", NULL, &cfg->env)) < 0 ||
        (rc = parse_string_map(&w, json, "mocks", base, &cfg->mocks)) < 0 ||
        (rc = parse_limits(&w, cfg, json)) < 0 || (rc = parse_where(&w, cfg, json)) < 0 ||
        (rc = parse_asgi(&w, cfg, json)) < 0)
        goto out;
    cfg->seed = (uint64_t)seed;
    /* A child that says nothing for this long is stuck (native code holding
     * the GIL blocks even the sampler): long enough for any one request. */
    if (cfg->limit_stall_seconds == 0)
        cfg->limit_stall_seconds = fmax(60, 10 * cfg->timeout_ms / 1000);
out:
    free(prefix);
    return rc;
}

static int check_path(const pyab_where *w, const char *path, const char *key, const char *file,
                      int want_dir)
{
    struct stat st;
    char what[1024];

    if (stat(file, &st) != 0) {
        snprintf(what, sizeof(what), "%s: %s", file, strerror(errno));
        return pyab_keys_fail(w, path, key, what);
    }
    if (want_dir != S_ISDIR(st.st_mode)) {
        snprintf(what, sizeof(what), "%s: %s", file, want_dir ? "not a folder" : "is a folder");
        return pyab_keys_fail(w, path, key, what);
    }
    return 0;
}

int pyab_config_check_files(const pyab_config *cfg, const char *file, pyab_error *err)
{
    char *prefix = strcmp(cfg->arm, "base") == 0 ? xstrdup("") : xasprintf("arms.%s.", cfg->arm);
    pyab_where w = {file, prefix, err};
    const char *key;
    json_t *v;
    int rc = 0;

    if (cfg->app_kind == PYAB_APP_PATH)
        rc = check_path(&w, "app", "path", cfg->app_target, 0);
    for (size_t i = 0; rc == 0 && i < cfg->nsys_path; i++) {
        char idx[32];
        snprintf(idx, sizeof(idx), "path[%zu]", i);
        rc = check_path(&w, "python", idx, cfg->sys_path[i], 1);
    }
    if (rc == 0 && cfg->venv)
        rc = check_path(&w, "python", "venv", cfg->venv, 1);
    if (rc == 0)
        rc = pyab_interpreter_check_files(&w, cfg);
    if (cfg->mocks)
        json_object_foreach(cfg->mocks, key, v) {
            struct stat st;
            if (rc == 0 && stat(json_string_value(v), &st) != 0)
                rc = check_path(&w, "mocks", key, json_string_value(v), 0);
        }
    free(prefix);
    return rc;
}

void pyab_config_finish(pyab_config *cfg)
{
    for (size_t i = 0; i < cfg->nsys_path; i++)
        free(cfg->sys_path[i]);
    free(cfg->sys_path);
    free(cfg->arm);
    free(cfg->app_target);
    free(cfg->handler);
    free(cfg->venv);
    free(cfg->py_child);
    free(cfg->py_home);
    free(cfg->py_runtime);
    free(cfg->py_executable);
    free(cfg->trace_path);
    free(cfg->py_allocator);
    free(cfg->preload);
    free(cfg->preload_name);
    free(cfg->asgi_root_path);
    json_decref(cfg->json);
    memset(cfg, 0, sizeof(*cfg));
}
