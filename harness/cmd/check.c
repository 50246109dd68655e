/*
 * check: `pyab check`, the nightly regression gate. Runs scenarios (all of
 * them, or a shard), holds each arm to its budgets (budget.h) and to a
 * baseline run (regress.h), records the figures in the history database
 * (history.h), and writes check.json and a JUnit file (junit.h).
 *
 * Exit codes: 0 every check passed, 1 a budget or regression check failed,
 * 2 bad input (a scenario, a flag, a service that will not import), 3
 * pyab's own failure, 130 interrupted. All scenarios are validated before
 * the first one runs, so a typo costs seconds, not a night.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"
#include "cmds.h"
#include "experiment.h"
#include "history.h"
#include "junit.h"
#include "progress.h"
#include "regress.h"
#include "scenario.h"

#define DEFAULT_HISTORY "results/history.sqlite"
#define TREND_RUNS 30

typedef struct check_opts {
    const char *baseline, *history, *junit, *out;
    int quiet, no_history;
    long shard_i, shard_n;
} check_opts;

/* One scenario's check, handed to the after_analysis hook. */
typedef struct scen_check {
    const check_opts *o;
    pyab_scenario *sc;
    pyab_history *hist;
    json_t *entry; /* the scenario's entry of check.json (owned) */
} scen_check;

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "pyab check: %s\n", why);
    fprintf(stderr, "usage: pyab check SCENARIO... [--baseline RESULTS_DIR | --history DB] "
                    "[--no-history] [--junit FILE] [--out DIR] [--shard I/N] [--quiet]\n");
    return PYAB_EXIT_USAGE;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static json_t *load_json(const char *dir, const char *name)
{
    char *p = pyab_path_join(dir, name);
    json_t *j = json_load_file(p, 0, NULL);
    free(p);
    return j;
}

/*
 * The baseline folder for a scenario: --baseline's (regress.h), else the
 * history's; a baseline another machine ran is copied from the history into
 * DIR/baseline/, so the check's folder shows what it was compared with.
 */
static char *find_baseline(scen_check *c, const char *dir)
{
    char *why = NULL, *out, *cache;

    if (c->o->baseline == NULL && c->hist == NULL)
        return NULL;
    if (c->o->baseline == NULL) {
        cache = pyab_path_join(dir, "baseline");
        out = pyab_history_baseline(c->hist, c->sc->name, dir, cache);
        free(cache);
        return out;
    }
    out = pyab_regress_baseline_dir(c->o->baseline, c->sc->name, &why);
    free(why); /* checked before the first run (validate_all); only a folder changed since lands here */
    return out;
}

static void add_check(json_t *checks, const char *arm, json_t *c)
{
    json_object_set_new(c, "arm", json_string(arm));
    json_array_append_new(checks, c);
}

static json_t *arm_checks(scen_check *c, json_t *summary, json_t *base)
{
    json_t *checks = json_array(), *arms = json_object_get(summary, "arms");
    size_t i;
    json_t *c1;

    for (size_t k = 0; k < c->sc->narms; k++) {
        const pyab_config *cfg = &c->sc->arms[k];
        json_t *arm = json_object_get(arms, cfg->arm), *budgets, *found;
        budgets = json_object_get(cfg->json, "budgets");
        if (arm == NULL)
            continue;
        if (budgets) {
            found = pyab_budget_evaluate(budgets, arm);
            json_array_foreach(found, i, c1)
                add_check(checks, cfg->arm, json_incref(c1));
            json_decref(found);
        }
        json_t *base_arm = json_object_get(json_object_get(base, "arms"), cfg->arm);
        if (base && base_arm == NULL) {
            add_check(checks, cfg->arm, json_pack("{s:s, s:s, s:s, s:s}", "kind", "regression",
                      "name", "baseline", "status", "skip", "message",
                      "the baseline has no arm of this name"));
        } else if (base_arm) {
            found = pyab_regress_arm(arm, base_arm);
            json_array_foreach(found, i, c1)
                add_check(checks, cfg->arm, json_incref(c1));
            json_decref(found);
        }
    }
    return checks;
}

