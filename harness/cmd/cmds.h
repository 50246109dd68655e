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

#endif
