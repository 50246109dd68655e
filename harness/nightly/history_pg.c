/*
 * The PostgreSQL history backend, through libpq: one server shared by many
 * CI machines, so each sees the others' baselines while it runs.
 *
 * Each write is one transaction (READ COMMITTED): the run row is an upsert
 * on (scenario, date_utc, results_dir), so two writers of the same run
 * never make two rows, and writers of different runs never wait on each
 * other. A reader's one SELECT sees a snapshot, so it sees a run whole or
 * not at all; a writer that dies mid-transaction loses its connection, and
 * the server rolls the transaction back.
 *
 * The schema is created and migrated under a transaction-scoped advisory
 * lock, so many machines starting at once against an empty database do not
 * race on CREATE TABLE.
 */
#include "history_store.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

struct pyab_history_store {
    PGconn *conn;
    char *shown;
    char sqlstate[6]; /* of the last statement that failed */
};

/* Transactions a deadlock or serialization failure aborted are tried again. */
#define WRITE_ATTEMPTS 3

#define CONNECT_TIMEOUT_S "30"
#define PYAB_STR_(x) #x
#define PYAB_STR(x) PYAB_STR_(x)

/* Any fixed number: every pyab takes the same lock to change the schema. */
#define SCHEMA_LOCK "7079616268697374" /* "pyabhist" */

static const char *const migrations[PYAB_HISTORY_SCHEMA] = {
    "CREATE TABLE IF NOT EXISTS runs ("
    " id BIGSERIAL PRIMARY KEY,"
    " scenario TEXT NOT NULL, date_utc TEXT NOT NULL, git_revision TEXT,"
    " pyab_version TEXT, results_dir TEXT NOT NULL, verdict TEXT,"
    " UNIQUE (scenario, date_utc, results_dir));"
    "CREATE TABLE IF NOT EXISTS metrics ("
    " run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " arm TEXT NOT NULL, metric TEXT NOT NULL,"
    " value DOUBLE PRECISION, ci_low DOUBLE PRECISION, ci_high DOUBLE PRECISION,"
    " PRIMARY KEY (run_id, arm, metric));"
    "CREATE INDEX IF NOT EXISTS runs_by_scenario ON runs(scenario, date_utc);"
    "CREATE OR REPLACE VIEW history AS"
    " SELECT r.scenario, m.arm, m.metric, m.value, m.ci_low, m.ci_high, r.date_utc,"
    " r.git_revision, r.pyab_version, r.results_dir, r.verdict, r.id AS run_id"
    " FROM metrics m JOIN runs r ON r.id = m.run_id;",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS host TEXT;",
    "CREATE TABLE IF NOT EXISTS run_documents ("
    " run_id BIGINT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,"
    " summary TEXT NOT NULL, manifest TEXT NOT NULL);",
};

/* Runs a statement with text parameters; 0 when it returned what `want` says. */
static int query(pyab_history_store *s, const char *sql, int n, const char *const *params,
               ExecStatusType want, PGresult **out, pyab_error *err, const char *what)
{
    PGresult *r = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(r) != want) {
        const char *msg = PQresultErrorMessage(r);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", state ? state : "");
        pyab_error_internal(err, "%s: %s: %.*s", s->shown, what, (int)strcspn(msg, "\n"), msg);
        PQclear(r);
        return -EIO;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

/* A statement (or several, ';'-separated) without parameters. */
static int cmd(pyab_history_store *s, const char *sql, pyab_error *err, const char *what)
{
    PGresult *r = PQexec(s->conn, sql);
    int rc = 0;

    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *msg = PQresultErrorMessage(r);
        rc = pyab_error_internal(err, "%s: %s: %.*s", s->shown, what, (int)strcspn(msg, "\n"),
                                 msg);
    }
    PQclear(r);
    return rc;
}

static void pg_close(pyab_history_store *s)
{
    if (s == NULL)
        return;
    PQfinish(s->conn);
    free(s->shown);
    free(s);
}

/*
 * The version the database holds, read without a lock or DDL, so that a
 * role that may only read (a dashboard's) opens a current history: 0 when
 * there is no version table yet, -1 on another error (err set).
 */
