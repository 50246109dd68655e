/* `pyab report RESULTS_DIR [--png]`: writes report.html (and report.png). */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "report.h"
#include "util.h"

int pyab_cmd_report(int argc, char **argv)
{
    const char *dir = NULL;
    pyab_error err = {0};
    int png = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--png") == 0) {
            png = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: pyab report RESULTS_DIR [--png]\n");
            return PYAB_EXIT_OK;
        } else if (argv[i][0] == '-' || dir != NULL) {
            fprintf(stderr, "pyab report: unexpected argument '%s'\n"
                            "usage: pyab report RESULTS_DIR [--png]\n", argv[i]);
            return PYAB_EXIT_USAGE;
        } else {
            dir = argv[i];
        }
    }
    if (dir == NULL) {
        fprintf(stderr, "usage: pyab report RESULTS_DIR [--png]\n");
        return PYAB_EXIT_USAGE;
    }
    if (pyab_report_write(dir, png, &err) < 0) {
        fprintf(stderr, "pyab report: %s\n", err.text);
        return err.exit_code ? err.exit_code : PYAB_EXIT_INTERNAL;
    }
    printf("%s/report.html%s\n", dir, png ? " and report.png" : "");
    return PYAB_EXIT_OK;
}
