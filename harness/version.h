/* version: the versions pyab reports and records in manifests. */
#ifndef PYAB_VERSION_H
#define PYAB_VERSION_H

#include <jansson.h>

#include "config.h"

/* Versions of pyab, the embedded Python, libuv, jansson, glibc, kernel. New reference. */
json_t *pyab_version_json(void);

#endif
