/*
 * pyab-child: one arm-rep in its own freshly exec'd process, started by
 * `pyab run` (parent/rep.c) as `pyab-child CONFIG.json`. The only program
 * that links libpython. `pyab-child --versions` prints the embedded
 * Python's versions as JSON (what `pyab version` and each manifest show),
 * with the pyab version and protocol it was built with: the parent
 * refuses a child that differs (an arm's "python": {"child": ...}).
 */
#include <stdio.h>
#include <string.h>

#include "build_config.h" /* PYAB_VERSION, PYAB_PYTHON_EMBED */
#include "child.h"
#include "core_id.h" /* PYAB_CORE_ID */
#include "protocol.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--versions") == 0) {
        json_t *v = pyab_child_versions();

        json_object_set_new(v, "pyab", json_string(PYAB_VERSION));
        json_object_set_new(v, "protocol", json_integer(PYAB_PROTOCOL_VERSION));
        json_object_set_new(v, "core_id", json_string(PYAB_CORE_ID));
#ifdef PYAB_CHILD_EMBED /* pyab-child-debug: the debug build of -Dpython's Python */
        json_object_set_new(v, "python_embed", json_string(PYAB_CHILD_EMBED));
#else
        json_object_set_new(v, "python_embed", json_string(PYAB_PYTHON_EMBED));
#endif

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
