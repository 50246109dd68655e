/*
 * interpreter: which Python an arm runs, from its "python" section.
 *
 * By default an arm runs the pyab-child built with pyab (the libpython
 * of -Dpython). "child" and "home" name another pyab-child and the
 * PYTHONHOME it needs; "runtime" names a root made by tools/runtime.sh
 * (DIR/pyab/pyab-child, DIR/usr); "build": "debug" picks the debug
 * interpreter's child (pyab-child-debug beside the usual one, or in the
 * runtime). The parent starts that child with that PYTHONHOME; the child
 * gives `executable` to PyConfig.executable (sys.executable).
 */
#ifndef PYAB_INTERPRETER_H
#define PYAB_INTERPRETER_H

#include "config.h"
#include "keys.h"

/*
 * Parses python.child, .home, .runtime and .build of `py` (borrowed) into
 * cfg, making paths absolute against base, in place. 0 or -EINVAL with
 * w's error set.
 */
int pyab_interpreter_parse(const pyab_where *w, pyab_config *cfg, json_t *py, const char *base);

/* Checks that the files the arm's interpreter needs exist (exit 2 otherwise). */
int pyab_interpreter_check_files(const pyab_where *w, const pyab_config *cfg);

#endif
