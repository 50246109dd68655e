/*
 * help: `pyab VERB --help` (or -h, anywhere after the verb, or `pyab help
 * VERB`): each verb's usage and flags on stdout, exit 0. The texts are
 * data, kept here so that main.c stays a table and every verb answers
 * alike; README.md has the longer story.
 */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "util.h"

static const struct help {
    const char *verb, *text;
} helps[] = {
    {"run",
     "usage: pyab run SCENARIO [--out DIR] [--quiet] [--no-report] [--until-settled]\n"
     "                [--history DB | --no-history] [--shard I/N]\n"
     "\n"
     "Runs every arm x rep of SCENARIO (each rep a fresh pyab-child), analyses them, writes\n"
     "report.html and appends the figures to the history.\n"
     "\n"
     "  --out DIR       the results folder, new or empty (default results/<name>-<UTC>)\n"
     "  -q, --quiet     no progress lines and no tables\n"
     "  --no-report     do not write report.html\n"
     "  --until-settled run each rep until every memory metric is decided (load.until)\n"
     "  --history DB    the history: a SQLite file (default $PYAB_HISTORY, else\n"
     "                  history.sqlite beside the results folder) or a postgresql:// URL;\n"
     "                  opened and checked before the first rep\n"
     "  --no-history    record nothing\n"
     "  --shard I/N     run only the I-th of N pieces of the arm x rep order into a partial\n"
     "                  folder (no analysis, no history); join them with pyab merge\n"},
    {"ablate",
     "usage: pyab ablate SCENARIO [--suspects a,b|auto] [--out DIR] [--quiet] [--no-report]\n"
     "                   [--shard I/N]\n"
     "\n"
     "The open/closed experiment: a control arm, one arm per suspect swapped for its\n"
     "stand-in (the scenario's \"ablate\" section), one with all swapped; ranks the suspects\n"
     "by the growth each swap removes.\n"
     "\n"
     "  --suspects a,b  only these suspects of the scenario's list\n"
     "  --suspects auto first a screening run with native sampling (where.native, results in\n"
     "                  DIR-screen); only the suspects its growing native sites point at\n"
     "  --out DIR       the results folder, new or empty\n"
     "  -q, --quiet     no progress lines and no tables\n"
     "  --no-report     do not write report.html\n"
     "  --shard I/N     run only the I-th of N pieces of the arm x rep order (pyab merge\n"
     "                  joins the pieces and ranks the suspects)\n"},
    {"check",
     "usage: pyab check SCENARIO... [--baseline RESULTS_DIR | --history DB] [--no-history]\n"
     "                  [--junit FILE] [--out DIR] [--shard I/N] [--quiet]\n"
     "\n"
     "The nightly gate: runs each scenario, holds each arm to its budgets and to a baseline\n"
     "run, records the figures in the history, writes check.json and JUnit. Exit 1 when a\n"
     "check fails.\n"
     "\n"
     "  --baseline DIR  compare with this results folder (or a check's folder holding\n"
     "                  <name>/); one that is not of the scenario is an error (exit 2)\n"
     "  --history DB    the history: a SQLite file (default $PYAB_HISTORY, else\n"
     "                  results/history.sqlite) or a postgresql:// URL; the baseline is its\n"
     "                  newest complete passing run\n"
     "  --no-history    neither read nor write a history\n"
     "  --junit FILE    also write the JUnit report here (it is always in DIR/junit.xml)\n"
     "  --out DIR       the check's folder, new or empty (default results/check-<UTC>)\n"
     "  --shard I/N     run the I-th of N shares of the scenarios (1 <= I <= N)\n"
     "  -q, --quiet     print only what failed\n"},
    {"history",
     "usage: pyab history SCENARIO [--db DB] [--last N] [--json]\n"
     "\n"
     "Each metric's trend over the recorded runs of a scenario, with change points.\n"
     "\n"
     "  --db DB         the history: a SQLite file or a postgresql:// URL (default\n"
     "                  $PYAB_HISTORY, else results/history.sqlite)\n"
     "  --last N        the last N runs (default 30)\n"
     "  --json          print JSON\n"},
    {"merge",
     "usage: pyab merge OUT_DIR IN_DIR... [--junit FILE] [--history DB | --no-history]\n"
     "                  [--quiet] [--no-report]\n"
     "\n"
     "Combines the folders of sharded checks (each IN_DIR a `pyab check --out`: check.json,\n"
     "history.sqlite) into OUT_DIR's check.json, JUnit and history; or the partial results\n"
     "folders of `pyab run --shard` / `pyab ablate --shard` (every shard of one experiment)\n"
     "into one complete results folder, analysed, reported and recorded as a run.\n"
     "\n"
     "  --junit FILE    also write the merged JUnit report here (checks)\n"
     "  --history DB    checks: import the shards' history.sqlite here instead of\n"
     "                  OUT_DIR/history.sqlite; runs: record the merged run here (default\n"
     "                  $PYAB_HISTORY, else history.sqlite beside OUT_DIR)\n"
     "  --no-history    record nothing\n"
     "  -q, --quiet     runs: no tables\n"
     "  --no-report     runs: do not write report.html\n"},
    {"trace",
     "usage: pyab trace import INPUT -o OUTPUT.jsonl [--format har|access-log]\n"
     "                  [--route-from path|template]\n"
     "       pyab trace info TRACE.jsonl [--json]\n"
     "       pyab trace synth -o OUTPUT.jsonl [--spec SPEC.json] [--seed N] [--duration S]\n"
     "                  [--rate R]\n"
     "\n"
     "  import          a HAR 1.2 file or an access log (combined or common) into a trace;\n"
     "                  --format when detection cannot tell, --route-from template turns\n"
     "                  id-like path segments into {id}\n"
     "  info            requests, duration, rate over time, route mix, body sizes (--json)\n"
     "  synth           a business-shaped synthetic trace from a JSON spec; --seed,\n"
     "                  --duration and --rate override the spec\n"},
    {"report",
     "usage: pyab report RESULTS_DIR [--png]\n"
     "\n"
     "Writes RESULTS_DIR/report.html, one offline file with the curves and tables.\n"
     "\n"
     "  --png           also report.png, a screenshot of the page (needs Chromium)\n"},
    {"compare",
     "usage: pyab compare RESULTS_DIR\n"
     "\n"
     "Re-analyses a finished results folder: rewrites summary.json's verdicts and\n"
     "comparisons and prints the tables.\n"
     "\n"},
    {"version",
     "usage: pyab version [--json]\n"
     "\n"
     "Versions of pyab, the embedded Python, libuv, jansson and glibc, and the sanitizers\n"
     "built in.\n"
     "\n"
     "  --json          print JSON\n"},
};

static const char common[] =
    "  -h, --help      this text\n"
    "\n"
    "exit codes: 0 ran (a crashed rep is a finding), 1 a check failed, 2 bad input or usage,\n"
    "            3 pyab's own failure, 130 interrupted\n";

int pyab_cmd_help_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

int pyab_cmd_help(const char *verb)
{
    for (size_t i = 0; i < PYAB_ARRAY_LEN(helps); i++) {
        if (strcmp(helps[i].verb, verb) == 0) {
            fputs(helps[i].text, stdout);
            fputs(common, stdout);
            return PYAB_EXIT_OK;
        }
    }
    fprintf(stderr, "pyab help: no verb '%s' (pyab --help lists them)\n", verb);
    return PYAB_EXIT_USAGE;
}
