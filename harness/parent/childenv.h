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
/* Frees what pyab_childenv_create returned; NULL does nothing. */
void pyab_childenv_destroy(char **env);

#endif