static const char *checks_status(json_t *checks)
{
    size_t i;
    json_t *c;

    json_array_foreach(checks, i, c) {
        const char *st = json_string_value(json_object_get(c, "status"));
        if (st && (strcmp(st, "fail") == 0 || strcmp(st, "error") == 0))
            return "fail";
    }
    return "pass";
}

/* History: append this run, then put its trend beside the results for the report. */
static int record_history(scen_check *c, const char *dir, json_t *summary, const char *verdict,
                          pyab_error *err)
{
    json_t *manifest = load_json(dir, "manifest.json"), *trend;
    char *path;
    int rc;

    rc = pyab_history_append(c->hist, summary, manifest, dir, verdict, err);
    json_decref(manifest);
    if (rc < 0)
        return rc;
    if ((trend = pyab_history_trend(c->hist, c->sc->name, TREND_RUNS, err)) == NULL)
        return -EIO;
    path = pyab_path_join(dir, "history.json");
    rc = pyab_json_write_atomic(path, trend, JSON_INDENT(1) | PYAB_HISTORY_JSON_PRECISION, err);
    json_object_set(summary, "history", trend);
    json_decref(trend);
    free(path);
    return rc;
}

/*
 * The checks of a complete run against its budgets and baseline. An
 * incomplete one (interrupted, or a rep not ok) is not judged: its status
 * is "error" and its "error" says why, since 1 rep of 3 held to a baseline
 * of 3 would pass or fail by chance.
 */
static json_t *judge(scen_check *c, const char *dir, json_t *summary, char **base_dir)
{
    json_t *manifest = load_json(dir, "manifest.json"), *base = NULL, *checks;
    char *why = pyab_history_incomplete(summary, manifest);

    json_decref(manifest);
    *base_dir = NULL;
    if (why) {
        json_object_set_new(c->entry, "error", json_sprintf("not judged: %s", why));
        free(why);
        return json_array();
    }
    *base_dir = find_baseline(c, dir);
    if (*base_dir && (base = load_json(*base_dir, "summary.json")) == NULL) {
        free(*base_dir);
        *base_dir = NULL;
    }
    checks = arm_checks(c, summary, base);
    /* Only the history may have no baseline yet; an explicit one that stopped matching is an error. */
    if (*base_dir == NULL && (c->o->baseline || !c->o->no_history))
        add_check(checks, c->sc->arms[0].arm, json_pack("{s:s, s:s, s:s, s:s}", "kind",
                  "regression", "name", "baseline", "status", c->o->baseline ? "error" : "skip",
                  "message", c->o->baseline ? "the --baseline folder no longer holds complete "
                  "results of this scenario" : "no earlier complete passing run in the history"));
    json_decref(base);
    return checks;
}

/* after_analysis hook: budgets, regression, history, all into summary.json before the report. */
static int on_analysed(const char *dir, void *data, pyab_error *err)
{
    scen_check *c = data;
    json_t *summary = load_json(dir, "summary.json"), *checks;
    char *base_dir, *path;
    const char *status;
    int rc = 0;

    if (summary == NULL)
        return pyab_error_internal(err, "%s: cannot read summary.json after analysis", dir);
    checks = judge(c, dir, summary, &base_dir);
    status = json_object_get(c->entry, "error") ? "error" : checks_status(checks);
    json_object_set_new(c->entry, "checks", checks);
    json_object_set_new(c->entry, "baseline", base_dir ? json_string(base_dir) : json_null());
    json_object_set_new(c->entry, "status", json_string(status));
    json_object_set_new(summary, "check", json_pack("{s:O, s:O, s:O}", "status",
                        json_object_get(c->entry, "status"), "baseline",
                        json_object_get(c->entry, "baseline"), "checks", checks));
    if (c->hist)
        rc = record_history(c, dir, summary, status, err);
    path = pyab_path_join(dir, "summary.json");
    if (rc == 0)
        rc = pyab_json_write_atomic(path, summary, JSON_INDENT(1) | JSON_REAL_PRECISION(10), err);
    free(path);
    free(base_dir);
    json_decref(summary);
    return rc;
}

