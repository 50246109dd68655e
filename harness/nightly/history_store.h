/*
 * history_store: the interface between the history (history.c, which
 * knows what a run's figures are and how a trend reads) and the databases
 * that keep them: SQLite in a file (history_sqlite.c, the default) and a
 * PostgreSQL server (history_pg.c, for many machines sharing one history).
 * Each backend file is the only one that includes its client library's
 * header.
 *
 * Both backends hold the same schema, at the same version:
 *   schema_version(version)           one row; migrations bring an older
 *                                     database up to PYAB_HISTORY_SCHEMA
 *   runs(id, scenario, date_utc, git_revision, pyab_version, results_dir,
 *        verdict, host)               UNIQUE (scenario, date_utc, results_dir)
 *   metrics(run_id, arm, metric, value, ci_low, ci_high)
 *   VIEW history                      the two joined
 *   run_documents(run_id, summary, manifest)
 *                                     a passing run's summary.json and
 *                                     manifest.json, so that a machine
 *                                     without its folder can use it as a
 *                                     baseline
 * Version 1 is the schema of the first SQLite histories (no version table);
 * version 2 adds runs.host, the machines that ran the run; version 3 adds
 * run_documents.
 *
 * A run travels between the two layers as a JSON object:
 *   {"scenario": s, "date_utc": s, "git_revision": s|null,
 *    "pyab_version": s|null, "results_dir": s, "verdict": s, "host": s|null,
 *    "metrics": [[arm, metric, value|null, ci_low|null, ci_high|null], ...],
 *    "documents": {"summary": {...}, "manifest": {...}} (optional)}
 * plus "id" (an integer) when read back; read leaves "documents" out (the
 * documents op fetches them).
 */
#ifndef PYAB_HISTORY_STORE_H
#define PYAB_HISTORY_STORE_H

#include <jansson.h>
#include <stddef.h>

#include "util.h"

#define PYAB_HISTORY_SCHEMA 3

/* The newest passing runs of a scenario whose documents are kept (a baseline is the newest). */
#define PYAB_HISTORY_KEEP_DOCUMENTS 5

typedef struct pyab_history_store pyab_history_store;

typedef struct pyab_history_backend {
    const char *name;
    /*
     * Connects to `target` (a path or a URL) and brings its schema to
     * PYAB_HISTORY_SCHEMA, refusing one newer than that. `shown` is the
     * target as messages may print it (no password). New store or NULL
     * with err set (exit 2: the database given cannot be used).
     */
    pyab_history_store *(*open)(const char *target, const char *shown, pyab_error *err);
    void (*close)(pyab_history_store *s);
    /*
     * Writes the runs of an array (borrowed) in one transaction: all or
     * none. A run already there (same scenario, date_utc, results_dir) is
     * replaced, metrics and all, unless keep_existing, when it is left as
     * it is. 0 or a negative errno with err set.
     */
    int (*write)(pyab_history_store *s, json_t *runs, int keep_existing, pyab_error *err);
    /*
     * The newest `last` runs (0: all) of a scenario (NULL: every scenario),
     * oldest first, each with its metrics, read in one statement so that a
     * run is seen whole or not at all. New array, or NULL with err set.
     */
    json_t *(*read)(pyab_history_store *s, const char *scenario, size_t last, pyab_error *err);
    /*
     * A run's documents (by its id): a new {"summary", "manifest"} object,
     * empty when the run has none, or NULL with err set.
     */
    json_t *(*documents)(pyab_history_store *s, json_int_t run_id, pyab_error *err);
    /* 0 when write may add runs, or -EACCES with err set (a role that may only read). */
    int (*writable)(pyab_history_store *s, pyab_error *err);
} pyab_history_backend;

extern const pyab_history_backend pyab_history_sqlite;
extern const pyab_history_backend pyab_history_pg;

/*
 * For tests: when set, each backend's write calls it after the rows are
 * written and before COMMIT, so a test can kill a writer there.
 */
extern void (*pyab_history_midway_hook)(void);

#endif
