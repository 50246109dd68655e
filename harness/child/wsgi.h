/*
 * wsgi: the C half of the WSGI path (child side).
 *
 * A WSGI app is called through bootstrap.py's wsgi_adapter, which builds
 * the PEP 3333 environ from the request dict the replayer hands it. The
 * one part that costs real time in Python is turning a JSON body back into
 * bytes (decode to objects, then json.dumps); for WSGI apps the replayer
 * instead writes the body straight from the trace's encoded form to JSON
 * text here and passes it as `bytes`, which the adapter takes as-is.
 */
#ifndef PYAB_WSGI_H
#define PYAB_WSGI_H

#include <Python.h>
#include <stdint.h>

/*
 * Writes the encoded value at *p as compact JSON text (UTF-8, "," and ":"
 * separators, floats as Python's repr) and advances *p past it. New
 * reference to a bytes object, or NULL with an exception set. GIL held.
 */
PyObject *pyab_wsgi_body(const uint8_t **p);

#endif