/*
 * A scenario's result and its table of checks. With --quiet, as `pyab run
 * --quiet` prints no tables, a passing scenario prints nothing and a
 * failing one only its failed checks.
 */
static void print_entry(json_t *e, int quiet)
{
    json_t *c;
    size_t i;
    const char *status = json_string_value(json_object_get(e, "status"));

    if (quiet && strcmp(status, "pass") == 0)
        return;
    printf("%s %s", strcmp(status, "pass") == 0 ? "PASS" : strcmp(status, "fail") == 0 ? "FAIL"
                    : strcmp(status, "skip") == 0 ? "SKIP" : "ERROR",
           json_string_value(json_object_get(e, "scenario")));
    if (json_is_string(json_object_get(e, "baseline")))
        printf("  (baseline %s)", json_string_value(json_object_get(e, "baseline")));
    printf("\n");
    if (json_is_string(json_object_get(e, "error")))
        printf("  error: %s\n", json_string_value(json_object_get(e, "error")));
    if (json_is_string(json_object_get(e, "message")))
        printf("  %s\n", json_string_value(json_object_get(e, "message")));
    json_array_foreach(json_object_get(e, "checks"), i, c) {
        const char *st = json_string_value(json_object_get(c, "status"));
        if (quiet && strcmp(st, "fail") != 0 && strcmp(st, "error") != 0)
            continue;
        printf("  %-5s %-12s %-10s %-32s %s\n", st,
               json_string_value(json_object_get(c, "arm")),
               json_string_value(json_object_get(c, "kind")),
               json_string_value(json_object_get(c, "name")),
               json_string_value(json_object_get(c, "message")));
    }
}

static double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Why a run in `dir` did not complete, from its summary and manifest: new string or NULL. */
static json_t *folder_reason(const char *dir)
{
    json_t *summary = load_json(dir, "summary.json"), *manifest = load_json(dir, "manifest.json");
    char *why = summary && manifest ? pyab_history_incomplete(summary, manifest) : NULL;
    json_t *out = why ? json_string(why) : NULL;

    free(why);
    json_decref(summary);
    json_decref(manifest);
    return out;
}

/* Runs one scenario under the check; returns its exit code (0 ran; 2, 3, 130 as for run). */
static int check_one(const check_opts *o, pyab_scenario *sc, pyab_history *hist, json_t *entry)
{
    scen_check c = {.o = o, .sc = sc, .hist = hist, .entry = entry};
    char *out = pyab_path_join(o->out, sc->name), *dir = NULL;
    pyab_run_opts ro = {.out_dir = out, .quiet = o->quiet, .report = 1,
                        .after_analysis = on_analysed, .data = &c};
    double t0 = now_wall();
    int code;

    pyab_progress_set_label(sc->name);
    code = pyab_experiment_run_all(sc, &ro, &dir);
    pyab_progress_set_label(NULL);
    json_object_set_new(entry, "results_dir", json_string(out));
    json_object_set_new(entry, "duration_s", json_real(now_wall() - t0));
    if (code == PYAB_EXIT_USAGE || code == PYAB_EXIT_INTERNAL || code == 130) {
        /* on_analysed's reason (a rep's outcome and message) beats a generic one; when
         * the analysis did not run (a failed attempt), the folder still says why. */
        json_t *why = json_object_get(entry, "error");
        if (why == NULL)
            json_object_set_new(entry, "error", folder_reason(out));
        why = json_object_get(entry, "error");
        json_object_set_new(entry, "status", json_string("error"));
        json_object_set_new(entry, "error", json_sprintf("%s%s%s",
            code == 130 ? "interrupted" : code == PYAB_EXIT_USAGE
                ? "the run stopped on bad input (exit 2)" : "pyab failed (exit 3)",
            why ? "; " : "; see pyab's messages on stderr",
            why ? json_string_value(why) : ""));
    } else if (json_object_get(entry, "checks") == NULL) {
        json_object_set_new(entry, "status", json_string("error"));
        json_object_set_new(entry, "error", json_string("no analysed results"));
        code = PYAB_EXIT_INTERNAL;
    }
    free(dir);
    free(out);
    return code;
}

