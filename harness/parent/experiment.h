/*
 * experiment: `pyab run`, the parent. Never initialises Python.
 *
 * Validates the scenario and its traces, then runs every (arm, rep) in a
 * freshly exec'd `pyab __child` (interleaved A1 B1 A2 B2 ..., or shuffled
 * with the seed), each under the same trace, seed and request order. One
 * rep's child process, its protocol and its outcome (ok, crashed, timeout,
 * over-limit, interrupted, failed) are rep.h's; this module orders the
 * reps, writes manifest.json, and after every rep rewrites summary.json
 * atomically, so Ctrl-C or a crash never loses completed data. The verb
 * itself is in runcmd.c.
 */
#ifndef PYAB_EXPERIMENT_H
#define PYAB_EXPERIMENT_H

#include "scenario.h"
#include "util.h"

typedef struct pyab_run_opts {
    const char *out_dir; /* NULL: results/<name>-<UTC timestamp> */
    int quiet;
    int report;          /* write report.html at the end */
    /* pyab_experiment_run_all: called on the analysed folder before the
     * tables and the report (NULL: nothing); 0 or a negative errno. */
    int (*after_analysis)(const char *dir, void *data, pyab_error *err);
    /* Called with the results folder's path once the scenario is valid, before
     * the folder is made and the first rep runs (NULL: nothing): what the run
     * will need at its end (a history database) fails here, not after an hour.
     * 0, or a negative errno with err set (its exit code is the run's). */
    int (*before_reps)(const char *dir, void *data, pyab_error *err);
    void *data;
    /* --shard I/N (shard.h): run only the I-th of N pieces of the run order,
     * into a partial folder with no analysis. 0/0: the whole run. */
    long shard_index, shard_count;
    /* Keys added to manifest.json (borrowed; NULL: none): `pyab ablate`'s
     * "ablation", so that `pyab merge` can rank a sharded ablation. */
    json_t *manifest_extra;
} pyab_run_opts;

/*
 * Checks what a run needs before anything runs: every arm's files (app,
 * python.path, venv, mocks), every trace, and each arm's route selection on
 * it. A trace is freed before the next loads. 0 or -EINVAL with err naming
 * the file, line and key (exit 2).
 */
int pyab_experiment_validate(pyab_scenario *sc, pyab_error *err);

/*
 * Checks the sections that other layers read: "analysis", "budgets" (top
 * level and per arm) and "ablate", with messages naming the file and key.
 * pyab_experiment_validate calls it first. 0, or -EINVAL with err set.
 */
int pyab_experiment_validate_sections(const pyab_scenario *sc, pyab_error *err);

/*
 * Everything `pyab run` does once the scenario is loaded (and `pyab ablate`
 * after it has made its arms): runs it, analyses the folder, calls
 * opts->after_analysis, prints the tables and writes the report. Messages
 * go to stderr. Returns an exit code; *dir_out as above (NULL when no
 * folder was made).
 */
int pyab_experiment_run_all(pyab_scenario *sc, const pyab_run_opts *opts, char **dir_out);

/*
 * Analyses a results folder whose reps have all been written (verdicts,
 * opts->after_analysis, the tables unless quiet, the report if asked), as
 * pyab_experiment_run_all does at its end. 0, or -EIO after printing why.
 */
int pyab_experiment_analyse(const char *dir, const pyab_run_opts *opts);

/*
 * Takes argv[*i] into opts when it is one of the flags every running verb
 * shares (--out DIR, --quiet/-q, --no-report, --shard I/N), moving *i past
 * a value. 1 when it did, 0 when the flag is not one of them, -1 (after
 * saying why on stderr) for a bad --shard value.
 */
int pyab_experiment_take_flag(pyab_run_opts *opts, int argc, char **argv, int *i);

#endif
