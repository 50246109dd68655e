/*
 * scenario: reads a scenario file (JSON) into validated settings.
 *
 * A scenario names the service (app), the trace, the load model, workers,
 * warm-up, sampling, and per-arm overrides (GC and allocator knobs, env,
 * mocks). The parent loads and validates the whole file and writes, for
 * each arm, an "effective" JSON object (the base merged with the arm's
 * overrides, every path made absolute); the child reads that object back
 * through the same parser, so both sides agree on one definition.
 *
 * Every error names the file and the key path ("load.speed"); syntax errors
 * name line and column.
 */
#ifndef PYAB_SCENARIO_H
#define PYAB_SCENARIO_H

#include <jansson.h>
#include <stdint.h>

#include "util.h"

enum { PYAB_LOAD_OPEN, PYAB_LOAD_CLOSED };
enum { PYAB_APP_PATH, PYAB_APP_MODULE, PYAB_APP_WSGI };

/* The settings of one arm. */
typedef struct pyab_config {
    char *arm;     /* arm name; "base" when the scenario has no arms */
    json_t *json;  /* effective settings, paths absolute (owned) */

    int app_kind;
    char *app_target; /* file path, module name, or "module:attr" for wsgi */
    char *handler;    /* callable name (path/module apps) */
    char **sys_path;
    size_t nsys_path;
    char *venv;

    char *trace_path;
    int load_model;
    double speed;      /* open: due time = t / speed */
    long loops;        /* open: how many times the trace is played */
    double rate;       /* open: constant arrivals per second, 0 = the trace's times */
    long users;        /* closed */
    double think_ms;   /* closed */
    long requests;     /* closed: total; 0 = one pass over the trace */
    json_t *routes;         /* load.routes: list of route names to keep, or NULL (borrowed) */
    json_t *exclude_routes; /* load.exclude_routes: route names to drop, or NULL (borrowed) */
    double sample_share;    /* load.sample: share of records kept (seeded), 1 = all */
    long workers;
    long max_in_flight;
    long warmup_requests;
    double warmup_seconds;
    double sample_interval_ms;
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

    json_t *env;   /* object of strings (borrowed from json) */
    json_t *mocks; /* object: module name -> absolute path (borrowed) */

    double limit_run_seconds; /* 0 = none */
    double limit_rss_mb;      /* 0 = none */
} pyab_config;

typedef struct pyab_scenario {
    char *path; /* absolute */
    char *dir;  /* folder of the scenario file */
    char *name;
    json_t *root;
    pyab_config *arms;
    size_t narms;
    long reps;
    int shuffle;     /* order: "interleaved" (0) or "shuffled" (1) */
    json_t *analysis; /* borrowed from root, may be NULL */
    json_t *budgets;
    json_t *ablate;
} pyab_scenario;

/* Loads and validates a scenario file. New scenario, or NULL with err set. */
pyab_scenario *pyab_scenario_load(const char *path, pyab_error *err);
/*
 * Same, from a JSON object already parsed (borrowed); `path` names it in
 * messages and its folder anchors relative paths.
 */
pyab_scenario *pyab_scenario_from_json(const char *path, json_t *root, pyab_error *err);
void pyab_scenario_destroy(pyab_scenario *sc);

/*
 * Parses one arm's effective settings (as written by the parent) into cfg.
 * `where` names the source in messages. 0 or -EINVAL with err set.
 */
int pyab_config_parse(pyab_config *cfg, const char *where, const char *arm, json_t *json,
                      const char *base_dir, pyab_error *err);
void pyab_config_finish(pyab_config *cfg);

/* Finds an allocator library by name (jemalloc, tcmalloc, mimalloc); new path or NULL. */
char *pyab_scenario_find_preload(const char *name, const char **package);

#endif
