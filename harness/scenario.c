#include "scenario.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ablate.h"
#include "budget.h"

/* Where a value sits, for messages: "<file>: key \"<prefix><path>.<key>\"". */
typedef struct where {
    const char *file;
    const char *prefix; /* "" or "arms.NAME." */
    pyab_error *err;
} where;

static const char *const arm_keys[] = {
    "description", "app", "python", "trace", "load", "workers", "max_in_flight", "warmup",
    "sample", "seed", "timeout_ms", "gc", "allocator", "env", "mocks", "limits", "budgets",
};
static const char *const top_only_keys[] = {
    "name", "arms", "reps", "order", "analysis", "ablate",
};

static char *keypath(const char *path, const char *key)
{
    if (path == NULL || path[0] == '\0')
        return xstrdup(key);
    return xasprintf("%s.%s", path, key);
}

static int fail(const where *w, const char *path, const char *key, const char *what)
{
    char *kp = keypath(path, key);
    int rc = pyab_error_set(w->err, "%s: key \"%s%s\": %s", w->file, w->prefix, kp, what);
    free(kp);
    return rc;
}

static int in_list(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, list[i]) == 0)
            return 1;
    return 0;
}

static int check_keys(const where *w, json_t *obj, const char *path,
                      const char *const *allowed, size_t n)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        if (!in_list(key, allowed, n))
            return fail(w, path, key, "unknown key");
    }
    return 0;
}

static int get_object(const where *w, json_t *parent, const char *path, const char *key,
                      json_t **out)
{
    json_t *v = json_object_get(parent, key);

    *out = v;
    if (v != NULL && !json_is_object(v))
        return fail(w, path, key, "must be an object");
    return 0;
}

static int opt_number(const where *w, json_t *obj, const char *path, const char *key,
                      double min, double max, double *out)
{
    json_t *v = json_object_get(obj, key);
    char what[128];

    if (v == NULL)
        return 0;
    if (!json_is_number(v))
        return fail(w, path, key, "must be a number");
    if (!(json_number_value(v) >= min && json_number_value(v) <= max)) {
        snprintf(what, sizeof(what), "must be between %g and %g, not %g", min, max,
                 json_number_value(v));
        return fail(w, path, key, what);
    }
    *out = json_number_value(v);
    return 0;
}

static int opt_long(const where *w, json_t *obj, const char *path, const char *key,
                    long min, long max, long *out)
{
    json_t *v = json_object_get(obj, key);
    char what[128];

    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return fail(w, path, key, "must be an integer");
    if (json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(what, sizeof(what), "must be between %ld and %ld, not %lld", min, max,
                 (long long)json_integer_value(v));
        return fail(w, path, key, what);
    }
    *out = (long)json_integer_value(v);
    return 0;
}

static int opt_bool(const where *w, json_t *obj, const char *path, const char *key, int *out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return fail(w, path, key, "must be true or false");
    *out = json_is_true(v);
    return 0;
}

static int opt_string(const where *w, json_t *obj, const char *path, const char *key,
                      char **out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return fail(w, path, key, "must be a non-empty string");
    free(*out);
    *out = xstrdup(json_string_value(v));
    return 0;
}

