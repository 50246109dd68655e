#include "childenv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "build_config.h" /* PYAB_SANITIZE */
#include "protocol.h"
#include "rep.h"

extern char **environ;

static void add_env(char ***env, size_t *n, const char *fmt, ...) PYAB_PRINTF(3, 4);

static void add_env(char ***env, size_t *n, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    *env = xrealloc(*env, (*n + 2) * sizeof(char *));
    (*env)[(*n)++] = s;
    (*env)[*n] = NULL;
}

/*
 * A variable that lists settings (GLIBC_TUNABLES, MALLOC_CONF): the arm's
 * value, else ours, with `add` appended after `sep`.
 */
static void add_setting(char ***env, size_t *n, const pyab_config *a, const char *name,
                        char sep, const char *add)
{
    const char *have = a->env ? json_string_value(json_object_get(a->env, name)) : NULL;

    if (have == NULL)
        have = getenv(name);
    if (have && *have)
        add_env(env, n, "%s=%s%c%s", name, have, sep, add);
    else
        add_env(env, n, "%s=%s", name, add);
}

/*
 * Allocator thread caches hold blocks the program freed while the
 * allocator's statistics still count them as in use (glibc's tcache in
 * mallinfo2, jemalloc's tcache in stats.allocated): freed Python blocks
 * would read as native growth. allocator.thread_caches "off" (the
 * default) turns them off in the child, so the native curve measures what
 * the service holds; tcmalloc's statistics already exclude its caches.
 */
static const char *cache_variable(const pyab_config *a)
{
    if (a->allocator_caches)
        return NULL;
    return a->preload_name && strcmp(a->preload_name, "jemalloc") == 0 ? "MALLOC_CONF"
                                                                        : "GLIBC_TUNABLES";
}

static void add_cache_settings(char ***env, size_t *n, const pyab_config *a)
{
    const char *var = cache_variable(a);

    if (var && strcmp(var, "MALLOC_CONF") == 0)
        add_setting(env, n, a, var, ',', "tcache:false");
    else if (var)
        add_setting(env, n, a, var, ':', "glibc.malloc.tcache_count=0");
}

/* Whether the entry NAME=... of environ names `var`. */
static int names(const char *entry, const char *var)
{
    return var && strncmp(entry, var, strlen(var)) == 0 && entry[strlen(var)] == '=';
}

char *pyab_childenv_native_lib(void)
{
    const char *env = getenv("PYAB_NATIVE_LIB");
    char *child, *dir, *lib;

    if (env && *env)
        return xstrdup(env);
    child = pyab_rep_child_path();
    dir = pyab_path_dirname(child);
    lib = pyab_path_join(dir, "pyab-native.so");
    free(child);
    free(dir);
    return lib;
}

char **pyab_childenv_create(const pyab_config *a)
{
    static const char *const drop[] = {"PYTHONMALLOC=", "LD_PRELOAD=", "MALLOC_ARENA_MAX=",
                                       "MALLOC_MMAP_THRESHOLD_=", "MALLOC_TRIM_THRESHOLD_=",
                                       PYAB_PROTOCOL_FD_ENV "=", "PYTHONHASHSEED=",
                                       /* pyab's own: its URL may hold a password */
                                       "PYAB_HISTORY="};
    const char *cache_var = cache_variable(a);
    /* PYAB_RUNTIME: every arm that names no interpreter runs that runtime's (rep.c). */
    const char *runtime = getenv("PYAB_CHILD") ? NULL : getenv("PYAB_RUNTIME");
    char **env = NULL;
    size_t n = 0;
    const char *key;
    json_t *v;

    for (char **e = environ; *e; e++) {
        int skip = 0;
        for (size_t i = 0; i < PYAB_ARRAY_LEN(drop); i++)
            skip |= strncmp(*e, drop[i], strlen(drop[i])) == 0;
        skip |= names(*e, cache_var);
        skip |= (a->py_home || (runtime && *runtime)) && names(*e, "PYTHONHOME");
        if (a->env)
            json_object_foreach(a->env, key, v)
                skip |= strncmp(*e, key, strlen(key)) == 0 && (*e)[strlen(key)] == '=';
        if (!skip)
            add_env(&env, &n, "%s", *e);
    }
    add_env(&env, &n, "%s=%d", PYAB_PROTOCOL_FD_ENV, PYAB_PROTOCOL_FD_DEFAULT);
    /* Another interpreter's stdlib, for its child only: pyab itself runs no Python. */
    if (a->py_home)
        add_env(&env, &n, "PYTHONHOME=%s", a->py_home);
    else if (runtime && *runtime)
        add_env(&env, &n, "PYTHONHOME=%s/usr", runtime);
    if (a->malloc_arena_max)
        add_env(&env, &n, "MALLOC_ARENA_MAX=%ld", a->malloc_arena_max);
    if (a->mmap_threshold >= 0)
        add_env(&env, &n, "MALLOC_MMAP_THRESHOLD_=%ld", a->mmap_threshold);
    if (a->trim_threshold >= 0)
        add_env(&env, &n, "MALLOC_TRIM_THRESHOLD_=%ld", a->trim_threshold);
    if (a->where_native && strcmp(PYAB_SANITIZE, "none") == 0) {
        /* The sampler goes first, so the arm's allocator stays the one
         * its calls forward to; an arm without where.native pays nothing.
         * Not under ASan, whose runtime must come first: the child then
         * says that the rep has no native sampling. */
        char *lib = pyab_childenv_native_lib();
        add_env(&env, &n, "LD_PRELOAD=%s%s%s", lib, a->preload ? ":" : "",
                a->preload ? a->preload : "");
        free(lib);
    } else if (a->preload) {
        add_env(&env, &n, "LD_PRELOAD=%s", a->preload);
    }
    if (a->env)
        json_object_foreach(a->env, key, v)
            if (!cache_var || strcmp(key, cache_var) != 0)
                add_env(&env, &n, "%s=%s", key, json_string_value(v));
    add_cache_settings(&env, &n, a);
    return env;
}

void pyab_childenv_destroy(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}