static int parse_shard(const char *s, check_opts *o)
{
    char *slash = strchr(s, '/'), *a;
    int ok;

    if (slash == NULL)
        return -EINVAL;
    a = xstrndup(s, (size_t)(slash - s));
    ok = pyab_parse_long(a, &o->shard_i) == 0 && pyab_parse_long(slash + 1, &o->shard_n) == 0 &&
         o->shard_n >= 1 && o->shard_i >= 1 && o->shard_i <= o->shard_n;
    free(a);
    return ok ? 0 : -EINVAL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The scenarios of this shard: the arguments sorted by path and deduplicated,
 * the k-th (from 0) going to shard k % N + 1. Every shard given the same
 * list agrees on the split, whatever order the shell listed them in.
 */
static size_t select_shard(char **paths, size_t n, const check_opts *o)
{
    size_t m = 0, k = 0;

    qsort(paths, n, sizeof(*paths), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(paths[i], paths[i - 1]) == 0)
            continue;
        if ((long)(k++ % (size_t)o->shard_n) + 1 == o->shard_i)
            paths[m++] = paths[i];
    }
    return m;
}

static int parse_args(int argc, char **argv, check_opts *o, char **paths, size_t *n)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--baseline") == 0 && has)
            o->baseline = argv[++i];
        else if (strcmp(a, "--history") == 0 && has)
            o->history = argv[++i];
        else if (strcmp(a, "--junit") == 0 && has)
            o->junit = argv[++i];
        else if (strcmp(a, "--out") == 0 && has)
            o->out = argv[++i];
        else if (strcmp(a, "--shard") == 0 && has) {
            if (parse_shard(argv[++i], o) < 0)
                return usage("--shard takes I/N with 1 <= I <= N (e.g. --shard 2/4)");
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0)
            o->quiet = 1;
        else if (strcmp(a, "--no-history") == 0)
            o->no_history = 1;
        else if (a[0] == '-') {
            char *why = xasprintf("unknown option or missing value: %s", a);
            usage(why);
            free(why);
            return PYAB_EXIT_USAGE;
        } else
            paths[(*n)++] = argv[i];
    }
    if (*n == 0)
        return usage("no scenario given");
    if (o->no_history && o->history)
        return usage("--history and --no-history exclude each other");
    if (o->baseline && !is_dir(o->baseline)) {
        fprintf(stderr, "pyab check: --baseline %s: not a results folder\n", o->baseline);
        return PYAB_EXIT_USAGE;
    }
    return 0;
}

/* The "name" of a scenario file that failed to load, else its path. New string. */
static char *name_of(const char *path)
{
    json_t *root = json_load_file(path, 0, NULL);
    const char *name = json_string_value(json_object_get(root, "name"));
    char *out = xstrdup(name ? name : path);

    json_decref(root);
    return out;
}

/*
 * Loads every selected scenario and its traces before any runs, and gives
 * each its entry of check.json. Names must be unique (they name the
 * folders), and an explicit --baseline must hold each one's results. Every problem is found, not only the first: a bad scenario's
 * entry has status "error" and the message, naming file, line and key.
 * Returns how many are bad.
 */
