/*
 * pyfacts: what the embedded interpreter is, and the pieces of pyab that
 * depend on its version, chosen when pyab-child was compiled.
 *
 * `pyab-child --versions` prints these facts (cmd/child.c); the parent
 * records them per arm in the manifest, refuses a child of another pyab
 * version and warns when arms differ in Python and glibc. A debug
 * interpreter (Py_REF_DEBUG) also keeps a total of every reference count,
 * sys.gettotalrefcount(), which the samples carry as refcount_total.
 */
#ifndef PYAB_PYFACTS_H
#define PYAB_PYFACTS_H

#include <jansson.h>
#include <stdint.h>

/*
 * The facts known without initialising the interpreter: version, hex
 * version, build ("debug" or "release"), glibc, and under "pieces" the
 * version-dependent parts. New reference.
 */
json_t *pyab_pyfacts_static(void);

/*
 * Adds what only an initialised interpreter tells (its default GC
 * thresholds, sys.prefix, sys.executable) to facts; the GIL held.
 */
void pyab_pyfacts_add_running(json_t *facts);

/*
 * Initialises an interpreter without site (PYTHONHOME counts) and
 * returns pyab_pyfacts_static() plus the running facts, or with "error"
 * saying why the interpreter did not start. For --versions only: the
 * process must exit afterwards. New reference.
 */
json_t *pyab_pyfacts_probe(void);

/* sys.gettotalrefcount() of a debug build, read without the GIL; -1 on a release build. */
int64_t pyab_pyfacts_refcount_total(void);

#endif
