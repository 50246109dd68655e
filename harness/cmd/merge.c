/*
 * `pyab merge OUT_DIR IN_DIR...`: one check.json, JUnit file and history
 * database from the output folders of several `pyab check --shard` runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "history.h"
#include "junit.h"

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
    char *db = NULL, *p;
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
