/*
 * histcmd: `pyab history` (a scenario's trend per metric, with its change
 * points) and `pyab merge` (one check.json, JUnit file and history
 * database from the output folders of several `pyab check --shard` runs).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "history.h"
#include "junit.h"

#define DEFAULT_HISTORY "results/history.sqlite"

static void print_metric(FILE *f, json_t *runs, const char *metric, json_t *m)
{
    json_t *vals = json_object_get(m, "values"), *cp;
    size_t n = json_array_size(vals), k = 0, i;
    double first = NAN, last = NAN, lo = INFINITY, hi = -INFINITY;

    for (i = 0; i < n; i++) {
        json_t *v = json_array_get(vals, i);
        if (!json_is_number(v))
            continue;
        double x = json_number_value(v);
        if (k++ == 0)
            first = x;
        last = x;
        lo = fmin(lo, x);
        hi = fmax(hi, x);
    }
    fprintf(f, "  %-16s %3zu runs  first %-10.4g last %-10.4g min %-10.4g max %-10.4g", metric, k,
            first, last, lo, hi);
    fprintf(f, "%s\n", json_array_size(json_object_get(m, "change_points")) > 0 ? ""
                       : pyab_history_no_change_label(metric, vals));
    json_array_foreach(json_object_get(m, "change_points"), i, cp) {
        json_t *run = json_array_get(runs, (size_t)json_integer_value(json_object_get(cp, "run")));
        const char *rev = json_string_value(json_object_get(run, "git_revision"));
        fprintf(f, "    CHANGE at run %lld (%s, revision %.12s): %.4g -> %.4g (%+.4g)\n",
                (long long)json_integer_value(json_object_get(cp, "run")) + 1,
                json_string_value(json_object_get(run, "date_utc")), rev ? rev : "unknown",
                json_number_value(json_object_get(cp, "before")),
                json_number_value(json_object_get(cp, "after")),
                json_number_value(json_object_get(cp, "delta")));
    }
}

void pyab_history_print(FILE *f, json_t *trend)
{
    json_t *runs = json_object_get(trend, "runs"), *a, *m;
    const char *arm, *metric;

    fprintf(f, "history of %s: %zu runs", json_string_value(json_object_get(trend, "scenario")),
            json_array_size(runs));
    if (json_array_size(runs) > 0)
        fprintf(f, " from %s to %s",
                json_string_value(json_object_get(json_array_get(runs, 0), "date_utc")),
                json_string_value(json_object_get(
                    json_array_get(runs, json_array_size(runs) - 1), "date_utc")));
    fprintf(f, "\n");
    json_object_foreach(json_object_get(trend, "arms"), arm, a) {
        fprintf(f, "arm %s\n", arm);
        json_object_foreach(a, metric, m)
            print_metric(f, runs, metric, m);
    }
}

/* A scenario file's name, or the argument itself taken as a name. New string. */
static char *scenario_name(const char *arg)
{
    struct stat st;
    json_t *root;
    char *name;

    if (stat(arg, &st) != 0 || !S_ISREG(st.st_mode))
        return xstrdup(arg);
    root = json_load_file(arg, 0, NULL);
    name = json_is_string(json_object_get(root, "name"))
               ? xstrdup(json_string_value(json_object_get(root, "name")))
               : NULL;
    json_decref(root);
    return name;
}

static int history_usage(void)
{
    fprintf(stderr, "usage: pyab history SCENARIO [--db DB] [--last N] [--json]\n");
    return PYAB_EXIT_USAGE;
}

int pyab_cmd_history(int argc, char **argv)
{
    const char *db = DEFAULT_HISTORY, *arg = NULL;
    long last = 30;
    int as_json = 0, code = PYAB_EXIT_OK;
    pyab_error err = {0};
    pyab_history *h;
    json_t *trend;
    char *name;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "--last") == 0 && i + 1 < argc) {
            if (pyab_parse_long(argv[++i], &last) < 0 || last < 1)
                return history_usage();
        } else if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (argv[i][0] == '-' || arg)
            return history_usage();
        else
            arg = argv[i];
    }
    if (arg == NULL)
        return history_usage();
    if (access(db, R_OK) != 0) {
        fprintf(stderr, "pyab history: %s: no history database (pyab run and pyab check write one)\n", db);
        return PYAB_EXIT_USAGE;
    }
    if ((name = scenario_name(arg)) == NULL) {
        fprintf(stderr, "pyab history: %s: not a scenario file with a \"name\"\n", arg);
        return PYAB_EXIT_USAGE;
    }
    if ((h = pyab_history_open(db, &err)) == NULL ||
        (trend = pyab_history_trend(h, name, (size_t)last, &err)) == NULL) {
        fprintf(stderr, "pyab history: %s\n", err.text);
        code = err.exit_code;
    } else {
        if (json_array_size(json_object_get(trend, "runs")) == 0) {
            /* A typo in the name must not pass for an empty history in a script. */
            fprintf(stderr, "pyab history: no runs of scenario '%s' in %s\n", name, db);
            code = PYAB_EXIT_USAGE;
        } else if (as_json) {
            json_dumpf(trend, stdout, JSON_INDENT(1) | PYAB_HISTORY_JSON_PRECISION);
            printf("\n");
        } else {
            pyab_history_print(stdout, trend);
        }
        json_decref(trend);
    }
    pyab_history_close(h);
    free(name);
    return code;
}

