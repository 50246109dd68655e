/*
 * interp: the embedded interpreter's life in the child.
 *
 * Pre-initialises CPython with the arm's allocator, installs the heap hooks
 * before any object exists, registers the built-in `pyab` module, and
 * initialises with a fixed hash seed and without Python's own signal
 * handlers (the child's libuv loop owns SIGINT/SIGTERM). Then it loads the
 * service through the embedded bootstrap.py and hands back the handler.
 *
 * A Python exception never leaves this module: it becomes a pyab_error
 * holding the formatted traceback.
 */
#ifndef PYAB_INTERP_H
#define PYAB_INTERP_H

#include <Python.h>
#include <jansson.h>

#include "config.h"
#include "util.h"

/* Initialises Python for cfg. On success the calling thread holds the GIL. */
int pyab_interp_init(const pyab_config *cfg, pyab_error *err);
/*
 * Puts cfg's folders on sys.path, installs mocks, imports the service and
 * returns its handler (new reference), or NULL with err holding the
 * traceback. GIL held.
 */
PyObject *pyab_interp_load(const pyab_config *cfg, pyab_error *err);
/* Takes the pending exception, normalised, with its traceback attached. New ref or NULL. */
PyObject *pyab_interp_take_exception(void);
/* Formats an exception with its traceback; new C string. GIL held. */
char *pyab_interp_format_exception(PyObject *exc);
/* What the interpreter reports of itself and the allocator in use. New ref; GIL held. */
json_t *pyab_interp_readback(void);

#endif
