/*
 * version: the versions pyab reports (`pyab version`) and records in every
 * manifest. The Python side comes from pyab-child (`--versions`), since
 * this program does not link libpython.
 */
#ifndef PYAB_VERSION_H
#define PYAB_VERSION_H

#include <jansson.h>

#include "util.h"

/*
 * Versions of pyab, the embedded Python (asked of pyab-child), libuv,
 * jansson, glibc, the kernel, and the sanitizers built in. New reference;
 * when the child cannot answer, "python" says why.
 */
json_t *pyab_version_json(void);

#endif