static int current_version(pyab_history_store *s, pyab_error *err)
{
    PGresult *r;
    int v;

    if (query(s, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL,
              PGRES_TUPLES_OK, &r, err, "cannot read the schema version") < 0)
        return strcmp(s->sqlstate, "42P01") == 0 ? 0 : -1; /* undefined_table */
    v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static int too_new(pyab_history_store *s, int v, pyab_error *err)
{
    return pyab_error_set(err, "%s: the history's schema version is %d, newer than this pyab "
                          "knows (%d): use a newer pyab", s->shown, v, PYAB_HISTORY_SCHEMA);
}

/* Creates or migrates the schema under the lock, in the transaction begun. */
static int migrate(pyab_history_store *s, pyab_error *err)
{
    PGresult *r;
    char set[96];
    int v;

    if (query(s, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ")", 0, NULL, PGRES_TUPLES_OK, NULL,
            err, "cannot lock the schema") < 0 ||
        cmd(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", err,
            "cannot create the schema") < 0 ||
        query(s, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, PGRES_TUPLES_OK,
            &r, err, "cannot read the schema version") < 0)
        return -EIO;
    v = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (v > PYAB_HISTORY_SCHEMA)
        return too_new(s, v, err);
    if (v == PYAB_HISTORY_SCHEMA)
        return 0; /* another pyab migrated it while this one waited for the lock */
    for (; v < PYAB_HISTORY_SCHEMA; v++)
        if (cmd(s, migrations[v], err, "cannot migrate the schema") < 0)
            return -EIO;
    snprintf(set, sizeof(set), "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)",
             PYAB_HISTORY_SCHEMA);
    return cmd(s, set, err, "cannot record the schema version");
}

static pyab_history_store *pg_open(const char *url, const char *shown, pyab_error *err)
{
    pyab_history_store *s = xcalloc(1, sizeof(*s));
    int v;

    s->shown = xstrdup(shown);
    /* A server that drops packets would hold a run for TCP's minutes: 30 s unless the URL
     * or PGCONNECT_TIMEOUT says otherwise (the URL, expanded after it, wins). */
    if (getenv("PGCONNECT_TIMEOUT") == NULL) {
        static const char *const keys[] = {"connect_timeout", "dbname", NULL};
        const char *const values[] = {CONNECT_TIMEOUT_S, url, NULL};
        s->conn = PQconnectdbParams(keys, values, 1);
    } else {
        s->conn = PQconnectdb(url);
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        const char *msg = PQerrorMessage(s->conn);
        pyab_error_set(err, "%s: cannot connect to the history database: %.*s", shown,
                       (int)strcspn(msg, "\n"), msg);
        goto fail;
    }
    /* Notices (CREATE ... IF NOT EXISTS skipping) are not the user's business. */
    if (cmd(s, "SET client_min_messages = warning", err, "cannot set up") < 0 ||
        (v = current_version(s, err)) < 0)
        goto fail;
    if (v == PYAB_HISTORY_SCHEMA)
        return s;
    if (v > PYAB_HISTORY_SCHEMA) {
        too_new(s, v, err);
        goto fail;
    }
    if (cmd(s, "BEGIN", err, "cannot begin") < 0)
        goto fail;
    if (migrate(s, err) < 0 || cmd(s, "COMMIT", err, "cannot commit the schema") < 0) {
        PQclear(PQexec(s->conn, "ROLLBACK"));
        goto fail;
    }
    return s;
fail:
    err->exit_code = PYAB_EXIT_USAGE; /* the history given cannot be used */
    pg_close(s);
    return NULL;
}

static const char *const insert_run[2] = {
    "INSERT INTO runs (scenario, date_utc, git_revision, pyab_version, results_dir, verdict,"
    " host) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scenario, date_utc, results_dir)"
    " DO UPDATE SET git_revision = excluded.git_revision, pyab_version = excluded.pyab_version,"
    " verdict = excluded.verdict, host = excluded.host RETURNING id",
    "INSERT INTO runs (scenario, date_utc, git_revision, pyab_version, results_dir, verdict,"
    " host) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
};

/* A number as a parameter: 17 significant digits read back as the same double. */
static const char *num_param(json_t *v, char *buf, size_t size)
{
    if (!json_is_number(v))
        return NULL;
    snprintf(buf, size, "%.17g", json_number_value(v));
    return buf;
}

/* The run's documents (replacing any it had). 0 or -EIO with err set. */
static int write_documents(pyab_history_store *s, const char *id, json_t *docs, pyab_error *err)
{
    const char *p[3] = {id, NULL, NULL};
    char *summary, *manifest;
    int rc;

    if (query(s, "DELETE FROM run_documents WHERE run_id = $1", 1, p, PGRES_COMMAND_OK, NULL,
              err, "cannot replace the run's documents") < 0)
        return -EIO;
    if (!json_is_object(json_object_get(docs, "summary")) ||
        !json_is_object(json_object_get(docs, "manifest")))
        return 0;
    p[1] = summary = json_dumps(json_object_get(docs, "summary"),
                                JSON_COMPACT | JSON_REAL_PRECISION(17));
    p[2] = manifest = json_dumps(json_object_get(docs, "manifest"), JSON_COMPACT);
    rc = query(s, "INSERT INTO run_documents VALUES ($1, $2, $3)", 3, p, PGRES_COMMAND_OK, NULL,
               err, "cannot insert the run's documents");
    /* Older runs' copies are never a baseline again: the table does not grow by them. Rows
     * another writer is pruning are skipped, not waited for (it deletes them). */
    p[1] = PYAB_STR(PYAB_HISTORY_KEEP_DOCUMENTS);
    if (rc == 0)
        rc = query(s, "DELETE FROM run_documents WHERE run_id IN (SELECT d.run_id FROM"
                      " run_documents d JOIN runs r ON r.id = d.run_id WHERE r.scenario ="
                      " (SELECT scenario FROM runs WHERE id = $1) ORDER BY r.date_utc DESC,"
                      " r.id DESC OFFSET $2::bigint FOR UPDATE OF d SKIP LOCKED)", 2, p,
                   PGRES_COMMAND_OK, NULL, err, "cannot prune older documents");
    free(summary);
    free(manifest);
    return rc;
}

static int write_run(pyab_history_store *s, json_t *run, int keep_existing, pyab_error *err)
{
    static const char *const cols[] = {"scenario", "date_utc", "git_revision", "pyab_version",
                                       "results_dir", "verdict", "host"};
    const char *p[7];
    char id[32], nums[3][32];
    PGresult *r;
    json_t *m;
    size_t i;

    for (i = 0; i < 7; i++)
        p[i] = json_string_value(json_object_get(run, cols[i]));
    if (query(s, insert_run[keep_existing != 0], 7, p, PGRES_TUPLES_OK, &r, err,
            "cannot insert the run") < 0)
        return -EIO;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0; /* kept as it was */
    }
    snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    p[0] = id;
    if (query(s, "DELETE FROM metrics WHERE run_id = $1", 1, p, PGRES_COMMAND_OK, NULL, err,
            "cannot replace the run's metrics") < 0)
        return -EIO;
    json_array_foreach(json_object_get(run, "metrics"), i, m) {
        p[1] = json_string_value(json_array_get(m, 0));
        p[2] = json_string_value(json_array_get(m, 1));
        for (size_t k = 0; k < 3; k++)
            p[3 + k] = num_param(json_array_get(m, k + 2), nums[k], sizeof(nums[k]));
        if (query(s, "INSERT INTO metrics VALUES ($1, $2, $3, $4, $5, $6)", 6, p,
                PGRES_COMMAND_OK, NULL, err, "cannot insert a metric") < 0)
            return -EIO;
    }
    return write_documents(s, id, json_object_get(run, "documents"), err);
}

