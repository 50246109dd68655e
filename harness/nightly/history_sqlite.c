/*
 * The SQLite history backend: one file, no server. WAL mode with a busy
 * timeout, and every write one BEGIN IMMEDIATE transaction, so processes on
 * one machine sharing the file serialise their writes and lose nothing.
 */
#include "history_store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pyab_history_store {
    sqlite3 *db;
    char *path;
};

/* Long enough for a shard that waits on nine others writing their runs. */
#define BUSY_TIMEOUT_MS 60000

/* migrations[v - 1] brings a database from version v - 1 to v. */
static const char *const migrations[PYAB_HISTORY_SCHEMA] = {
    "CREATE TABLE IF NOT EXISTS runs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " scenario TEXT NOT NULL, date_utc TEXT NOT NULL, git_revision TEXT,"
    " pyab_version TEXT, results_dir TEXT NOT NULL, verdict TEXT,"
    " UNIQUE (scenario, date_utc, results_dir));"
    "CREATE TABLE IF NOT EXISTS metrics ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " arm TEXT NOT NULL, metric TEXT NOT NULL,"
    " value REAL, ci_low REAL, ci_high REAL,"
    " PRIMARY KEY (run_id, arm, metric));"
    "CREATE INDEX IF NOT EXISTS runs_by_scenario ON runs(scenario, date_utc);"
    "CREATE VIEW IF NOT EXISTS history AS"
    " SELECT r.scenario, m.arm, m.metric, m.value, m.ci_low, m.ci_high, r.date_utc,"
    " r.git_revision, r.pyab_version, r.results_dir, r.verdict, r.id AS run_id"
    " FROM metrics m JOIN runs r ON r.id = m.run_id;",
    "ALTER TABLE runs ADD COLUMN host TEXT;",
    "CREATE TABLE IF NOT EXISTS run_documents ("
    " run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,"
    " summary TEXT NOT NULL, manifest TEXT NOT NULL);",
};

