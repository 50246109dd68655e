/*
 * callees: the C functions Python code can call, by address, with the
 * name a Python programmer calls them by ("cv2.imdecode",
 * "numpy.frombuffer", "lxml.etree.fromstring"). A native sample's stack
 * enters native code through one of them; native.c looks up the entry
 * frame's function start here, so a site reads "service.py:31 in handle
 * (cv2.imdecode)" and a line that calls two libraries is two sites.
 *
 * Built once, at the end of a rep, from what is loaded then: every module
 * in sys.modules, its builtin functions (and Cython's, whose objects
 * begin as builtin functions do) and the methods of the C types it
 * defines. A function reachable under several names keeps the shortest
 * ("numpy.empty", not "numpy.core.multiarray.empty").
 */
#ifndef PYAB_CALLEES_H
#define PYAB_CALLEES_H

#include <stddef.h>
#include <stdint.h>

typedef struct pyab_callees pyab_callees;

/* New table; the GIL must be held. Never NULL (an empty table when nothing is found). */
pyab_callees *pyab_callees_create(void);
/* The name of the function starting at fn (borrowed), NULL if none is known. */
const char *pyab_callees_name(const pyab_callees *cs, uintptr_t fn);
/* How many functions the table knows. */
size_t pyab_callees_count(const pyab_callees *cs);
void pyab_callees_destroy(pyab_callees *cs);

#endif
