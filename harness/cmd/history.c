/*
 * `pyab history SCENARIO`: a scenario's trend per metric, with its change
 * points, from the history database.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "changes.h"
#include "history.h"

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
    fprintf(f, "  %-16s %3zu %-4s  first %-10.4g last %-10.4g min %-10.4g max %-10.4g", metric, k,
            k == 1 ? "run" : "runs", first, last, lo, hi);
    fprintf(f, "%s\n", json_array_size(json_object_get(m, "change_points")) > 0 ? ""
                       : pyab_changes_no_change_label(metric, vals));
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

/* Prints a trend object (borrowed) as one table per arm. */
static void print_trend(FILE *f, json_t *trend)
{
    json_t *runs = json_object_get(trend, "runs"), *a, *m;
    const char *arm, *metric;

    fprintf(f, "history of %s: %zu run%s", json_string_value(json_object_get(trend, "scenario")),
            json_array_size(runs), json_array_size(runs) == 1 ? "" : "s");
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
    const char *db = pyab_history_default(DEFAULT_HISTORY), *arg = NULL;
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
    if (!pyab_history_is_url(db) && access(db, R_OK) != 0) {
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
            fprintf(stderr, "pyab history: no runs of scenario '%s' in %s\n", name,
                    pyab_history_name(h));
            code = PYAB_EXIT_USAGE;
        } else if (as_json) {
            json_dumpf(trend, stdout, JSON_INDENT(1) | PYAB_HISTORY_JSON_PRECISION);
            printf("\n");
        } else {
            print_trend(stdout, trend);
        }
        json_decref(trend);
    }
    pyab_history_close(h);
    free(name);
    return code;
}
