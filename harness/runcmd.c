/* `pyab run SCENARIO`: the verb; the work is pyab_experiment_run_all's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "experiment.h"

static int run_usage(void)
{
    fprintf(stderr, "usage: pyab run SCENARIO [--out DIR] [--quiet] [--no-report]\n");
    return PYAB_EXIT_USAGE;
}

int pyab_cmd_run(int argc, char **argv)
{
    pyab_run_opts opts = {.report = 1};
    const char *path = NULL;
    pyab_error err = {0};
    pyab_scenario *sc;
    char *dir = NULL;
    int code;

    for (int i = 1; i < argc; i++) {
        if (pyab_experiment_take_flag(&opts, argc, argv, &i))
            continue;
        if (argv[i][0] == '-' || path)
            return run_usage();
        else
            path = argv[i];
    }
    if (path == NULL)
        return run_usage();
    if ((sc = pyab_scenario_load(path, &err)) == NULL) {
        fprintf(stderr, "pyab: %s\n", err.text);
        return err.exit_code;
    }
    code = pyab_experiment_run_all(sc, &opts, &dir);
    free(dir);
    pyab_scenario_destroy(sc);
    return code;
}
