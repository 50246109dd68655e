/*
 * request: turns one compact trace record (trace.h) back into the Python
 * dict a handler is called with. Child side; every call needs the GIL.
 *
 * The replayer (replay.h) calls pyab_request_build once per request, so
 * each call gets a fresh dict that the handler may keep or mutate: the
 * record's fields decoded from the trace arena's tagged encoding, plus
 * "t" and "route". For a WSGI app a body that is not a string comes as
 * bytes of JSON text (wsgi.h).
 */
#ifndef PYAB_REQUEST_H
#define PYAB_REQUEST_H

#include <Python.h>

#include "trace.h"

/*
 * The request dict for rec (borrowed, from trace): new reference, or NULL
 * with a Python exception set. key_t and key_route (borrowed) are the "t"
 * and "route" keys, interned once by the caller; wsgi selects the WSGI body.
 */
PyObject *pyab_request_build(const pyab_trace *trace, const pyab_trace_rec *rec, int wsgi,
                             PyObject *key_t, PyObject *key_route);

#endif
