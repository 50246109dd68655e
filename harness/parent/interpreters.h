/*
 * interpreters: which Python each arm's child embeds, asked before the
 * first rep (`pyab-child --versions`, with the arm's environment).
 *
 * An arm may name another pyab-child (python.child, python.runtime,
 * python.build "debug"). Before any rep runs, the runner asks each
 * distinct child for its facts (interpreter version, build, glibc, the
 * default GC thresholds, the pyab version it was built from) and refuses,
 * as bad input, a child that does not start, was built from another pyab
 * version or protocol, or is not the debug build an arm asked for. The
 * facts go into the manifest and summary per arm; when arms differ in
 * Python version and glibc, a note says that RSS differs for both reasons.
 */
#ifndef PYAB_INTERPRETERS_H
#define PYAB_INTERPRETERS_H

#include <jansson.h>

#include "scenario.h"
#include "util.h"

/*
 * The facts of every arm of sc, as an object arm -> facts (new
 * reference), or NULL with err set (exit 2) naming the arm and the child.
 */
json_t *pyab_interpreters_probe(const pyab_scenario *sc, pyab_error *err);

/*
 * The plain note for arms that differ in Python version and glibc (or in
 * build), or NULL when they do not. New string.
 */
char *pyab_interpreters_note(json_t *facts);

#endif
