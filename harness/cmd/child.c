/*
 * pyab-child: one arm-rep in its own freshly exec'd process, started by
 * `pyab run` (parent/rep.c) as `pyab-child CONFIG.json`. The only program
 * that links libpython. `pyab-child --versions` prints the embedded
 * Python's versions as JSON (what `pyab version` and each manifest show).
 */
#include <stdio.h>
#include <string.h>

#include "child.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--versions") == 0) {
        json_t *v = pyab_child_versions();

        json_dumpf(v, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(v);
        return PYAB_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: pyab-child CONFIG.json   (started by pyab run)\n"
                        "       pyab-child --versions\n");
        return PYAB_EXIT_USAGE;
    }
    return pyab_child_main(argv[1]);
}
