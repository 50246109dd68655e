/*
 * rep: one arm-rep, seen from the parent. Never initialises Python.
 *
 * The experiment (experiment.h) decides which arm and rep run next and
 * calls pyab_rep_run, which makes the rep's folder, writes its config.json,
 * execs `pyab __child` with the arm's environment (allocator knobs,
 * LD_PRELOAD, env), and reads the child's protocol lines (child.h) as they
 * arrive: samples and GC events go straight to samples.csv.part and
 * events.jsonl.part, hello and final reports are kept. limits.run_seconds
 * and limits.rss_mb are enforced here by killing the child. When the child
 * is gone the rep's outcome is decided (ok, crashed, timeout, over-limit,
 * interrupted, failed), the .part files are renamed into place and
 * rep.json is written.
 */
#ifndef PYAB_REP_H
#define PYAB_REP_H

#include <jansson.h>
#include <uv.h>

#include "progress.h"
#include "config.h"
#include "util.h"

typedef struct pyab_rep pyab_rep;

/*
 * What a rep shares with the experiment that runs it; embedded in the
 * experiment (init/finish are the experiment's: it owns the loop).
 */
typedef struct pyab_rep_host {
    uv_loop_t loop;
    const char *dir;          /* the results folder (borrowed) */
    pyab_progress progress;
    size_t runs_done, runs_total;
    json_t *readback;         /* arm name -> first rep's readback (borrowed, filled in here) */
    int interrupted;          /* set by the experiment's signal handler */
    pyab_rep *current;        /* the rep whose child is running, or NULL */
    json_t *analysis;         /* the scenario's "analysis" (borrowed, may be NULL): until-settled looks */
} pyab_rep_host;

/*
 * Runs rep number `rep` (from 1) of `arm` to its end and writes its folder,
 * arms/<arm>/rep-<rep>/. On 0, *record is the rep's record (new reference,
 * as in rep.json), and *bad_input is 1 when the child refused its settings
 * (err then holds the child's message). Otherwise a negative errno with
 * err set and *record NULL.
 */
int pyab_rep_run(pyab_rep_host *h, const pyab_config *arm, int rep, json_t **record,
                 int *bad_input, pyab_error *err);

/* Sends signum to the rep's child (used by the experiment's signal handler). */
void pyab_rep_kill(pyab_rep *r, int signum);

/*
 * The pyab-child program to start: $PYAB_CHILD, else $PYAB_RUNTIME's
 * (DIR/pyab/pyab-child, a root tools/runtime.sh made), else beside this
 * program (the build tree), else PREFIX/libexec/pyab as installed. New string.
 */
char *pyab_rep_child_path(void);
/*
 * The pyab-child an arm runs: its python.child (or runtime's), else the
 * one above, with "-debug" appended for python.build "debug". New string.
 */
char *pyab_rep_arm_child(const pyab_config *a);

#endif
