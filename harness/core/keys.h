/*
 * keys: checks the keys of a JSON settings object, one value at a time.
 *
 * The scenario (scenario.h) and the arm settings it is made of (config.h)
 * are validated with these: each helper reads one optional key, checks its
 * type and range, and on a bad value fills the error with the file and the
 * full key path ("<file>: key \"arms.B.load.speed\": must be ..."), so every
 * message names the place. Absent keys leave *out alone: callers set
 * defaults first. All return 0 or -EINVAL with the error set; json_t
 * arguments are borrowed.
 */
#ifndef PYAB_KEYS_H
#define PYAB_KEYS_H

#include <jansson.h>

#include "util.h"

/* Where the values sit, for messages: "<file>: key \"<prefix><path>.<key>\"". */
typedef struct pyab_where {
    const char *file;
    const char *prefix; /* "" or "arms.NAME." */
    pyab_error *err;
} pyab_where;

/* Sets w->err to "<file>: key \"<prefix><path>.<key>\": <what>". Returns -EINVAL. */
int pyab_keys_fail(const pyab_where *w, const char *path, const char *key, const char *what);
/* 1 when key is one of list[0..n), else 0. */
int pyab_keys_in_list(const char *key, const char *const *list, size_t n);
/*
 * Fails with "unknown key (known here: ...)" for `key` at `path`, listing
 * known[0..n) then more[0..nmore) (more may be NULL). Returns -EINVAL.
 */
int pyab_keys_unknown(const pyab_where *w, const char *path, const char *key,
                      const char *const *known, size_t n, const char *const *more, size_t nmore);
/* Fails on the first key of obj that is not in allowed[0..n) (pyab_keys_unknown). */
int pyab_keys_check(const pyab_where *w, json_t *obj, const char *path,
                    const char *const *allowed, size_t n);

/* *out = parent[key] (borrowed, NULL when absent); fails when it is there but not an object. */
int pyab_keys_object(const pyab_where *w, json_t *parent, const char *path, const char *key,
                     json_t **out);
/* A number in [min, max]. */
int pyab_keys_number(const pyab_where *w, json_t *obj, const char *path, const char *key,
                     double min, double max, double *out);
/* An integer in [min, max]. */
int pyab_keys_long(const pyab_where *w, json_t *obj, const char *path, const char *key,
                   long min, long max, long *out);
/* true or false, as 1 or 0. */
int pyab_keys_bool(const pyab_where *w, json_t *obj, const char *path, const char *key,
                   int *out);
/* A non-empty string; *out (freed first) becomes a new copy. */
int pyab_keys_string(const pyab_where *w, json_t *obj, const char *path, const char *key,
                     char **out);
/* One of choices[0..n); *out becomes its index. */
int pyab_keys_choice(const pyab_where *w, json_t *obj, const char *path, const char *key,
                     const char *const *choices, size_t n, int *out);

/* Makes obj[key], a path relative to base_dir, absolute, in place; leaves other values alone. */
void pyab_keys_absolutise(json_t *obj, const char *key, const char *base_dir);

#endif
