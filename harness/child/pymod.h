/*
 * pymod: the built-in `pyab` module, importable by the service and its
 * stand-ins inside the harness (registered before initialisation).
 *
 * It offers native behaviours with known effects on the curves, for
 * stand-in libraries and for controls: native memory that leaks or is
 * held outside the Python heap (malloc, or mmap as private allocators
 * do), objects whose payload is native memory (as numpy arrays are),
 * calls that keep or release the GIL for a given time (simulated
 * inference), a call that leaks only when calls overlap (a library that
 * is not thread-safe), and a leaked reference (a C extension's missing
 * Py_DECREF). Each records per-call-site counters, reported in the
 * summary.
 */
#ifndef PYAB_PYMOD_H
#define PYAB_PYMOD_H

#include <Python.h>
#include <jansson.h>

/* Module init for PyImport_AppendInittab. New reference. */
PyObject *pyab_pymod_init(void);
/*
 * Per-call-site counters as JSON: {"file:line": {"function", "calls", "bytes"}}
 * ("file:line function" when two functions share a line). New ref; GIL held.
 */
json_t *pyab_pymod_counters(void);

#endif