static size_t validate_all(char **paths, size_t n, pyab_scenario **scs, json_t *scenarios,
                           const char *baseline)
{
    size_t bad = 0;

    for (size_t i = 0; i < n; i++) {
        pyab_error err = {0};
        char *name = NULL, *why = NULL;
        if ((scs[i] = pyab_scenario_load(paths[i], &err)) == NULL ||
            pyab_experiment_validate(scs[i], &err) < 0)
            why = xstrdup(err.text);
        for (size_t k = 0; why == NULL && k < i; k++)
            if (scs[k] && strcmp(scs[k]->name, scs[i]->name) == 0)
                why = xasprintf("%s and %s are both named \"%s\" (names must be unique in one "
                                "check)", paths[k], paths[i], scs[i]->name);
        if (why == NULL && baseline)
            free(pyab_regress_baseline_dir(baseline, scs[i]->name, &why));
        name = scs[i] ? xstrdup(scs[i]->name) : name_of(paths[i]);
        json_t *entry = json_pack("{s:s, s:s}", "scenario", name, "path",
                                  scs[i] ? scs[i]->path : paths[i]);
        if (why) {
            fprintf(stderr, "pyab check: %s\n", why);
            json_object_set_new(entry, "status", json_string("error"));
            json_object_set_new(entry, "error", json_string(why));
            json_object_set_new(entry, "checks", json_array());
            bad++;
        }
        json_array_append_new(scenarios, entry);
        free(name);
        free(why);
    }
    return bad;
}

/* Marks the scenarios with no status (kept from running by a bad one or an interrupt) skipped. */
static void mark_not_run(json_t *scenarios, const char *why)
{
    json_t *e;
    size_t i;

    json_array_foreach(scenarios, i, e) {
        if (json_object_get(e, "status"))
            continue;
        json_object_set_new(e, "status", json_string("skip"));
        json_object_set_new(e, "message", json_string(why));
        json_object_set_new(e, "checks", json_array());
    }
}

static char *default_out(void)
{
    char stamp[32];
    time_t now = time(NULL);

    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime(&now));
    return xasprintf("results/check-%s", stamp);
}

static int worst(int a, int b)
{
    static const int rank[] = {0, 1, 3, 4}; /* ok < fail < usage < internal; 130 above all */
    int ra = a == 130 ? 5 : rank[a], rb = b == 130 ? 5 : rank[b];
    return ra >= rb ? a : b;
}

/* Writes check.json and the JUnit file(s). */
static int write_outputs(const check_opts *o, json_t *report)
{
    pyab_error err = {0};
    char *p = pyab_path_join(o->out, "check.json");
    int rc = pyab_json_write_atomic(p, report, JSON_INDENT(1), &err);
    char *junit = pyab_path_join(o->out, "junit.xml");

    if (rc == 0 && (rc = pyab_junit_write(junit, report, &err)) == 0 && o->junit)
        rc = pyab_junit_write(o->junit, report, &err);
    if (rc < 0 && err.text[0])
        fprintf(stderr, "pyab check: %s\n", err.text);
    free(p);
    free(junit);
    return rc;
}

static int check_outputs(const check_opts *o, pyab_error *err)
{
    int state = pyab_path_state(o->out);
    char *dir;
    int rc = 0;

    if (state == PYAB_PATH_FULL_DIR)
        return pyab_error_set(err, "%s: the results folder exists and is not empty; name a new "
                              "one with --out or remove it", o->out);
    if (state == PYAB_PATH_NOT_DIR)
        return pyab_error_set(err, "%s: exists and is not a folder (--out names the results "
                              "folder)", o->out);
    if (o->junit == NULL)
        return 0;
    if (pyab_path_state(o->junit) != PYAB_PATH_MISSING &&
        pyab_path_state(o->junit) != PYAB_PATH_NOT_DIR)
        return pyab_error_set(err, "--junit %s: is a folder, not a file", o->junit);
    dir = pyab_path_dirname(o->junit);
    state = pyab_path_state(dir);
    if (state == PYAB_PATH_MISSING || state == PYAB_PATH_NOT_DIR || access(dir, W_OK) != 0)
        rc = pyab_error_set(err, "--junit %s: its folder %s does not exist or cannot be "
                            "written", o->junit, dir);
    free(dir);
    return rc;
}

