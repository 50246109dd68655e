/*
 * effective: every setting of an arm as it takes effect, defaults filled in,
 * for manifest.json and each rep's config.json, so that a reader sees why a
 * rep ran the way it did (how often it sampled, how long it warmed up)
 * without knowing pyab's defaults. "defaulted" lists the key paths the
 * scenario did not set.
 */
#include <string.h>

#include "config.h"

/* A number, or null for "unset" (so a reader can tell 0 from not set). */
static json_t *num_or_null(double v, int set)
{
    return set ? json_real(v) : json_null();
}

static json_t *load_json(const pyab_config *c)
{
    json_t *o = json_pack("{ss sf sI sf sI sf so sO sO sf ss}",
                          "model", c->load_model == PYAB_LOAD_OPEN ? "open" : "closed", "speed",
                          c->speed, "loops", (json_int_t)c->loops, "rate", c->rate, "users",
                          (json_int_t)c->users, "think_ms", c->think_ms, "requests",
                          c->requests ? json_integer(c->requests) : json_string("one pass"),
                          "routes", c->routes ? c->routes : json_null(), "exclude_routes",
                          c->exclude_routes ? c->exclude_routes : json_null(), "share",
                          c->sample_share, "until", c->until_settled ? "settled" : "planned");
    /* Only the keys of the arm's load model. */
    static const char *const open_only[] = {"speed", "loops", "rate"};
    static const char *const closed_only[] = {"users", "think_ms", "requests"};
    for (size_t i = 0; i < 3; i++)
        json_object_del(o, c->load_model == PYAB_LOAD_OPEN ? closed_only[i] : open_only[i]);
    if (c->until_settled) {
        json_object_set_new(o, "max_requests",
                            c->max_requests ? json_integer(c->max_requests)
                                            : json_sprintf("%d x planned", PYAB_SETTLE_MAX_FACTOR));
        json_object_set_new(o, "max_seconds",
                            json_real(c->max_seconds > 0 ? c->max_seconds : PYAB_SETTLE_MAX_SECONDS));
    }
    return o;
}

static json_t *gc_json(const pyab_config *c)
{
    json_t *o = json_pack("{sb sb}", "enabled", c->gc_enabled, "freeze_after_warmup",
                          c->gc_freeze_after_warmup);

    json_object_set_new(o, "threshold",
                        c->gc_has_threshold
                            ? json_pack("[III]", (json_int_t)c->gc_threshold[0],
                                        (json_int_t)c->gc_threshold[1], (json_int_t)c->gc_threshold[2])
                            : json_string("the interpreter's"));
    if (c->gc_collect_every_requests || c->gc_collect_every_seconds > 0)
        json_object_set_new(o, "collect_every",
                            json_pack("{so so si}", "requests",
                                      c->gc_collect_every_requests
                                          ? json_integer(c->gc_collect_every_requests)
                                          : json_null(),
                                      "seconds", num_or_null(c->gc_collect_every_seconds,
                                                             c->gc_collect_every_seconds > 0),
                                      "generation", c->gc_collect_generation));
    else
        json_object_set_new(o, "collect_every", json_null());
    return o;
}

static json_t *allocator_json(const pyab_config *c)
{
    return json_pack("{ss so so so so so ss}", "python", c->py_allocator, "malloc_arena_max",
                     c->malloc_arena_max ? json_integer(c->malloc_arena_max) : json_null(),
                     "mmap_threshold",
                     c->mmap_threshold >= 0 ? json_integer(c->mmap_threshold) : json_null(),
                     "trim_threshold",
                     c->trim_threshold >= 0 ? json_integer(c->trim_threshold) : json_null(),
                     "trim_every", c->trim_every_seconds > 0
                                       ? json_pack("{sf}", "seconds", c->trim_every_seconds)
                                       : json_null(),
                     "preload", c->preload_name ? json_string(c->preload_name) : json_null(),
                     "thread_caches", c->allocator_caches ? "on" : "off");
}

/* Appends to `out` the key paths of leaves of eff that `given` does not set. */
static void collect_defaulted(json_t *eff, json_t *given, const char *prefix, json_t *out)
{
    const char *key;
    json_t *v;

    json_object_foreach(eff, key, v) {
        json_t *g = json_object_get(given, key);
        char *path = prefix[0] ? xasprintf("%s.%s", prefix, key) : xstrdup(key);
        if (g == NULL)
            json_array_append_new(out, json_string(path));
        else if (json_is_object(v) && json_is_object(g))
            collect_defaulted(v, g, path, out);
        free(path);
    }
}

/* Which interpreter the arm runs: null paths for pyab's own child. */
static json_t *python_json(const pyab_config *c)
{
    return json_pack("{s:s?,s:s?,s:s?,s:s?,s:s}", "child", c->py_child, "home", c->py_home,
                     "runtime", c->py_runtime, "executable", c->py_executable, "build",
                     c->py_debug ? "debug" : "release");
}

json_t *pyab_config_effective(const pyab_config *c)
{
    static const char *const pyheap[] = {"blocks", "requested", "off"};
    static const char *const lifespans[] = {"auto", "on", "off"};
    json_t *eff = json_object(), *defaulted = json_array();

    json_object_set_new(eff, "python", python_json(c));
    json_object_set_new(eff, "load", load_json(c));
    json_object_set_new(eff, "workers", json_integer(c->workers));
    json_object_set_new(eff, "max_in_flight", json_integer(c->max_in_flight));
    json_object_set_new(eff, "warmup", json_pack("{sI sf}", "requests",
                                                 (json_int_t)c->warmup_requests, "seconds",
                                                 c->warmup_seconds));
    json_object_set_new(eff, "sample",
                        json_pack("{sf so ss}", "interval_ms", c->sample_interval_ms,
                                  "every_requests",
                                  c->sample_every_requests ? json_integer(c->sample_every_requests)
                                                           : json_string("auto"),
                                  "pyheap", pyheap[c->pyheap_mode]));
    json_object_set_new(eff, "seed", json_integer((json_int_t)c->seed));
    json_object_set_new(eff, "timeout_ms", json_real(c->timeout_ms));
    json_object_set_new(eff, "gc", gc_json(c));
    json_object_set_new(eff, "allocator", allocator_json(c));
    json_object_set_new(eff, "limits",
                        json_pack("{so so sf sf}", "run_seconds",
                                  num_or_null(c->limit_run_seconds, c->limit_run_seconds > 0),
                                  "rss_mb", num_or_null(c->limit_rss_mb, c->limit_rss_mb > 0),
                                  "stall_seconds", c->limit_stall_seconds, "max_error_share",
                                  c->limit_error_share));
    json_object_set_new(eff, "where",
                        json_pack("{ss sf sf sb sI}", "mode",
                                  (const char *const[]){"sampled", "exact", "off"}[c->where_mode],
                                  "sample_bytes", c->where_sample_bytes, "holders_seconds",
                                  c->where_holders_seconds, "native", c->where_native,
                                  "native_sample_bytes",
                                  (json_int_t)c->where_native_sample_bytes));
    json_object_set_new(eff, "asgi",
                        json_pack("{ss ss sI ss}", "loop",
                                  c->asgi_loop == PYAB_LOOP_UVLOOP ? "uvloop" : "asyncio",
                                  "lifespan", lifespans[c->asgi_lifespan], "chunk_bytes",
                                  (json_int_t)c->asgi_chunk_bytes, "root_path", c->asgi_root_path));
    collect_defaulted(eff, c->json, "", defaulted);
    json_object_set_new(eff, "defaulted", defaulted);
    return eff;
}