static int db_fail(pyab_history_store *s, pyab_error *err, const char *what)
{
    return pyab_error_internal(err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int exec(pyab_history_store *s, const char *sql, pyab_error *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, err, "database error");
    return 0;
}

static void sqlite_close(pyab_history_store *s)
{
    if (s == NULL)
        return;
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

/* The version the database holds: 0 for none (new, or a first-generation history). */
static int schema_version(pyab_history_store *s)
{
    sqlite3_stmt *st;
    int v = -1;

    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
                           &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int migrate(pyab_history_store *s, pyab_error *err)
{
    char *set;
    int v, rc;

    if (exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", err) < 0)
        return -EIO;
    if ((v = schema_version(s)) < 0)
        return db_fail(s, err, "cannot read the schema version");
    if (v > PYAB_HISTORY_SCHEMA)
        return pyab_error_set(err, "%s: the history's schema version is %d, newer than this "
                              "pyab knows (%d): use a newer pyab", s->path, v,
                              PYAB_HISTORY_SCHEMA);
    if (v == PYAB_HISTORY_SCHEMA)
        return 0;
    for (; v < PYAB_HISTORY_SCHEMA; v++)
        if (exec(s, migrations[v], err) < 0)
            return -EIO;
    set = xasprintf("DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)",
                    PYAB_HISTORY_SCHEMA);
    rc = exec(s, set, err);
    free(set);
    return rc;
}

static pyab_history_store *sqlite_open(const char *path, const char *shown, pyab_error *err)
{
    pyab_history_store *s = xcalloc(1, sizeof(*s));
    char *dir = pyab_path_dirname(path);
    int rc;

    s->path = xstrdup(shown);
    if ((rc = pyab_mkdirs(dir)) < 0) {
        pyab_error_set(err, "%s: cannot create its folder: %s", shown, strerror(-rc));
        goto fail;
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        pyab_error_set(err, "%s: cannot open the history database: %s", shown,
                       s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* Switching to WAL takes a lock the busy handler does not wait for; retry a while. */
    for (int tries = 0; tries < 600; tries++) {
        rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            break;
        usleep(50000);
    }
    if (rc != SQLITE_OK) {
        pyab_error_set(err, "%s: not a usable history database: %s", shown,
                       sqlite3_errmsg(s->db));
        goto fail;
    }
    if (exec(s, "PRAGMA foreign_keys=ON; BEGIN IMMEDIATE", err) < 0)
        goto fail;
    if (migrate(s, err) < 0 || exec(s, "COMMIT", err) < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    free(dir);
    return s;
fail:
    err->exit_code = PYAB_EXIT_USAGE; /* the history given cannot be used */
    free(dir);
    sqlite_close(s);
    return NULL;
}

static void bind_text(sqlite3_stmt *st, int i, json_t *v)
{
    if (json_is_string(v))
        sqlite3_bind_text(st, i, json_string_value(v), -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void bind_num(sqlite3_stmt *st, int i, json_t *v)
{
    if (json_is_number(v))
        sqlite3_bind_double(st, i, json_number_value(v));
    else
        sqlite3_bind_null(st, i);
}

static const char *const insert_run[2] = {
    "INSERT INTO runs (scenario, date_utc, git_revision, pyab_version, results_dir, verdict,"
    " host) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (scenario, date_utc, results_dir)"
    " DO UPDATE SET git_revision = excluded.git_revision, pyab_version = excluded.pyab_version,"
    " verdict = excluded.verdict, host = excluded.host RETURNING id",
    "INSERT INTO runs (scenario, date_utc, git_revision, pyab_version, results_dir, verdict,"
    " host) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING RETURNING id",
};

/* Documents of the scenario of run ?1 beyond the newest ?2 runs that have them. */
static const char prune_documents[] =
    "DELETE FROM run_documents WHERE run_id IN (SELECT r.id FROM runs r JOIN run_documents d"
    " ON d.run_id = r.id WHERE r.scenario = (SELECT scenario FROM runs WHERE id = ?1)"
    " ORDER BY r.date_utc DESC, r.id DESC LIMIT -1 OFFSET ?2)";

/* The run's documents (replacing any it had). 0 or -EIO with err set. */
static int write_documents(pyab_history_store *s, sqlite3_stmt *const st[6], sqlite3_int64 id,
                           json_t *docs, pyab_error *err)
{
    char *summary, *manifest;
    int rc = 0;

    sqlite3_reset(st[3]);
    sqlite3_bind_int64(st[3], 1, id);
    if (sqlite3_step(st[3]) != SQLITE_DONE)
        return db_fail(s, err, "cannot replace the run's documents");
    if (!json_is_object(json_object_get(docs, "summary")) ||
        !json_is_object(json_object_get(docs, "manifest")))
        return 0;
    summary = json_dumps(json_object_get(docs, "summary"), JSON_COMPACT | JSON_REAL_PRECISION(17));
    manifest = json_dumps(json_object_get(docs, "manifest"), JSON_COMPACT);
    sqlite3_reset(st[4]);
    sqlite3_bind_int64(st[4], 1, id);
    sqlite3_bind_text(st[4], 2, summary, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st[4], 3, manifest, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st[4]) != SQLITE_DONE)
        rc = db_fail(s, err, "cannot insert the run's documents");
    /* Older runs' copies are never a baseline again: the file does not grow by them. */
    sqlite3_reset(st[5]);
    sqlite3_bind_int64(st[5], 1, id);
    sqlite3_bind_int(st[5], 2, PYAB_HISTORY_KEEP_DOCUMENTS);
    if (rc == 0 && sqlite3_step(st[5]) != SQLITE_DONE)
        rc = db_fail(s, err, "cannot prune older documents");
    free(summary);
    free(manifest);
    return rc;
}

/* One run's rows. 0 or -EIO with err set. */
static int write_run(pyab_history_store *s, sqlite3_stmt *const st[6], json_t *run,
                     pyab_error *err)
{
    static const char *const cols[] = {"scenario", "date_utc", "git_revision", "pyab_version",
                                       "results_dir", "verdict", "host"};
    sqlite3_int64 id;
    json_t *m;
    size_t i;
    int rc;

    sqlite3_reset(st[0]);
    for (i = 0; i < PYAB_ARRAY_LEN(cols); i++)
        bind_text(st[0], (int)i + 1, json_object_get(run, cols[i]));
    if ((rc = sqlite3_step(st[0])) == SQLITE_DONE)
        return 0; /* kept as it was */
    if (rc != SQLITE_ROW)
        return db_fail(s, err, "cannot insert the run");
    id = sqlite3_column_int64(st[0], 0);
    sqlite3_reset(st[0]);
    sqlite3_reset(st[1]);
    sqlite3_bind_int64(st[1], 1, id);
    if (sqlite3_step(st[1]) != SQLITE_DONE)
        return db_fail(s, err, "cannot replace the run's metrics");
    json_array_foreach(json_object_get(run, "metrics"), i, m) {
        sqlite3_reset(st[2]);
        sqlite3_bind_int64(st[2], 1, id);
        bind_text(st[2], 2, json_array_get(m, 0));
        bind_text(st[2], 3, json_array_get(m, 1));
        for (int k = 2; k < 5; k++)
            bind_num(st[2], k + 2, json_array_get(m, (size_t)k));
        if (sqlite3_step(st[2]) != SQLITE_DONE)
            return db_fail(s, err, "cannot insert a metric");
    }
    return write_documents(s, st, id, json_object_get(run, "documents"), err);
}

static int sqlite_write(pyab_history_store *s, json_t *runs, int keep_existing, pyab_error *err)
{
    sqlite3_stmt *st[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    json_t *run;
    size_t i;
    int rc;

    if ((rc = exec(s, "BEGIN IMMEDIATE", err)) < 0)
        return rc;
    if (sqlite3_prepare_v2(s->db, insert_run[keep_existing != 0], -1, &st[0], NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM metrics WHERE run_id = ?", -1, &st[1], NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", -1, &st[2],
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM run_documents WHERE run_id = ?", -1, &st[3],
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "INSERT INTO run_documents VALUES (?, ?, ?)", -1, &st[4],
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, prune_documents, -1, &st[5], NULL) != SQLITE_OK) {
        rc = db_fail(s, err, "cannot prepare");
        goto rollback;
    }
    json_array_foreach(runs, i, run)
        if ((rc = write_run(s, st, run, err)) < 0)
            goto rollback;
    if (pyab_history_midway_hook)
        pyab_history_midway_hook();
    if ((rc = exec(s, "COMMIT", err)) == 0)
        goto out;
rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
out:
    for (i = 0; i < 6; i++)
        sqlite3_finalize(st[i]);
    return rc;
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return json_null();
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    default:
        return json_string((const char *)sqlite3_column_text(st, i));
    }
}

static json_t *sqlite_read(pyab_history_store *s, const char *scenario, size_t last,
                           pyab_error *err)
{
    static const char *const cols[] = {"scenario", "date_utc", "git_revision", "pyab_version",
                                       "results_dir", "verdict", "host"};
    sqlite3_stmt *st;
    json_t *runs = json_array(), *run = NULL;
    sqlite3_int64 prev = -1;
    int rc;

    if (sqlite3_prepare_v2(s->db,
            "SELECT r.id, r.scenario, r.date_utc, r.git_revision, r.pyab_version, r.results_dir,"
            " r.verdict, r.host, m.arm, m.metric, m.value, m.ci_low, m.ci_high FROM"
            " (SELECT * FROM runs WHERE ?1 IS NULL OR scenario = ?1"
            "  ORDER BY date_utc DESC, id DESC LIMIT ?2) r"
            " LEFT JOIN metrics m ON m.run_id = r.id ORDER BY r.date_utc, r.id, m.arm, m.metric",
            -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "cannot prepare");
        json_decref(runs);
        return NULL;
    }
    if (scenario)
        sqlite3_bind_text(st, 1, scenario, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, last ? (sqlite3_int64)last : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(st, 0);
        if (id != prev) {
            run = json_pack("{s:I, s:[]}", "id", (json_int_t)id, "metrics");
            for (int c = 0; c < 7; c++)
                json_object_set_new(run, cols[c], col_json(st, c + 1));
            json_array_append_new(runs, run);
            prev = id;
        }
        if (sqlite3_column_type(st, 8) != SQLITE_NULL)
            json_array_append_new(json_object_get(run, "metrics"), json_pack(
                "[o, o, o, o, o]", col_json(st, 8), col_json(st, 9), col_json(st, 10),
                col_json(st, 11), col_json(st, 12)));
    }
    if (rc != SQLITE_DONE) {
        db_fail(s, err, "cannot read the runs");
        json_decref(runs);
        runs = NULL;
    }
    sqlite3_finalize(st);
    return runs;
}

static int sqlite_writable(pyab_history_store *s, pyab_error *err)
{
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        pyab_error_set(err, "%s: the history database is read-only here", s->path);
        return -EACCES;
    }
    return 0;
}

static json_t *sqlite_documents(pyab_history_store *s, json_int_t id, pyab_error *err)
{
    sqlite3_stmt *st;
    json_t *out = json_object();
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT summary, manifest FROM run_documents WHERE run_id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "cannot prepare");
        json_decref(out);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_object_set_new(out, "summary", json_loads((const char *)sqlite3_column_text(st, 0),
                                                       0, NULL));
        json_object_set_new(out, "manifest", json_loads((const char *)sqlite3_column_text(st, 1),
                                                        0, NULL));
    } else if (rc != SQLITE_DONE) {
        db_fail(s, err, "cannot read the run's documents");
        json_decref(out);
        out = NULL;
    }
    sqlite3_finalize(st);
    return out;
}

const pyab_history_backend pyab_history_sqlite = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .write = sqlite_write,
    .read = sqlite_read,
    .documents = sqlite_documents,
    .writable = sqlite_writable,
};
