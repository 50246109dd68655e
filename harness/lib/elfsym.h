/*
 * elfsym: which loaded object holds a code address, and which function.
 *
 * A snapshot of the process's objects (dl_iterate_phdr: each object's
 * executable segments, load bias, file and GNU build-id), sorted so that
 * "which object" is a binary search. Function names come from the
 * object's own file, read once per object on first use: `.symtab` when
 * the file has one, else `.dynsym`, or the `.symtab` of Debian's detached
 * debug file (/usr/lib/debug/.build-id/xx/yyyy.debug) when it is
 * installed. C++ names are demangled when the process has libstdc++'s
 * __cxa_demangle loaded. Used after a run, never on a hot path: it
 * allocates and reads files.
 */
#ifndef PYAB_ELFSYM_H
#define PYAB_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

typedef struct pyab_elfsym pyab_elfsym;

typedef struct pyab_elfsym_object {
    const char *path;     /* the file ("/proc/self/exe" resolved for the program) */
    const char *name;     /* its base name */
    const char *build_id; /* hex, or "" */
} pyab_elfsym_object;

/* Snapshot of the objects loaded now. New; destroy with pyab_elfsym_destroy. */
pyab_elfsym *pyab_elfsym_create(void);
void pyab_elfsym_destroy(pyab_elfsym *es);

/* The object holding code address pc, or NULL (borrowed, valid until destroy). */
const pyab_elfsym_object *pyab_elfsym_object_of(const pyab_elfsym *es, uintptr_t pc);

/*
 * The function holding pc (a return address: pc - 1 is looked up),
 * demangled, or NULL when no symbol covers it (a stripped internal
 * function). Borrowed, valid until destroy.
 */
const char *pyab_elfsym_function(pyab_elfsym *es, uintptr_t pc);

#endif
