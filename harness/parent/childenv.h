/*
 * childenv: the environment a rep's child starts with: this process's,
 * less what pyab sets itself (and PYAB_HISTORY, whose URL may carry a
 * password the service has no business with), plus the arm's allocator knobs
 * (MALLOC_ARENA_MAX, LD_PRELOAD, the thread caches turned off), its "env"
 * and the protocol descriptor's number.
 */
#ifndef PYAB_CHILDENV_H
#define PYAB_CHILDENV_H

#include "config.h"

/* A new NULL-terminated array of new "NAME=value" strings. */
char **pyab_childenv_create(const pyab_config *a);
/*
 * The native sampler library preloaded for arms with where.native:
 * $PYAB_NATIVE_LIB, else pyab-native.so beside pyab-child. New string.
 */
char *pyab_childenv_native_lib(void);
/* Frees what pyab_childenv_create returned; NULL does nothing. */
void pyab_childenv_destroy(char **env);

#endif
