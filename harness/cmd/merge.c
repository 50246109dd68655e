/*
 * `pyab merge OUT_DIR IN_DIR...`: one check.json, JUnit file and history
 * database from the output folders of several `pyab check --shard` runs;
 * or, given the partial results folders of `pyab run --shard` (or `pyab
 * ablate --shard`), one complete results folder (shard.h), analysed,
 * reported and recorded in the history as a run is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "history.h"
#include "junit.h"
#include "shard.h"

static int merge_usage(void)
{
    fprintf(stderr, "usage: pyab merge OUT_DIR IN_DIR... [--junit FILE] [--history DB | "
                    "--no-history] [--quiet] [--no-report]\n"
                    "  IN_DIR: the --out folder of a `pyab check --shard` (check.json, "
                    "history.sqlite),\n"
                    "          or of a `pyab run --shard` / `pyab ablate --shard` (a partial "
                    "results folder)\n");
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

/* The merged run's history: --history's, $PYAB_HISTORY's, or history.sqlite beside OUT_DIR. */
typedef struct merge_history {
    const char *target;
    pyab_history *db;
} merge_history;

static int record_run(const char *dir, void *data, pyab_error *err)
{
    merge_history *mh = data;
    char *sp = pyab_path_join(dir, "summary.json"), *mp = pyab_path_join(dir, "manifest.json");
    json_t *summary = pyab_json_read(sp, 0, err), *manifest = pyab_json_read(mp, 0, err);
    int rc = -EIO;

    if (summary && manifest)
        rc = pyab_history_append(mh->db, summary, manifest, dir, "run", err);
    json_decref(summary);
    json_decref(manifest);
    free(sp);
    free(mp);
    return rc;
}

/* Joins `pyab run --shard` folders (shard.h). Returns an exit code. */
static int merge_runs(const char *out, char **ins, size_t nin, pyab_run_opts *opts,
                      const char *history, int no_history)
{
    merge_history mh = {0};
    pyab_error err = {0};
    int code;

    if (!no_history) {
        const char *given = history ? history : pyab_history_default(NULL);
        char *parent = pyab_path_dirname(out);
        char *db = given ? xstrdup(given) : pyab_path_join(parent, "history.sqlite");
        /* Opened first: a history that cannot be used stops the merge before it writes. */
        mh.db = pyab_history_open(db, &err);
        free(parent);
        free(db);
        if (mh.db == NULL || pyab_history_writable(mh.db, &err) < 0) {
            fprintf(stderr, "pyab merge: %s\n", err.text);
            pyab_history_close(mh.db);
            return err.exit_code ? err.exit_code : PYAB_EXIT_USAGE;
        }
        opts->after_analysis = record_run;
        opts->data = &mh;
    }
    code = pyab_shard_merge(out, ins, nin, opts);
    pyab_history_close(mh.db);
    return code;
}

/* Joins `pyab check --shard` folders: check.json, JUnit, history. Returns an exit code. */
static int merge_checks(int argc, char **argv, const char *history, int no_history)
{
    const char *out = NULL, *junit = NULL;
    json_t *scenarios = json_array(), *report;
    pyab_error err = {0};
    pyab_history *h = NULL;
    char *db = NULL, *p;
    int code = 0, nin = 0, rc;

    for (int i = 1; i < argc && code == 0; i++) {
        if (strcmp(argv[i], "--junit") == 0 && i + 1 < argc)
            junit = argv[++i];
        else if (strcmp(argv[i], "--history") == 0 && i + 1 < argc)
            i++;
        else if (strcmp(argv[i], "--no-history") == 0 || strcmp(argv[i], "--quiet") == 0 ||
                 strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--no-report") == 0)
            continue; /* read by pyab_cmd_merge; a check merge writes no report */
        else if (argv[i][0] == '-')
            code = merge_usage();
        else if (out == NULL)
            out = argv[i];
        else if (nin++, (code = merge_report(argv[i], scenarios)) == 0) {
            char *in_db = pyab_path_join(argv[i], "history.sqlite");
            if (!no_history && access(in_db, R_OK) == 0) {
                if (h == NULL && (h = pyab_history_open(
                        db = history ? xstrdup(history) : pyab_path_join(out, "history.sqlite"),
                        &err)) == NULL)
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
    if ((rc = pyab_mkdirs(out)) < 0) {
        fprintf(stderr, "pyab merge: %s: cannot make the folder: %s\n", out, strerror(-rc));
        code = PYAB_EXIT_INTERNAL;
    } else if (pyab_json_write_atomic(p, report, JSON_INDENT(1), &err) < 0) {
        fprintf(stderr, "pyab merge: %s\n", err.text);
        code = PYAB_EXIT_INTERNAL;
    }
    free(p);
    p = pyab_path_join(out, "junit.xml");
    if (code == 0 && (pyab_junit_write(p, report, &err) < 0 ||
                      (junit && pyab_junit_write(junit, report, &err) < 0))) {
        fprintf(stderr, "pyab merge: %s\n", err.text);
        code = PYAB_EXIT_INTERNAL;
    }
    free(p);
    if (code == 0) {
        code = merged_exit(scenarios);
        printf("merged %zu scenario%s from %d folder%s into %s: %s\n", json_array_size(scenarios),
               json_array_size(scenarios) == 1 ? "" : "s", nin, nin == 1 ? "" : "s", out,
               code == 0 ? "all passed" : "FAILED");
    }
    json_decref(report);
done:
    json_decref(scenarios);
    pyab_history_close(h);
    free(db);
    return code;
}

int pyab_cmd_merge(int argc, char **argv)
{
    pyab_run_opts opts = {.report = 1};
    const char *history = NULL;
    char **ins = xcalloc((size_t)argc + 1, sizeof(char *));
    size_t nins = 0;
    int no_history = 0, junit = 0, code;

    /* Partial results folders are merged as one run; otherwise check folders, as before. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--junit") == 0 && i + 1 < argc)
            junit = ++i;
        else if (strcmp(argv[i], "--history") == 0 && i + 1 < argc)
            history = argv[++i];
        else if (strcmp(argv[i], "--no-history") == 0)
            no_history = 1;
        else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0)
            opts.quiet = 1;
        else if (strcmp(argv[i], "--no-report") == 0)
            opts.report = 0;
        else if (argv[i][0] != '-')
            ins[nins++] = argv[i];
    }
    if (nins >= 2 && pyab_shard_is_partial(ins[1])) {
        if ((history && no_history) || junit) {
            free(ins);
            fprintf(stderr, "pyab merge: %s\n", junit ? "--junit is for check folders; these are "
                    "a run's shards" : "--history and --no-history exclude each other");
            return merge_usage();
        }
        code = merge_runs(ins[0], ins + 1, nins - 1, &opts, history, no_history);
        free(ins);
        return code;
    }
    free(ins);
    return merge_checks(argc, argv, history, no_history);
}