static int write_once(pyab_history_store *s, json_t *runs, int keep_existing, pyab_error *err)
{
    json_t *r;
    size_t i;

    s->sqlstate[0] = '\0';
    if (cmd(s, "BEGIN", err, "cannot begin") < 0)
        return -EIO;
    json_array_foreach(runs, i, r)
        if (write_run(s, r, keep_existing, err) < 0)
            goto rollback;
    if (pyab_history_midway_hook)
        pyab_history_midway_hook();
    if (cmd(s, "COMMIT", err, "cannot commit") == 0)
        return 0;
rollback:
    PQclear(PQexec(s->conn, "ROLLBACK"));
    return -EIO;
}

static int pg_write(pyab_history_store *s, json_t *runs, int keep_existing, pyab_error *err)
{
    int rc = -EIO;

    /* Two imports of overlapping runs can deadlock; the server aborts one (class 40). */
    for (int k = 0; k < WRITE_ATTEMPTS && rc < 0; k++) {
        if (k > 0 && strncmp(s->sqlstate, "40", 2) != 0)
            break;
        rc = write_once(s, runs, keep_existing, err);
    }
    return rc;
}

static json_t *col_text(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

static json_t *col_num(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null()
                                    : json_real(strtod(PQgetvalue(r, row, col), NULL));
}

static json_t *pg_read(pyab_history_store *s, const char *scenario, size_t last,
                       pyab_error *err)
{
    static const char *const cols[] = {"scenario", "date_utc", "git_revision", "pyab_version",
                                       "results_dir", "verdict", "host"};
    char limit[32];
    const char *p[2] = {scenario, NULL};
    json_t *runs, *run = NULL;
    long long prev = -1;
    PGresult *r;

    if (last) {
        snprintf(limit, sizeof(limit), "%zu", last);
        p[1] = limit;
    }
    if (query(s, "SELECT r.id, r.scenario, r.date_utc, r.git_revision, r.pyab_version,"
               " r.results_dir, r.verdict, r.host, m.arm, m.metric, m.value, m.ci_low, m.ci_high"
               " FROM (SELECT * FROM runs WHERE $1::text IS NULL OR scenario = $1"
               "  ORDER BY date_utc DESC, id DESC LIMIT $2::bigint) r"
               " LEFT JOIN metrics m ON m.run_id = r.id"
               " ORDER BY r.date_utc, r.id, m.arm, m.metric",
            2, p, PGRES_TUPLES_OK, &r, err, "cannot read the runs") < 0)
        return NULL;
    runs = json_array();
    for (int row = 0; row < PQntuples(r); row++) {
        long long id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
        if (id != prev) {
            run = json_pack("{s:I, s:[]}", "id", (json_int_t)id, "metrics");
            for (int c = 0; c < 7; c++)
                json_object_set_new(run, cols[c], col_text(r, row, c + 1));
            json_array_append_new(runs, run);
            prev = id;
        }
        if (!PQgetisnull(r, row, 8))
            json_array_append_new(json_object_get(run, "metrics"), json_pack(
                "[o, o, o, o, o]", col_text(r, row, 8), col_text(r, row, 9),
                col_num(r, row, 10), col_num(r, row, 11), col_num(r, row, 12)));
    }
    PQclear(r);
    return runs;
}

static int pg_writable(pyab_history_store *s, pyab_error *err)
{
    PGresult *r;
    int ok;

    if (query(s, "SELECT has_table_privilege('runs', 'INSERT, UPDATE')"
                 " AND has_table_privilege('metrics', 'INSERT, DELETE')"
                 " AND has_table_privilege('run_documents', 'INSERT, DELETE')"
                 " AND has_sequence_privilege('runs_id_seq', 'USAGE')",
              0, NULL, PGRES_TUPLES_OK, &r, err, "cannot check its privileges") < 0)
        return -EIO;
    ok = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!ok) {
        pyab_error_set(err, "%s: this role may read the history but not add runs to it "
                       "(INSERT and UPDATE on runs, INSERT and DELETE on metrics and "
                       "run_documents, USAGE on runs_id_seq)", s->shown);
        return -EACCES;
    }
    return 0;
}

static json_t *pg_documents(pyab_history_store *s, json_int_t run_id, pyab_error *err)
{
    char id[32];
    const char *p[1] = {id};
    json_t *out;
    PGresult *r;

    snprintf(id, sizeof(id), "%lld", (long long)run_id);
    if (query(s, "SELECT summary, manifest FROM run_documents WHERE run_id = $1", 1, p,
              PGRES_TUPLES_OK, &r, err, "cannot read the run's documents") < 0)
        return NULL;
    out = json_object();
    if (PQntuples(r) == 1) {
        json_object_set_new(out, "summary", json_loads(PQgetvalue(r, 0, 0), 0, NULL));
        json_object_set_new(out, "manifest", json_loads(PQgetvalue(r, 0, 1), 0, NULL));
    }
    PQclear(r);
    return out;
}

const pyab_history_backend pyab_history_pg = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .write = pg_write,
    .read = pg_read,
    .documents = pg_documents,
    .writable = pg_writable,
};