static int merge_usage(void)
{
    fprintf(stderr, "usage: pyab merge OUT_DIR IN_DIR... [--junit FILE]\n"
                    "  IN_DIR: the --out folder of a `pyab check` (check.json, history.sqlite)\n");
    return PYAB_EXIT_USAGE;
}

/* Appends IN_DIR's check.json scenarios to `into`. 0, or an exit code. */
static int merge_report(const char *in, json_t *into)
{
    char *p = pyab_path_join(in, "check.json");
    json_error_t jerr;
    json_t *r = json_load_file(p, 0, &jerr), *s;
    size_t i;
    int code = 0;

    if (r == NULL || !json_is_array(json_object_get(r, "scenarios"))) {
        fprintf(stderr, "pyab merge: %s: %s\n", p, r ? "no \"scenarios\" list" : jerr.text);
        code = PYAB_EXIT_USAGE;
    } else {
        json_array_foreach(json_object_get(r, "scenarios"), i, s) {
            json_object_set_new(s, "merged_from", json_string(in));
            json_array_append(into, s);
        }
    }
    json_decref(r);
    free(p);
    return code;
}

static int merged_exit(json_t *scenarios)
{
    json_t *s;
    size_t i;
    int code = PYAB_EXIT_OK;

    json_array_foreach(scenarios, i, s) {
        const char *st = json_string_value(json_object_get(s, "status"));
        if (st && strcmp(st, "error") == 0)
            return PYAB_EXIT_USAGE;
        if (st == NULL || strcmp(st, "pass") != 0)
            code = PYAB_EXIT_FAIL;
    }
    return code;
}

int pyab_cmd_merge(int argc, char **argv)
{
    const char *out = NULL, *junit = NULL;
    json_t *scenarios = json_array(), *report;
    pyab_error err = {0};
    pyab_history *h = NULL;
    char *db = NULL, *text, *p;
    int code = 0, nin = 0, rc;

    for (int i = 1; i < argc && code == 0; i++) {
        if (strcmp(argv[i], "--junit") == 0 && i + 1 < argc)
            junit = argv[++i];
        else if (argv[i][0] == '-')
            code = merge_usage();
        else if (out == NULL)
            out = argv[i];
        else if (nin++, (code = merge_report(argv[i], scenarios)) == 0) {
            char *in_db = pyab_path_join(argv[i], "history.sqlite");
            if (access(in_db, R_OK) == 0) {
                if (h == NULL && (h = pyab_history_open(
                        db = pyab_path_join(out, "history.sqlite"), &err)) == NULL)
                    code = err.exit_code;
                else if (pyab_history_import(h, in_db, &err) < 0)
                    code = err.exit_code;
                if (code)
                    fprintf(stderr, "pyab merge: %s\n", err.text);
            }
            free(in_db);
        }
    }
    if (code == 0 && (out == NULL || nin == 0))
        code = merge_usage();
    if (code != 0)
        goto done;
    report = json_pack("{s:s, s:O}", "out", out, "scenarios", scenarios);
    json_object_set_new(report, "exit_code", json_integer(merged_exit(scenarios)));
    p = pyab_path_join(out, "check.json");
    text = json_dumps(report, JSON_INDENT(1));
    if ((rc = pyab_mkdirs(out)) < 0 || (rc = pyab_file_write_atomic(p, text, strlen(text))) < 0) {
        fprintf(stderr, "pyab merge: %s: cannot write: %s\n", p, strerror(-rc));
        code = PYAB_EXIT_INTERNAL;
    }
    free(p);
    free(text);
    p = pyab_path_join(out, "junit.xml");
    if (code == 0 && (pyab_junit_write(p, report, &err) < 0 ||
                      (junit && pyab_junit_write(junit, report, &err) < 0))) {
        fprintf(stderr, "pyab merge: %s\n", err.text);
        code = PYAB_EXIT_INTERNAL;
    }
    free(p);
    if (code == 0) {
        code = merged_exit(scenarios);
        printf("merged %zu scenarios from %d folders into %s: %s\n", json_array_size(scenarios),
               nin, out, code == 0 ? "all passed" : "FAILED");
    }
    json_decref(report);
done:
    json_decref(scenarios);
    pyab_history_close(h);
    free(db);
    return code;
}
