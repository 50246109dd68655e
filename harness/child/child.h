/*
 * child: one arm-rep in its own freshly exec'd process (`pyab-child`).
 *
 * Reads the arm's effective settings written by the parent, loads the
 * trace into C memory, initialises the interpreter (interp.h), imports the
 * service, and runs the replay (replay.h) under a libuv loop that owns
 * the control plane: periodic samples, the warm-up mark, manual GC and
 * trim cadences, request timeouts, SIGINT/SIGTERM. Everything it measures
 * goes to the parent as it is taken, one line per message on the protocol
 * descriptor (core/protocol.h), so a child that dies still leaves its
 * curve up to that moment.
 */
#ifndef PYAB_CHILD_H
#define PYAB_CHILD_H

#include <jansson.h>

/* Runs the arm-rep that CONFIG_PATH describes; does not return (the process exits). */
int pyab_child_main(const char *config_path);

/* The embedded Python's versions (Py_GetVersion, PY_VERSION_HEX, allocator default). New reference. */
json_t *pyab_child_versions(void);

#endif
