/*
 * main: dispatches `pyab VERB ...` to the file that implements the verb
 * (one per verb in this folder, as git's builtin/). This program never
 * links libpython: one arm-rep runs in pyab-child (child.c), which `run`
 * starts.
 */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "util.h"

static const struct verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} verbs[] = {
    {"run", pyab_cmd_run, "run SCENARIO [--out DIR] [--quiet] [--no-report] [--until-settled] [--history DB|--no-history]\n"
                          "                                      replay a scenario's arms and reps, analyse, report"},
    {"ablate", pyab_cmd_ablate, "ablate SCENARIO [--suspects a,b]     swap suspects for stand-ins, rank by growth removed"},
    {"check", pyab_cmd_check, "check SCENARIO... [--baseline DIR] [--junit F] [--shard I/N]  budgets and regressions (nightly)"},
    {"history", pyab_cmd_history, "history SCENARIO [--db DB]          each metric's trend and change points"},
    {"merge", pyab_cmd_merge, "merge OUT_DIR IN_DIR...             combine sharded checks (check.json, JUnit, history)"},
    {"trace", pyab_cmd_trace, "trace import|info|synth ...        import, inspect or make request traces"},
    {"report", pyab_cmd_report, "report RESULTS_DIR [--png]          write report.html (and report.png)"},
    {"compare", pyab_cmd_compare, "compare RESULTS_DIR                 re-analyse a results folder: verdicts and A/B table"},
    {"version", pyab_cmd_version, "version [--json]                    versions of Python, libuv, jansson"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: pyab VERB [ARGS]\n\nverbs:\n");
    for (size_t i = 0; i < PYAB_ARRAY_LEN(verbs); i++)
        if (verbs[i].help)
            fprintf(f, "  %s\n", verbs[i].help);
    fprintf(f, "\nexit codes: 0 ok (a rep that crashed or hit a limit is a finding), 1 check failed,\n"
               "            2 bad input or usage, 3 internal failure, 130 interrupted\n"
               "`pyab VERB --help` gives a verb's flags; README.md describes every verb, flag\n"
               "and scenario key\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return PYAB_EXIT_USAGE;
    }
    if (strcmp(argv[1], "help") == 0 && argc > 2)
        return pyab_cmd_help(argv[2]);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return PYAB_EXIT_OK;
    }
    /* Every verb answers --help / -h the same way, before it parses anything. */
    for (size_t i = 0; i < PYAB_ARRAY_LEN(verbs); i++)
        if (strcmp(argv[1], verbs[i].name) == 0)
            return pyab_cmd_help_wanted(argc - 1, argv + 1) ? pyab_cmd_help(verbs[i].name)
                                                             : verbs[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "pyab: unknown verb '%s'\n", argv[1]);
    usage(stderr);
    return PYAB_EXIT_USAGE;
}
