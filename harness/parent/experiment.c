#include "experiment.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "ablate.h"
#include "analyze.h"
#include "budget.h"
#include "rep.h"
#include "report.h"
#include "results.h"
#include "rng.h"
#include "shard.h"
#include "table.h"
#include "trace.h"
#include "transform.h"
#include "version.h"
#include "interpreters.h"

/* Writes that readers (compare, report, history) take back in: ten significant digits. */
#define JSON_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(10))

typedef struct experiment {
    pyab_scenario *sc;
    json_t *shard; /* --shard: manifest's "shard" (shard.h), or NULL */
    const pyab_run_opts *opts;
    char *dir;
    pyab_rep_host host; /* the loop, progress and readback the reps share */
    uv_signal_t sigint, sigterm, sighup;
    int bad_input;
    json_t *reps_by_arm; /* arm name -> array of rep records */
    json_t *interpreters; /* arm name -> its child's facts (interpreters.h) */
    char *interpreter_note; /* arms differ in Python and glibc, or NULL */
} experiment;

static char *git_revision(const char *dir)
{
    char *cmd = xasprintf("git -C '%s' rev-parse HEAD 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    char line[128] = "";

    free(cmd);
    if (p == NULL)
        return NULL;
    if (fgets(line, sizeof(line), p) == NULL)
        line[0] = '\0';
    pclose(p);
    line[strcspn(line, "\n")] = '\0';
    return line[0] ? xstrdup(line) : NULL;
}

static int write_manifest(experiment *ex, pyab_error *err)
{
    json_t *m = json_object(), *arms = json_object();
    char host[256] = "";
    char *rev = git_revision(ex->sc->dir);
    char *path = pyab_path_join(ex->dir, "manifest.json");
    time_t now = time(NULL);
    char stamp[64];
    int rc;

    gethostname(host, sizeof(host) - 1);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    for (size_t i = 0; i < ex->sc->narms; i++) {
        const pyab_config *a = &ex->sc->arms[i];
        json_object_set_new(arms, a->arm, json_pack("{s:O,s:o,s:O?,s:O?}", "settings", a->json,
                                                    "effective", pyab_config_effective(a),
                                                    "readback",
                                                    json_object_get(ex->host.readback, a->arm),
                                                    "interpreter",
                                                    json_object_get(ex->interpreters, a->arm)));
    }
    if (ex->interpreter_note)
        json_object_set_new(m, "interpreter_note", json_string(ex->interpreter_note));
    json_object_set_new(m, "versions", pyab_version_json());
    json_object_set_new(m, "scenario_path", json_string(ex->sc->path));
    json_object_set_new(m, "scenario", json_incref(ex->sc->root));
    json_object_set_new(m, "arms", arms);
    json_object_set_new(m, "reps", json_integer(ex->sc->reps));
    json_object_set_new(m, "order", json_string(ex->sc->shuffle ? "shuffled" : "interleaved"));
    json_object_set_new(m, "host", json_pack("{s:i,s:s}", "cpus", (int)sysconf(_SC_NPROCESSORS_ONLN),
                                             "hostname", host));
    json_object_set_new(m, "git_revision", rev ? json_string(rev) : json_null());
    json_object_set_new(m, "started_utc", json_string(stamp));
    if (ex->shard)
        json_object_set(m, "shard", ex->shard);
    if (json_is_object(ex->opts->manifest_extra))
        json_object_update(m, ex->opts->manifest_extra);
    rc = pyab_json_write_atomic(path, m, JSON_FLAGS, err);
    free(rev);
    free(path);
    json_decref(m);
    return rc;
}

/* Per arm, the interpreter facts a reader compares side by side. New reference. */
static json_t *interpreters_brief(json_t *facts)
{
    static const char *const keys[] = {"python_short", "python_build", "gc_threshold_default",
                                       "glibc", "python_embed", "child"};
    json_t *out = json_object(), *f;
    const char *arm;

    json_object_foreach(facts, arm, f) {
        json_t *b = json_object();
        for (size_t i = 0; i < PYAB_ARRAY_LEN(keys); i++)
            json_object_set(b, keys[i], json_object_get(f, keys[i]) ?: json_null());
        json_object_set_new(out, arm, b);
    }
    return out;
}

static int write_summary(experiment *ex, const char *status, pyab_error *err)
{
    json_t *s = json_object(), *arms = json_object();
    char *path = pyab_path_join(ex->dir, "summary.json");
    int rc;

    for (size_t i = 0; i < ex->sc->narms; i++) {
        const char *name = ex->sc->arms[i].arm;
        json_object_set_new(arms, name,
                            pyab_results_aggregate(json_object_get(ex->reps_by_arm, name)));
    }
    json_object_set_new(s, "scenario", json_string(ex->sc->name));
    json_object_set_new(s, "status", json_string(status));
    json_object_set_new(s, "control", json_string(ex->sc->arms[0].arm));
    json_object_set_new(s, "arms", arms);
    json_object_set_new(s, "interpreters", interpreters_brief(ex->interpreters));
    if (ex->interpreter_note)
        json_object_set_new(s, "interpreter_note", json_string(ex->interpreter_note));
    if (ex->shard)
        json_object_set_new(s, "shard", json_sprintf("%ld/%ld", ex->opts->shard_index,
                                                     ex->opts->shard_count));
    rc = pyab_json_write_atomic(path, s, JSON_FLAGS, err);
    free(path);
    json_decref(s);
    return rc;
}

/*
 * Whether a rep's child died or hung before its hello, the message it
 * sends once the service is imported: os._exit(), a segfault, or an import
 * stuck past limits.stall_seconds (x5 while starting). Every later rep
 * would do the same, so it is bad input, as an import that raises is.
 * rep.json has "trace" (from the hello) exactly when one came. An
 * interrupted rep is the user's doing, not the service's.
 */
static int died_importing(json_t *rec)
{
    const char *outcome = json_string_value(json_object_get(rec, "outcome"));

    return outcome && (strcmp(outcome, "crashed") == 0 || strcmp(outcome, "timeout") == 0) &&
           json_object_get(rec, "trace") == NULL;
}

/* The stack faulthandler dumped into stderr.log, from its first line: borrowed, or "". */
static const char *fault_dump(json_t *rec)
{
    const char *tail = json_string_value(json_object_get(rec, "stderr_tail"));
    const char *start = tail ? strstr(tail, "Fatal Python error") : NULL;

    return start ? start : "";
}

static void import_crash_error(const char *dir, const pyab_config *arm, int rep, json_t *rec,
                               pyab_error *err)
{
    const char *dump = fault_dump(rec);
    size_t n = strlen(dump);

    while (n > 0 && dump[n - 1] == '\n')
        n--;
    pyab_error_set(err, "arm %s: the service %s while importing, before the replay started "
                   "(every rep would): %s%s%.*s\n(its output: %s/arms/%s/rep-%d/stderr.log)",
                   arm->arm,
                   strcmp(json_string_value(json_object_get(rec, "outcome")), "timeout") == 0
                       ? "hung"
                       : "died",
                   json_string_value(json_object_get(rec, "reason")) ?: "no reason",
                   n ? "\n" : "", (int)n, dump, dir, arm->arm, rep);
}

/* One rep; its record joins the arm's list that summary.json aggregates. */
static int run_rep(experiment *ex, const pyab_config *arm, int rep, pyab_error *err)
{
    json_t *rec;
    int bad_input, rc = pyab_rep_run(&ex->host, arm, rep, &rec, &bad_input, err);

    if (rc == 0 && !bad_input && died_importing(rec)) {
        import_crash_error(ex->dir, arm, rep, rec, err);
        bad_input = 1;
    }
    if (rc == 0)
        json_array_append_new(json_object_get(ex->reps_by_arm, arm->arm), rec);
    ex->bad_input |= bad_input;
    return rc;
}

static void on_signal(uv_signal_t *s, int signum)
{
    experiment *ex = s->data;

    /* The first signal stops the running rep at once (SIGTERM: the child
     * takes no more requests, lets the ones in flight end and writes what
     * it measured) and runs no further rep; a second one kills it. */
    if (ex->host.current)
        pyab_rep_kill(ex->host.current, ex->host.interrupted ? SIGKILL : SIGTERM);
    if (!ex->host.interrupted)
        pyab_progress_log(&ex->host.progress, "interrupted: stopping the running rep now and "
                          "keeping what it measured; no further reps (again to kill it)");
    ex->host.interrupted = 1;
}

/* The run order: rep by rep, arms in order (interleaved) or shuffled with the seed. */
static size_t *run_order(const pyab_scenario *sc, size_t *count)
{
    size_t n = sc->narms * (size_t)sc->reps, *order = xmalloc(n * sizeof(*order));
    uint64_t x = sc->arms[0].seed;

    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; sc->shuffle && i > 1; i--) {
        size_t j = pyab_rng_below(&x, i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    *count = n;
    return order;
}

/* The validators are the sections' own, called here so that input/ needs neither analysis/ nor nightly/. */
int pyab_experiment_validate_sections(const pyab_scenario *sc, pyab_error *err)
{
    json_t *arms = json_object_get(sc->root, "arms"), *over;
    const char *name;

    if ((sc->analysis && pyab_analyze_validate(sc->analysis, sc->path, err) < 0) ||
        pyab_budget_validate(sc->budgets, sc->path, "budgets", err) < 0 ||
        (sc->ablate && pyab_ablate_validate(sc->ablate, sc->path, sc->dir, err) < 0))
        return -EINVAL;
    json_object_foreach(arms, name, over) {
        char *bpath = xasprintf("arms.%s.budgets", name);
        int rc = pyab_budget_validate(json_object_get(over, "budgets"), sc->path, bpath, err);

        free(bpath);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * A warm-up at least as long as the planned run leaves nothing to measure:
 * refused before any rep (open loop: requests and seconds; closed loop:
 * requests, since its duration is not known in advance).
 */
static int check_warmup(const pyab_config *a, const pyab_trace *tr, const uint32_t *keep,
                        size_t n, const char *where, pyab_error *err)
{
    const char *prefix = strcmp(a->arm, "base") == 0 ? "" : "arms.";
    const char *arm = strcmp(a->arm, "base") == 0 ? "" : a->arm;
    const char *dot = arm[0] ? "." : "";
    double planned = a->load_model == PYAB_LOAD_OPEN ? (double)n * (double)a->loops
                     : a->requests ? (double)a->requests : (double)n;
    double span = n > 1 ? tr->recs[keep[n - 1]].t - tr->recs[keep[0]].t : 0;
    double seconds = a->rate > 0 ? planned / a->rate
                     : (span + (n > 1 ? span / (double)(n - 1) : 1)) * (double)a->loops / a->speed;

    if (a->warmup_requests > 0 && (double)a->warmup_requests >= planned)
        return pyab_error_set(err, "%s: key \"%s%s%swarmup.requests\": %ld is at least the planned "
                              "run (%.0f request%s): nothing would be measured after it",
                              where, prefix, arm, dot, a->warmup_requests, planned,
                              planned == 1 ? "" : "s");
    if (a->warmup_seconds > 0 && a->load_model == PYAB_LOAD_OPEN && a->warmup_seconds >= seconds)
        return pyab_error_set(err, "%s: key \"%s%s%swarmup.seconds\": %g is at least the planned "
                              "run (%.1f s): nothing would be measured after it",
                              where, prefix, arm, dot, a->warmup_seconds, seconds);
    return 0;
}

int pyab_experiment_validate(pyab_scenario *sc, pyab_error *err)
{
    if (pyab_experiment_validate_sections(sc, err) < 0)
        return -EINVAL;
    for (size_t i = 0; i < sc->narms; i++)
        if (pyab_config_check_files(&sc->arms[i], sc->path, err) < 0)
            return -EINVAL;
    for (size_t i = 0; i < sc->narms; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(sc->arms[j].trace_path, sc->arms[i].trace_path) == 0;
        if (seen)
            continue;
        pyab_trace *tr = pyab_trace_load(sc->arms[i].trace_path, err);
        if (tr == NULL)
            return -EINVAL;
        if (tr->reordered)
            pyab_log("%s: %zu line%s had a timestamp below the previous line's; replaying in "
                     "time order", tr->path, tr->reordered, PYAB_PLURAL(tr->reordered));
        /* Each arm's load.routes / exclude_routes / sample must keep something of it. */
        for (size_t j = i; j < sc->narms; j++) {
            uint32_t *keep;
            size_t n;
            if (strcmp(sc->arms[j].trace_path, sc->arms[i].trace_path) != 0)
                continue;
            char *where = sc->narms > 1 ? xasprintf("%s (arm %s)", sc->path, sc->arms[j].arm)
                                        : xstrdup(sc->path);
            int rc = pyab_transform_select(&sc->arms[j], tr, where, &keep, &n, err);
            if (rc == 0)
                rc = check_warmup(&sc->arms[j], tr, keep, n, where, err);
            free(where);
            if (rc < 0) {
                pyab_trace_destroy(tr);
                return rc;
            }
            free(keep);
        }
        pyab_trace_destroy(tr);
    }
    return 0;
}

/* results/<name>-<UTC stamp>, with -2, -3, ... when a run in the same second took it. */
static char *default_dir(const pyab_scenario *sc)
{
    char stamp[32];
    time_t now = time(NULL);
    char *dir;

    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime(&now));
    dir = xasprintf("results/%s-%s", sc->name, stamp);
    for (int k = 2; access(dir, F_OK) == 0; k++) {
        free(dir);
        dir = xasprintf("results/%s-%s-%d", sc->name, stamp, k);
    }
    return dir;
}


/*
 * Runs a loaded scenario. On return *dir_out (new string) names the results
 * folder. Returns an exit code (util.h) with err set on failure.
 */
static int run(pyab_scenario *sc, const pyab_run_opts *opts, char **dir_out, pyab_error *err)
{
    experiment ex = {.sc = sc, .opts = opts};
    size_t *order, n, from = 0;
    int rc;

    if ((rc = pyab_experiment_validate(sc, err)) < 0)
        return PYAB_EXIT_USAGE;
    ex.dir = opts->out_dir ? xstrdup(opts->out_dir) : default_dir(sc);
    switch (pyab_path_state(ex.dir)) {
    case PYAB_PATH_FULL_DIR:
        /* Results are never mixed with an earlier run's. */
        pyab_error_set(err, "%s: the results folder exists and is not empty; name a new one "
                       "with --out or remove it", ex.dir);
        free(ex.dir);
        return PYAB_EXIT_USAGE;
    case PYAB_PATH_NOT_DIR:
        pyab_error_set(err, "%s: exists and is not a folder (--out names the results folder)",
                       ex.dir);
        free(ex.dir);
        return PYAB_EXIT_USAGE;
    }
    /* Before the results folder exists: a child that will not do leaves nothing behind. */
    if ((ex.interpreters = pyab_interpreters_probe(sc, err)) == NULL) {
        free(ex.dir);
        return PYAB_EXIT_USAGE;
    }
    if (opts->before_reps && opts->before_reps(ex.dir, opts->data, err) < 0) {
        json_decref(ex.interpreters);
        free(ex.dir);
        return err->exit_code ? err->exit_code : PYAB_EXIT_INTERNAL;
    }
    *dir_out = xstrdup(ex.dir);
    if ((rc = pyab_mkdirs(ex.dir)) < 0) {
        pyab_error_set(err, "%s: cannot create the results folder: %s", ex.dir, strerror(-rc));
        json_decref(ex.interpreters);
        free(ex.dir);
        return PYAB_EXIT_USAGE;
    }
    ex.interpreter_note = pyab_interpreters_note(ex.interpreters);
    if (ex.interpreter_note && !opts->quiet)
        fprintf(stderr, "pyab: note: %s\n", ex.interpreter_note);
    ex.host.dir = ex.dir;
    ex.reps_by_arm = json_object();
    ex.host.readback = json_object();
    ex.host.analysis = sc->analysis;
    for (size_t i = 0; i < sc->narms; i++)
        json_object_set_new(ex.reps_by_arm, sc->arms[i].arm, json_array());
    uv_loop_init(&ex.host.loop);
    uv_signal_init(&ex.host.loop, &ex.sigint);
    uv_signal_init(&ex.host.loop, &ex.sigterm);
    uv_signal_init(&ex.host.loop, &ex.sighup);
    ex.sigint.data = ex.sigterm.data = ex.sighup.data = &ex;
    uv_signal_start(&ex.sigint, on_signal, SIGINT);
    uv_signal_start(&ex.sigterm, on_signal, SIGTERM);
    /* A closed terminal or ssh session: stop cleanly, as for SIGTERM. */
    uv_signal_start(&ex.sighup, on_signal, SIGHUP);
    /* Processes the service daemonises (setsid) escape the child's process
     * group; as a subreaper pyab inherits them when their parent exits, so
     * the rep's end can find and stop them (rep.c). */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pyab_progress_init(&ex.host.progress, opts->quiet);
    order = run_order(sc, &n);
    if (opts->shard_count > 0) {
        size_t to;
        pyab_shard_range(n, opts->shard_index, opts->shard_count, &from, &to);
        ex.shard = pyab_shard_manifest(sc, order, from, to, opts->shard_index,
                                       opts->shard_count);
        if (from == to)
            pyab_log("shard %ld/%ld has none of the %zu (arm, rep) pair%s: its folder only says "
                     "so", opts->shard_index, opts->shard_count, n, PYAB_PLURAL(n));
        n = to;
    }
    ex.host.runs_total = n - from;
    rc = write_manifest(&ex, err);
    for (size_t k = from; rc == 0 && k < n && !ex.host.interrupted && !ex.bad_input; k++) {
        const pyab_config *arm = &sc->arms[order[k] % sc->narms];
        rc = run_rep(&ex, arm, (int)(order[k] / sc->narms) + 1, err);
        ex.host.runs_done++;
        if (rc == 0)
            rc = write_summary(&ex, ex.host.interrupted ? "interrupted" : "running", err);
    }
    if (rc == 0)
        rc = write_manifest(&ex, err);
    if (rc == 0)
        rc = write_summary(&ex, ex.host.interrupted ? "interrupted" : ex.bad_input ? "failed" : "complete",
                           err);
    else {
        /* pyab's own failure mid-way: the summary still says so, not "running". */
        pyab_error ignored;
        write_summary(&ex, "failed", &ignored);
    }
    free(order);
    uv_close((uv_handle_t *)&ex.sigint, NULL);
    uv_close((uv_handle_t *)&ex.sigterm, NULL);
    uv_close((uv_handle_t *)&ex.sighup, NULL);
    uv_run(&ex.host.loop, UV_RUN_DEFAULT);
    uv_loop_close(&ex.host.loop);
    json_decref(ex.reps_by_arm);
    json_decref(ex.host.readback);
    json_decref(ex.interpreters);
    free(ex.interpreter_note);
    json_decref(ex.shard);
    free(ex.dir);
    if (rc < 0)
        return err->exit_code ? err->exit_code : PYAB_EXIT_INTERNAL;
    if (ex.bad_input)
        return PYAB_EXIT_USAGE;
    return ex.host.interrupted ? 130 : PYAB_EXIT_OK;
}

int pyab_experiment_analyse(const char *dir, const pyab_run_opts *opts)
{
    pyab_error err = {0};
    char *path = pyab_path_join(dir, "summary.json");
    json_t *summary;
    int rc = 0, reported = 0;

    if (access(path, F_OK) != 0) {
        free(path);
        return 0;
    }
    if (pyab_analyze_dir(dir, &err) < 0) {
        fprintf(stderr, "pyab: analysis: %s\n", err.text);
        rc = -EIO;
    } else if (opts->after_analysis && opts->after_analysis(dir, opts->data, &err) < 0) {
        fprintf(stderr, "pyab: %s\n", err.text);
        rc = -EIO;
    }
    summary = json_load_file(path, 0, NULL);
    if (summary && !opts->quiet) {
        pyab_results_print(stdout, summary);
        pyab_table_print(stdout, summary);
    }
    json_decref(summary);
    if (opts->report && (reported = pyab_report_write(dir, 0, &err) == 0) == 0) {
        fprintf(stderr, "pyab: report: %s\n", err.text);
        rc = -EIO;
    }
    /* The report is named only when it was written (a full disk leaves none). */
    if (!opts->quiet)
        printf("\nresults: %s%s\n", dir, reported ? " (report.html)"
                                     : opts->report ? " (no report.html: writing it failed)" : "");
    free(path);
    return rc;
}

int pyab_experiment_run_all(pyab_scenario *sc, const pyab_run_opts *opts, char **dir_out)
{
    pyab_error err = {0};
    int code;

    *dir_out = NULL;
    code = run(sc, opts, dir_out, &err);
    if (code == PYAB_EXIT_USAGE || code == PYAB_EXIT_INTERNAL)
        fprintf(stderr, "pyab: %s\n", err.text);
    /* After bad input (a service or stand-in that does not import) there is
     * nothing to analyse: the folder only records the failure. */
    if (*dir_out && code == PYAB_EXIT_USAGE && access(*dir_out, F_OK) == 0) {
        if (!opts->quiet)
            printf("\nresults: %s (the failed attempt)\n", *dir_out);
    }
    /* A shard's arms are partial: pyab merge analyses the joined folder. */
    else if (*dir_out && opts->shard_count > 0) {
        if (!opts->quiet)
            printf("\nresults: %s (shard %ld/%ld, partial: join the shards' folders with "
                   "pyab merge OUT_DIR DIR...)\n", *dir_out, opts->shard_index,
                   opts->shard_count);
    }
    else if (*dir_out && code != PYAB_EXIT_INTERNAL && pyab_experiment_analyse(*dir_out, opts) < 0)
        code = PYAB_EXIT_INTERNAL;
    return code;
}

int pyab_experiment_take_flag(pyab_run_opts *opts, int argc, char **argv, int *i)
{
    const char *a = argv[*i];

    if (strcmp(a, "--out") == 0 && *i + 1 < argc)
        opts->out_dir = argv[++*i];
    else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0)
        opts->quiet = 1;
    else if (strcmp(a, "--no-report") == 0)
        opts->report = 0;
    else if (strcmp(a, "--shard") == 0 && *i + 1 < argc) {
        if (pyab_shard_parse(argv[++*i], &opts->shard_index, &opts->shard_count) < 0) {
            fprintf(stderr, "pyab: --shard takes I/N with 1 <= I <= N (e.g. --shard 2/3), not "
                            "'%s'\n", argv[*i]);
            return -1;
        }
    } else
        return 0;
    return 1;
}
