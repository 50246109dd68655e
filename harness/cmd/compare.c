/*
 * `pyab compare RESULTS_DIR`: re-analyses a results folder, rewrites its
 * summary.json (a run cut off by a kill gets status "cut-off") and prints
 * the verdict and comparison tables.
 */
#include <stdio.h>

#include "analyze.h"
#include "cmds.h"
#include "compare.h"
#include "table.h"
#include "util.h"

int pyab_cmd_compare(int argc, char **argv)
{
    pyab_error err = {0};
    json_t *summary;
    char *path;
    int rc;

    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: pyab compare RESULTS_DIR\n");
        return PYAB_EXIT_USAGE;
    }
    summary = pyab_analyze_summary(argv[1], &err);
    if (summary == NULL) {
        fprintf(stderr, "pyab: %s\n", err.text);
        return err.exit_code ? err.exit_code : PYAB_EXIT_INTERNAL;
    }
    /* A run pyab never finished (killed): say so in the file, not "running" for good. */
    pyab_compare_mark_cut_off(argv[1], summary);
    path = pyab_path_join(argv[1], "summary.json");
    rc = pyab_json_write_atomic(path, summary, JSON_INDENT(2), &err);
    if (rc == 0)
        pyab_table_print(stdout, summary);
    else
        fprintf(stderr, "pyab: %s\n", err.text);
    free(path);
    json_decref(summary);
    return rc == 0 ? PYAB_EXIT_OK : PYAB_EXIT_INTERNAL;
}
