/*
 * config: the settings of one arm, parsed from its effective JSON object.
 *
 * The parent (scenario.h) calls pyab_config_parse once per arm on the base
 * merged with the arm's overrides, and writes the result's JSON into the
 * rep's config.json; the child (`pyab __child`) parses that file again
 * with the same function. One parser per section of knobs (app, python,
 * load, gc, allocator, env, mocks, limits) checks keys, types and ranges
 * (keys.h), sets defaults, and makes relative paths absolute in the JSON
 * as well, so what the child reads needs no base folder.
 */
#ifndef PYAB_CONFIG_H
#define PYAB_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "util.h"

enum { PYAB_LOAD_OPEN, PYAB_LOAD_CLOSED };
enum { PYAB_APP_PATH, PYAB_APP_MODULE, PYAB_APP_WSGI, PYAB_APP_ASGI };
enum { PYAB_LOOP_ASYNCIO, PYAB_LOOP_UVLOOP };
enum { PYAB_LIFESPAN_AUTO, PYAB_LIFESPAN_ON, PYAB_LIFESPAN_OFF };
enum { PYAB_WHERE_SAMPLED, PYAB_WHERE_EXACT, PYAB_WHERE_OFF };

/* where.sample_bytes: the default mean gap between sampled allocation bytes. */
#define PYAB_WHERE_SAMPLE_BYTES 65536
/* where.holders_seconds: the default time budget of the holder search per rep. */
#define PYAB_WHERE_HOLDERS_SECONDS 2.0

/* sample.every_requests "auto": about this many samples after warm-up per rep. */
#define PYAB_SAMPLES_TARGET 1000
/* load.until "settled": default cap, as a multiple of the planned requests. */
#define PYAB_SETTLE_MAX_FACTOR 16
/* load.until "settled": default cap in seconds of replay per rep. */
#define PYAB_SETTLE_MAX_SECONDS 600
/* where.native_sample_bytes: the default mean interval between native samples. */
#define PYAB_NATIVE_SAMPLE_BYTES 65536
/* limits.max_error_share: the default share of failed requests above which a rep is failed. */
#define PYAB_MAX_ERROR_SHARE 0.5

/* The settings of one arm. */
typedef struct pyab_config {
    char *arm;     /* arm name; "base" when the scenario has no arms */
    json_t *json;  /* effective settings, paths absolute (owned) */

    int app_kind;
    char *app_target; /* file path, module name, or "module:attr" for wsgi and asgi */
    char *handler;    /* callable name (path/module apps) */
    char **sys_path;
    size_t nsys_path;
    char *venv;
    /* Another interpreter (interpreter.h): all NULL for pyab's own child. */
    char *py_child;      /* python.child, or the runtime's: absolute path of its pyab-child */
    char *py_home;       /* python.home, or the runtime's usr/: PYTHONHOME for the child */
    char *py_runtime;    /* python.runtime: the root tools/runtime.sh made */
    char *py_executable; /* sys.executable for the child (PyConfig.executable) */
    int py_debug;        /* python.build: 0 "release" (default), 1 "debug" */

    char *trace_path;
    int load_model;
    double speed;      /* open: due time = t / speed */
    long loops;        /* open: how many times the trace is played */
    double rate;       /* open: constant arrivals per second, 0 = the trace's times */
    long users;        /* closed */
    double think_ms;   /* closed */
    long requests;     /* closed: total; 0 = one pass over the trace */
    int until_settled;  /* load.until: "settled" (1) or "planned" (0) */
    long max_requests;  /* until settled: the cap; 0 = PYAB_SETTLE_MAX_FACTOR x planned */
    double max_seconds; /* until settled: the cap in seconds of replay */
    json_t *routes;         /* load.routes: list of route names to keep, or NULL (borrowed) */
    json_t *exclude_routes; /* load.exclude_routes: route names to drop, or NULL (borrowed) */
    double sample_share;    /* load.share (old name load.sample): share of records kept (seeded), 1 = all */
    long workers;
    long max_in_flight;
    long warmup_requests;
    double warmup_seconds;
    double sample_interval_ms;
    long sample_every_requests; /* a sample per this many requests; 0 = auto (PYAB_SAMPLES_TARGET) */
    int pyheap_mode;   /* 0 blocks, 1 requested, 2 off (sample.pyheap) */
    uint64_t seed;
    double timeout_ms;

    int gc_enabled;
    int gc_has_threshold;
    long gc_threshold[3];
    int gc_freeze_after_warmup;
    long gc_collect_every_requests;
    double gc_collect_every_seconds;
    int gc_collect_generation;

    char *py_allocator; /* pymalloc | malloc | pymalloc_debug */
    long malloc_arena_max;   /* 0 = unset */
    long mmap_threshold;     /* -1 = unset */
    long trim_threshold;     /* -1 = unset */
    double trim_every_seconds;
    char *preload;       /* absolute path of the library, or NULL */
    char *preload_name;  /* as written: jemalloc | tcmalloc | mimalloc | path */
    int allocator_caches; /* allocator.thread_caches: 0 "off" (default), 1 "on" */

    json_t *env;   /* object of strings (borrowed from json) */
    json_t *mocks; /* object: module name -> absolute path (borrowed) */

    double limit_run_seconds; /* 0 = none */
    double limit_rss_mb;      /* 0 = none */
    double limit_stall_seconds; /* silence from a running child that ends its rep */
    double limit_error_share;   /* limits.max_error_share: a rep with more failed requests is failed */

    int where_mode;              /* where.mode: PYAB_WHERE_SAMPLED (default), _EXACT, _OFF */
    double where_sample_bytes;   /* where.sample_bytes: mean bytes between samples */
    double where_holders_seconds; /* where.holders_seconds: 0 = no holder search */
    int where_native;               /* where.native: sample native allocations (pyab-native.so) */
    long where_native_sample_bytes; /* where.native_sample_bytes: mean bytes between samples */

    /* asgi: event-loop apps (app.asgi and `async def` handlers) */
    int asgi_loop;          /* PYAB_LOOP_ASYNCIO (default) or PYAB_LOOP_UVLOOP */
    int asgi_lifespan;      /* PYAB_LIFESPAN_AUTO (default), _ON, _OFF */
    long asgi_chunk_bytes;  /* a body goes in http.request messages of at most this many bytes */
    char *asgi_root_path;   /* the scope's root_path, "" by default (owned) */
} pyab_config;

/*
 * Parses one arm's effective settings into cfg (embedded: finish with
 * pyab_config_finish). json is borrowed, and cfg->json keeps a new
 * reference to it; relative paths in it are made absolute against
 * base_dir, in place. `where` names the source in messages. 0 or -EINVAL
 * with err set (cfg must still be finished).
 */
/*
 * Checks that the files cfg names exist before anything runs: app.path,
 * python.path folders, python.venv, mocks. `file` names the scenario in
 * messages. 0 or -EINVAL with err set (exit 2).
 */
int pyab_config_check_files(const pyab_config *cfg, const char *file, pyab_error *err);

int pyab_config_parse(pyab_config *cfg, const char *where, const char *arm, json_t *json,
                      const char *base_dir, pyab_error *err);
/*
 * Every setting of cfg as it takes effect, defaults filled in, and under
 * "defaulted" the key paths the scenario left to them (effective.c). New
 * reference.
 */
json_t *pyab_config_effective(const pyab_config *cfg);

/* Frees what cfg holds and zeroes it. */
void pyab_config_finish(pyab_config *cfg);

#endif
