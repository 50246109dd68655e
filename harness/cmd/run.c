/* `pyab run SCENARIO`: the verb; the work is pyab_experiment_run_all's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "experiment.h"
#include "history.h"

static int run_usage(void)
{
    fprintf(stderr, "usage: pyab run SCENARIO [--out DIR] [--quiet] [--no-report] "
                    "[--until-settled] [--history DB | --no-history] [--shard I/N]\n");
    return PYAB_EXIT_USAGE;
}

static json_t *load(const char *dir, const char *name)
{
    char *path = pyab_path_join(dir, name);
    json_t *j = json_load_file(path, 0, NULL);

    free(path);
    return j;
}

/* The history a run appends to: --history's path (or NULL), and the database once open. */
typedef struct run_history {
    const char *path;
    pyab_history *db;
} run_history;

/*
 * before_reps hook: opens the database, --history's, $PYAB_HISTORY's or
 * history.sqlite beside the results folder (results/history.sqlite for the default
 * folder, the same file `pyab check` uses), so that a corrupt or
 * unwritable one stops the run before its first rep (exit 2), as it
 * stops `pyab check`.
 */
static int open_history(const char *dir, void *data, pyab_error *err)
{
    run_history *rh = data;
    char *parent = pyab_path_dirname(dir);
    const char *given = rh->path ? rh->path : pyab_history_default(NULL);
    char *db = given ? xstrdup(given) : pyab_path_join(parent, "history.sqlite");

    rh->db = pyab_history_open(db, err);
    free(parent);
    free(db);
    if (rh->db && pyab_history_writable(rh->db, err) == 0)
        return 0;
    err->exit_code = PYAB_EXIT_USAGE; /* the file given, or found, is bad input */
    return -EINVAL;
}

/*
 * after_analysis hook: every run's figures go into the history too, with
 * the verdict "run" (so `pyab history` shows them; `pyab check` takes only
 * its own passing runs as baselines).
 */
static int record(const char *dir, void *data, pyab_error *err)
{
    run_history *rh = data;
    json_t *summary = load(dir, "summary.json"), *manifest = load(dir, "manifest.json");
    int rc = -EIO;

    if (summary == NULL || manifest == NULL)
        pyab_error_internal(err, "%s: cannot read summary.json or manifest.json", dir);
    else
        rc = pyab_history_append(rh->db, summary, manifest, dir, "run", err);
    json_decref(summary);
    json_decref(manifest);
    return rc;
}

int pyab_cmd_run(int argc, char **argv)
{
    run_history rh = {0};
    pyab_run_opts opts = {.report = 1, .after_analysis = record, .before_reps = open_history,
                          .data = &rh};
    const char *path = NULL;
    pyab_error err = {0};
    pyab_scenario *sc;
    char *dir = NULL;
    int code, settled = 0;

    for (int i = 1; i < argc; i++) {
        int took = pyab_experiment_take_flag(&opts, argc, argv, &i);
        if (took < 0)
            return run_usage();
        if (took)
            continue;
        if (strcmp(argv[i], "--history") == 0 && i + 1 < argc)
            rh.path = argv[++i];
        else if (strcmp(argv[i], "--until-settled") == 0)
            settled = 1;
        else if (strcmp(argv[i], "--no-history") == 0) {
            opts.after_analysis = NULL;
            opts.before_reps = NULL;
        }
        else if (argv[i][0] == '-') {
            fprintf(stderr, "pyab run: unknown flag %s\n", argv[i]);
            return run_usage();
        } else if (path) {
            fprintf(stderr, "pyab run: one scenario at a time (pyab check takes several)\n");
            return run_usage();
        }
        else
            path = argv[i];
    }
    if (path == NULL)
        return run_usage();
    /* A shard's partial folder goes into no history: the merged run does (pyab merge). */
    if (opts.shard_count > 0) {
        if (rh.path)
            fprintf(stderr, "pyab run: --history: a shard records nothing; give it to "
                            "pyab merge\n");
        opts.after_analysis = NULL;
        opts.before_reps = NULL;
    }
    if ((sc = pyab_scenario_load_settled(path, settled, &err)) == NULL) {
        fprintf(stderr, "pyab: %s\n", err.text);
        return err.exit_code;
    }
    code = pyab_experiment_run_all(sc, &opts, &dir);
    pyab_history_close(rh.db);
    free(dir);
    pyab_scenario_destroy(sc);
    return code;
}