static int opt_choice(const where *w, json_t *obj, const char *path, const char *key,
                      const char *const *choices, size_t n, int *out)
{
    json_t *v = json_object_get(obj, key);
    char what[256];
    size_t len = 0;

    if (v == NULL)
        return 0;
    for (size_t i = 0; json_is_string(v) && i < n; i++) {
        if (strcmp(json_string_value(v), choices[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    len += (size_t)snprintf(what, sizeof(what), "must be one of");
    for (size_t i = 0; i < n && len < sizeof(what); i++)
        len += (size_t)snprintf(what + len, sizeof(what) - len, "%s \"%s\"", i ? "," : "",
                                choices[i]);
    return fail(w, path, key, what);
}

/* Makes a path relative to the scenario's folder absolute, in place in the JSON. */
static void absolutise(json_t *obj, const char *key, const char *base_dir)
{
    json_t *v = json_object_get(obj, key);
    char *abs;

    if (!json_is_string(v) || json_string_value(v)[0] == '/')
        return;
    abs = pyab_path_join(base_dir, json_string_value(v));
    json_object_set_new(obj, key, json_string(abs));
    free(abs);
}

static int parse_app(const where *w, pyab_config *cfg, json_t *root, const char *base)
{
    static const char *const keys[] = {"path", "module", "wsgi", "handler"};
    json_t *app;
    int kinds = 0, rc;

    if ((rc = get_object(w, root, "", "app", &app)) < 0)
        return rc;
    if (app == NULL)
        return fail(w, "", "app", "missing (e.g. {\"path\": \"service.py\", \"handler\": \"handle\"})");
    if ((rc = check_keys(w, app, "app", keys, PYAB_ARRAY_LEN(keys))) < 0)
        return rc;
    absolutise(app, "path", base);
    for (int k = 0; k < 3; k++) {
        if (json_object_get(app, keys[k]) == NULL)
            continue;
        kinds++;
        cfg->app_kind = k;
        if ((rc = opt_string(w, app, "app", keys[k], &cfg->app_target)) < 0)
            return rc;
    }
    if (kinds != 1)
        return fail(w, "", "app", "needs exactly one of \"path\", \"module\" or \"wsgi\"");
    if (cfg->app_kind == PYAB_APP_WSGI) {
        if (json_object_get(app, "handler"))
            return fail(w, "app", "handler", "does not go with \"wsgi\" (name the app as \"module:attr\")");
        if (strchr(cfg->app_target, ':') == NULL)
            return fail(w, "app", "wsgi", "must be \"module:attribute\"");
        return 0;
    }
    cfg->handler = xstrdup("handle");
    return opt_string(w, app, "app", "handler", &cfg->handler);
}

static int parse_python(const where *w, pyab_config *cfg, json_t *root, const char *base)
{
    static const char *const keys[] = {"path", "venv"};
    json_t *py, *paths, *item;
    size_t i;
    int rc;

    if ((rc = get_object(w, root, "", "python", &py)) < 0 || py == NULL)
        return rc;
    if ((rc = check_keys(w, py, "python", keys, PYAB_ARRAY_LEN(keys))) < 0)
        return rc;
    absolutise(py, "venv", base);
    if ((rc = opt_string(w, py, "python", "venv", &cfg->venv)) < 0)
        return rc;
    paths = json_object_get(py, "path");
    if (paths == NULL)
        return 0;
    if (!json_is_array(paths))
        return fail(w, "python", "path", "must be a list of folders");
    cfg->sys_path = xcalloc(json_array_size(paths), sizeof(char *));
    json_array_foreach(paths, i, item) {
        char *abs;
        if (!json_is_string(item)) {
            char idx[32];
            snprintf(idx, sizeof(idx), "path[%zu]", i);
            return fail(w, "python", idx, "must be a string");
        }
        abs = pyab_path_join(base, json_string_value(item));
        json_array_set_new(paths, i, json_string(abs));
        cfg->sys_path[cfg->nsys_path++] = abs;
    }
    return 0;
}

/* A non-empty list of distinct, non-empty strings (route names), or absent. */
static int opt_route_list(const where *w, json_t *obj, const char *path, const char *key,
                          json_t **out)
{
    json_t *v = json_object_get(obj, key), *item;
    size_t i;

    *out = NULL;
    if (v == NULL)
        return 0;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return fail(w, path, key, "must be a non-empty list of route names, e.g. [\"/predict\"]");
    json_array_foreach(v, i, item) {
        char idx[48];
        snprintf(idx, sizeof(idx), "%s[%zu]", key, i);
        if (!json_is_string(item) || json_string_length(item) == 0)
            return fail(w, path, idx, "must be a non-empty string (a route name)");
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(v, j), item))
                return fail(w, path, idx, "repeats an earlier entry");
    }
    *out = v;
    return 0;
}

static int parse_load(const where *w, pyab_config *cfg, json_t *root)
{
    static const char *const keys[] = {"model", "speed", "loops", "rate", "users", "think_ms",
                                       "requests", "routes", "exclude_routes", "sample"};
    static const char *const models[] = {"open", "closed"};
    json_t *load;
    int rc;

    if ((rc = get_object(w, root, "", "load", &load)) < 0 || load == NULL)
        return rc;
    if ((rc = check_keys(w, load, "load", keys, PYAB_ARRAY_LEN(keys))) < 0 ||
        (rc = opt_choice(w, load, "load", "model", models, 2, &cfg->load_model)) < 0 ||
        (rc = opt_number(w, load, "load", "speed", 1e-6, 1e9, &cfg->speed)) < 0 ||
        (rc = opt_long(w, load, "load", "loops", 1, 1000000, &cfg->loops)) < 0 ||
        (rc = opt_number(w, load, "load", "rate", 0, 1e9, &cfg->rate)) < 0 ||
        (rc = opt_long(w, load, "load", "users", 1, 100000, &cfg->users)) < 0 ||
        (rc = opt_number(w, load, "load", "think_ms", 0, 3.6e6, &cfg->think_ms)) < 0 ||
        (rc = opt_long(w, load, "load", "requests", 1, LONG_MAX, &cfg->requests)) < 0 ||
        (rc = opt_route_list(w, load, "load", "routes", &cfg->routes)) < 0 ||
        (rc = opt_route_list(w, load, "load", "exclude_routes", &cfg->exclude_routes)) < 0 ||
        (rc = opt_number(w, load, "load", "sample", 0, 1, &cfg->sample_share)) < 0)
        return rc;
    if (cfg->sample_share <= 0)
        return fail(w, "load", "sample", "must be above 0 (the share of requests kept, up to 1)");
    if (cfg->load_model == PYAB_LOAD_OPEN) {
        static const char *const closed_only[] = {"users", "think_ms", "requests"};
        for (size_t i = 0; i < PYAB_ARRAY_LEN(closed_only); i++)
            if (json_object_get(load, closed_only[i]))
                return fail(w, "load", closed_only[i], "only goes with \"model\": \"closed\"");
    } else {
        static const char *const open_only[] = {"speed", "loops", "rate"};
        for (size_t i = 0; i < PYAB_ARRAY_LEN(open_only); i++)
            if (json_object_get(load, open_only[i]))
                return fail(w, "load", open_only[i], "only goes with \"model\": \"open\"");
    }
    return 0;
}

static int parse_either(const where *w, json_t *root, const char *key, const char *ikey,
                        long *iout, const char *dkey, double *dout, json_t **rest)
{
    json_t *obj;
    int rc;

    if ((rc = get_object(w, root, "", key, &obj)) < 0 || obj == NULL)
        return rc;
    *rest = obj;
    if (json_object_get(obj, ikey) && json_object_get(obj, dkey))
        return fail(w, "", key, "give either \"requests\" or \"seconds\", not both");
    if ((rc = opt_long(w, obj, key, ikey, 0, LONG_MAX, iout)) < 0)
        return rc;
    return opt_number(w, obj, key, dkey, 0, 1e7, dout);
}

static int parse_gc(const where *w, pyab_config *cfg, json_t *root)
{
    static const char *const keys[] = {"enabled", "threshold", "freeze_after_warmup",
                                       "collect_every"};
    static const char *const every_keys[] = {"requests", "seconds", "generation"};
    json_t *gc, *th, *every;
    double gen = 2;
    int rc;

    if ((rc = get_object(w, root, "", "gc", &gc)) < 0 || gc == NULL)
        return rc;
    if ((rc = check_keys(w, gc, "gc", keys, PYAB_ARRAY_LEN(keys))) < 0 ||
        (rc = opt_bool(w, gc, "gc", "enabled", &cfg->gc_enabled)) < 0 ||
        (rc = opt_bool(w, gc, "gc", "freeze_after_warmup", &cfg->gc_freeze_after_warmup)) < 0)
        return rc;
    th = json_object_get(gc, "threshold");
    if (th) {
        if (!json_is_array(th) || json_array_size(th) != 3)
            return fail(w, "gc", "threshold", "must be a list of three integers [t0, t1, t2]");
        for (size_t i = 0; i < 3; i++) {
            json_t *v = json_array_get(th, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > INT_MAX)
                return fail(w, "gc", "threshold", "must be a list of three integers >= 0");
            cfg->gc_threshold[i] = (long)json_integer_value(v);
        }
        cfg->gc_has_threshold = 1;
    }
    if ((rc = get_object(w, gc, "gc", "collect_every", &every)) < 0 || every == NULL)
        return rc;
    if ((rc = check_keys(w, every, "gc.collect_every", every_keys, 3)) < 0 ||
        (rc = opt_long(w, every, "gc.collect_every", "requests", 1, LONG_MAX,
                       &cfg->gc_collect_every_requests)) < 0 ||
        (rc = opt_number(w, every, "gc.collect_every", "seconds", 0.001, 1e6,
                         &cfg->gc_collect_every_seconds)) < 0 ||
        (rc = opt_number(w, every, "gc.collect_every", "generation", 0, 2, &gen)) < 0)
        return rc;
    if (!cfg->gc_collect_every_requests && cfg->gc_collect_every_seconds == 0)
        return fail(w, "gc", "collect_every", "needs \"requests\" or \"seconds\"");
    if (cfg->gc_collect_every_requests && cfg->gc_collect_every_seconds > 0)
        return fail(w, "gc", "collect_every", "give either \"requests\" or \"seconds\", not both");
    cfg->gc_collect_generation = (int)gen;
    return 0;
}

char *pyab_scenario_find_preload(const char *name, const char **package)
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

static int parse_allocator(const where *w, pyab_config *cfg, json_t *root, const char *base)
{
    static const char *const keys[] = {"python", "malloc_arena_max", "mmap_threshold",
                                       "trim_threshold", "trim_every", "preload"};
    static const char *const pys[] = {"pymalloc", "malloc", "pymalloc_debug"};
    json_t *al, *trim;
    int py = 0, rc;

    if ((rc = get_object(w, root, "", "allocator", &al)) < 0 || al == NULL)
        return rc;
    if ((rc = check_keys(w, al, "allocator", keys, PYAB_ARRAY_LEN(keys))) < 0 ||
        (rc = opt_choice(w, al, "allocator", "python", pys, 3, &py)) < 0 ||
        (rc = opt_long(w, al, "allocator", "malloc_arena_max", 1, 4096,
                       &cfg->malloc_arena_max)) < 0 ||
        (rc = opt_long(w, al, "allocator", "mmap_threshold", 0, 1L << 30,
                       &cfg->mmap_threshold)) < 0 ||
        (rc = opt_long(w, al, "allocator", "trim_threshold", 0, LONG_MAX,
                       &cfg->trim_threshold)) < 0)
        return rc;
    free(cfg->py_allocator);
    cfg->py_allocator = xstrdup(pys[py]);
    if ((rc = get_object(w, al, "allocator", "trim_every", &trim)) < 0)
        return rc;
    if (trim) {
        static const char *const tkeys[] = {"seconds"};
        if ((rc = check_keys(w, trim, "allocator.trim_every", tkeys, 1)) < 0 ||
            (rc = opt_number(w, trim, "allocator.trim_every", "seconds", 0.001, 1e6,
                             &cfg->trim_every_seconds)) < 0)
            return rc;
        if (cfg->trim_every_seconds == 0)
            return fail(w, "allocator", "trim_every", "needs \"seconds\"");
    }
    if ((rc = opt_string(w, al, "allocator", "preload", &cfg->preload_name)) < 0)
        return rc;
    if (cfg->preload_name) {
        const char *package = NULL;
        if (strchr(cfg->preload_name, '/')) {
            absolutise(al, "preload", base);
            cfg->preload = xstrdup(json_string_value(json_object_get(al, "preload")));
            if (access(cfg->preload, R_OK) != 0)
                return fail(w, "allocator", "preload", "no such library file");
        } else {
            cfg->preload = pyab_scenario_find_preload(cfg->preload_name, &package);
            if (cfg->preload == NULL && package == NULL)
                return fail(w, "allocator", "preload",
                            "must be \"jemalloc\", \"tcmalloc\", \"mimalloc\" or a path");
            if (cfg->preload == NULL) {
                char what[256];
                snprintf(what, sizeof(what), "%s is not installed (apt-get install %s)",
                         cfg->preload_name, package);
                return fail(w, "allocator", "preload", what);
            }
        }
    }
    return 0;
}

static int parse_string_map(const where *w, json_t *root, const char *key, const char *base,
                            json_t **out)
{
    const char *k;
    json_t *obj, *v;
    int rc;

    if ((rc = get_object(w, root, "", key, &obj)) < 0 || obj == NULL)
        return rc;
    json_object_foreach(obj, k, v) {
        if (!json_is_string(v))
            return fail(w, key, k, "must be a string");
        if (base)
            absolutise(obj, k, base);
    }
    *out = obj;
    return 0;
}

static int parse_limits(const where *w, pyab_config *cfg, json_t *root)
{
    static const char *const keys[] = {"run_seconds", "rss_mb"};
    json_t *lim;
    int rc;

    if ((rc = get_object(w, root, "", "limits", &lim)) < 0 || lim == NULL)
        return rc;
    if ((rc = check_keys(w, lim, "limits", keys, 2)) < 0 ||
        (rc = opt_number(w, lim, "limits", "run_seconds", 0.1, 1e7, &cfg->limit_run_seconds)) < 0)
        return rc;
    return opt_number(w, lim, "limits", "rss_mb", 1, 1e9, &cfg->limit_rss_mb);
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
}

int pyab_config_parse(pyab_config *cfg, const char *file, const char *arm, json_t *json,
                      const char *base, pyab_error *err)
{
    char *prefix = strcmp(arm, "base") == 0 ? xstrdup("") : xasprintf("arms.%s.", arm);
    where w = {file, prefix, err};
    json_t *warm = NULL, *sample = NULL;
    long seed = 1;
    int rc;

    config_defaults(cfg);
    cfg->arm = xstrdup(arm);
    cfg->json = json_incref(json);
    if ((rc = parse_app(&w, cfg, json, base)) < 0 || (rc = parse_python(&w, cfg, json, base)) < 0)
        goto out;
    absolutise(json, "trace", base);
    if ((rc = opt_string(&w, json, "", "trace", &cfg->trace_path)) < 0)
        goto out;
    if (cfg->trace_path == NULL) {
        rc = fail(&w, "", "trace", "missing (a JSONL file, one request per line)");
        goto out;
    }
    if ((rc = parse_load(&w, cfg, json)) < 0 ||
        (rc = opt_long(&w, json, "", "workers", 1, 256, &cfg->workers)) < 0 ||
        (rc = opt_long(&w, json, "", "max_in_flight", 1, 10000000, &cfg->max_in_flight)) < 0 ||
        (rc = parse_either(&w, json, "warmup", "requests", &cfg->warmup_requests, "seconds",
                           &cfg->warmup_seconds, &warm)) < 0 ||
        (rc = get_object(&w, json, "", "sample", &sample)) < 0)
        goto out;
    if (warm) {
        static const char *const keys[] = {"requests", "seconds"};
        if ((rc = check_keys(&w, warm, "warmup", keys, 2)) < 0)
            goto out;
    }
    if (sample) {
        static const char *const keys[] = {"interval_ms", "pyheap"};
        static const char *const modes[] = {"blocks", "requested", "off"};
        if ((rc = check_keys(&w, sample, "sample", keys, 2)) < 0 ||
            (rc = opt_number(&w, sample, "sample", "interval_ms", 1, 3.6e6,
                             &cfg->sample_interval_ms)) < 0 ||
            (rc = opt_choice(&w, sample, "sample", "pyheap", modes, 3, &cfg->pyheap_mode)) < 0)
            goto out;
    }
    if ((rc = opt_long(&w, json, "", "seed", 0, LONG_MAX, &seed)) < 0 ||
        (rc = opt_number(&w, json, "", "timeout_ms", 1, 3.6e6, &cfg->timeout_ms)) < 0 ||
        (rc = parse_gc(&w, cfg, json)) < 0 || (rc = parse_allocator(&w, cfg, json, base)) < 0 ||
        (rc = parse_string_map(&w, json, "env", NULL, &cfg->env)) < 0 ||
        (rc = parse_string_map(&w, json, "mocks", base, &cfg->mocks)) < 0 ||
        (rc = parse_limits(&w, cfg, json)) < 0)
        goto out;
    cfg->seed = (uint64_t)seed;
out:
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
    free(cfg->trace_path);
    free(cfg->py_allocator);
    free(cfg->preload);
    free(cfg->preload_name);
    json_decref(cfg->json);
    memset(cfg, 0, sizeof(*cfg));
}

/* Copies base and merges the arm's overrides in, objects recursively. New reference. */
static json_t *merge(json_t *base, json_t *over)
{
    json_t *out = json_deep_copy(base);
    const char *key;
    json_t *v;

    json_object_foreach(over, key, v) {
        json_t *old = json_object_get(out, key);
        if (json_is_object(old) && json_is_object(v))
            json_object_set_new(out, key, merge(old, v));
        else
            json_object_set_new(out, key, json_deep_copy(v));
    }
    return out;
}

static int load_arms(pyab_scenario *sc, json_t *base, pyab_error *err)
{
    where w = {sc->path, "", err};
    json_t *arms = json_object_get(sc->root, "arms"), *over;
    const char *name;
    int rc;

    if (arms == NULL) {
        sc->arms = xcalloc(1, sizeof(*sc->arms));
        sc->narms = 1;
        return pyab_config_parse(&sc->arms[0], sc->path, "base", base, sc->dir, err);
    }
    if (!json_is_object(arms) || json_object_size(arms) == 0)
        return fail(&w, "", "arms", "must be an object mapping arm names to overrides");
    sc->arms = xcalloc(json_object_size(arms), sizeof(*sc->arms));
    json_object_foreach(arms, name, over) {
        json_t *eff;
        where aw = {sc->path, "", err};
        if (strlen(name) == 0 || strlen(name) > 64 || strpbrk(name, "/\\ \t\n.") != NULL)
            return fail(&w, "arms", name, "arm names must be 1-64 characters without '/', '.' or spaces");
        if (!json_is_object(over))
            return fail(&w, "arms", name, "must be an object of overrides");
        char *prefix = xasprintf("arms.%s", name);
        rc = check_keys(&aw, over, prefix, arm_keys, PYAB_ARRAY_LEN(arm_keys));
        if (rc == 0) {
            char *bpath = xasprintf("%s.budgets", prefix);
            rc = pyab_budget_validate(json_object_get(over, "budgets"), sc->path, bpath, err);
            free(bpath);
        }
        free(prefix);
        if (rc < 0)
            return rc;
        eff = merge(base, over);
        rc = pyab_config_parse(&sc->arms[sc->narms++], sc->path, name, eff, sc->dir, err);
        json_decref(eff);
        if (rc < 0)
            return rc;
    }
    return 0;
}

pyab_scenario *pyab_scenario_from_json(const char *path, json_t *root, pyab_error *err)
{
    pyab_scenario *sc = xcalloc(1, sizeof(*sc));
    where w = {path, "", err};
    json_t *base = NULL;
    const char *key;
    json_t *v;
    int order = 0;

    sc->path = pyab_path_absolute(path);
    sc->dir = pyab_path_dirname(sc->path);
    sc->root = json_incref(root);
    sc->reps = 1;
    if (!json_is_object(root)) {
        pyab_error_set(err, "%s: a scenario must be a JSON object", path);
        goto fail;
    }
    json_object_foreach(root, key, v) {
        if (!in_list(key, arm_keys, PYAB_ARRAY_LEN(arm_keys)) &&
            !in_list(key, top_only_keys, PYAB_ARRAY_LEN(top_only_keys))) {
            fail(&w, "", key, "unknown key");
            goto fail;
        }
    }
    if (opt_string(&w, root, "", "name", &sc->name) < 0)
        goto fail;
    if (sc->name == NULL) {
        fail(&w, "", "name", "missing");
        goto fail;
    }
    if (strpbrk(sc->name, "/\\") != NULL) {
        fail(&w, "", "name", "must not contain '/'");
        goto fail;
    }
    static const char *const orders[] = {"interleaved", "shuffled"};
    if (opt_long(&w, root, "", "reps", 1, 1000, &sc->reps) < 0 ||
        opt_choice(&w, root, "", "order", orders, 2, &order) < 0 ||
        get_object(&w, root, "", "analysis", &sc->analysis) < 0 ||
        get_object(&w, root, "", "budgets", &sc->budgets) < 0 ||
        pyab_budget_validate(sc->budgets, path, "budgets", err) < 0 ||
        get_object(&w, root, "", "ablate", &sc->ablate) < 0 ||
        (sc->ablate && pyab_ablate_validate(sc->ablate, path, sc->dir, err) < 0))
        goto fail;
    sc->shuffle = order;
    base = json_deep_copy(root);
    for (size_t i = 0; i < PYAB_ARRAY_LEN(top_only_keys); i++)
        json_object_del(base, top_only_keys[i]);
    if (load_arms(sc, base, err) < 0)
        goto fail;
    json_decref(base);
    return sc;
fail:
    json_decref(base);
    pyab_scenario_destroy(sc);
    return NULL;
}

pyab_scenario *pyab_scenario_load(const char *path, pyab_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    pyab_scenario *sc;

    if (root == NULL) {
        if (jerr.line < 0)
            pyab_error_set(err, "%s: %s", path, jerr.text);
        else
            pyab_error_set(err, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    sc = pyab_scenario_from_json(path, root, err);
    json_decref(root);
    return sc;
}

void pyab_scenario_destroy(pyab_scenario *sc)
{
    if (sc == NULL)
        return;
    for (size_t i = 0; i < sc->narms; i++)
        pyab_config_finish(&sc->arms[i]);
    free(sc->arms);
    json_decref(sc->root);
    free(sc->path);
    free(sc->dir);
    free(sc->name);
    free(sc);
}
