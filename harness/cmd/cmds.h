/*
 * cmds: the verbs of the pyab command line, one file each in cmd/. Each
 * returns a process exit code (util.h). main.c only dispatches.
 */
#ifndef PYAB_CMDS_H
#define PYAB_CMDS_H

int pyab_cmd_version(int argc, char **argv);
int pyab_cmd_run(int argc, char **argv);
int pyab_cmd_compare(int argc, char **argv);
int pyab_cmd_trace(int argc, char **argv);
int pyab_cmd_report(int argc, char **argv);
int pyab_cmd_check(int argc, char **argv);
int pyab_cmd_history(int argc, char **argv);
int pyab_cmd_merge(int argc, char **argv);
int pyab_cmd_ablate(int argc, char **argv);

/* Whether a verb's arguments (argv[0] the verb) ask for its help: --help or -h anywhere. */
int pyab_cmd_help_wanted(int argc, char **argv);
/* Prints the verb's usage and flags on stdout; the exit code (2 for an unknown verb). */
int pyab_cmd_help(const char *verb);

#endif