int pyab_cmd_check(int argc, char **argv)
{
    check_opts o = {.shard_i = 1, .shard_n = 1};
    char **paths = xcalloc((size_t)argc + 1, sizeof(char *)), *out = NULL;
    pyab_scenario **scs = NULL;
    pyab_history *hist = NULL;
    pyab_error err = {0};
    json_t *report = NULL, *scenarios;
    size_t n = 0, bad;
    int code;

    if ((code = parse_args(argc, argv, &o, paths, &n)) != 0)
        goto out;
    n = select_shard(paths, n, &o);
    scs = xcalloc(n + 1, sizeof(*scs));
    if (o.out == NULL)
        o.out = out = default_out();
    /* Where the results go is checked before anything runs: an earlier
     * check's files are never overwritten, and a bad path costs no run. */
    if (check_outputs(&o, &err) < 0) {
        fprintf(stderr, "pyab check: %s\n", err.text);
        code = PYAB_EXIT_USAGE;
        goto out;
    }
    scenarios = json_array();
    report = json_pack("{s:s, s:o, s:o}", "out", o.out, "shard",
                       o.shard_n > 1 ? json_sprintf("%ld/%ld", o.shard_i, o.shard_n) : json_null(),
                       "scenarios", scenarios);
    /* A bad scenario stops the check before anything runs, with check.json and
     * JUnit saying which and why, so CI shows the message and not only an exit code. */
    if ((bad = validate_all(paths, n, scs, scenarios, o.baseline)) > 0) {
        char *why = xasprintf("not run: %zu scenario%s of this check failed validation", bad,
                              bad == 1 ? "" : "s");
        mark_not_run(scenarios, why);
        free(why);
        for (size_t i = 0; i < n; i++)
            print_entry(json_array_get(scenarios, i), o.quiet);
        code = PYAB_EXIT_USAGE;
        goto finish;
    }
    if (!o.no_history && ((hist = pyab_history_open(
            o.history ? o.history : pyab_history_default(DEFAULT_HISTORY), &err)) == NULL ||
                          pyab_history_writable(hist, &err) < 0)) {
        fprintf(stderr, "pyab check: %s\n", err.text);
        code = err.exit_code;
        goto out;
    }
    if (n == 0 && !o.quiet)
        printf("shard %ld/%ld has no scenarios\n", o.shard_i, o.shard_n);
    for (size_t i = 0; i < n && code != 130; i++) {
        json_t *entry = json_array_get(scenarios, i);
        int rc = check_one(&o, scs[i], hist, entry);
        print_entry(entry, o.quiet);
        if (rc == PYAB_EXIT_OK && strcmp(json_string_value(json_object_get(entry, "status")),
                                         "pass") != 0)
            rc = PYAB_EXIT_FAIL;
        code = worst(code, rc);
    }
    mark_not_run(scenarios, "not run: the check was interrupted");
finish:
    json_object_set_new(report, "exit_code", json_integer(code));
    if (pyab_mkdirs(o.out) < 0 || write_outputs(&o, report) < 0)
        code = worst(code, PYAB_EXIT_INTERNAL);
    if (!o.quiet || code != 0)
        printf("check: %s (exit %d); %s/check.json, %s\n", code == 0 ? "passed" : "FAILED", code,
               o.out, o.junit ? o.junit : "junit.xml");
out:
    for (size_t i = 0; scs && i < n; i++)
        pyab_scenario_destroy(scs[i]);
    free(scs);
    free(paths);
    free(out);
    json_decref(report);
    pyab_history_close(hist);
    return code;
}
