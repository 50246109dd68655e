#include "version.h"

#include <gnu/libc-version.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <uv.h>

#include "build_config.h" /* PYAB_VERSION, PYAB_PYTHON_EMBED, PYAB_SANITIZE */
#include "rep.h"

/* pyab-child --versions, parsed; NULL when it cannot run or says nothing readable. */
static json_t *child_versions(void)
{
    const char *runtime = getenv("PYAB_CHILD") ? NULL : getenv("PYAB_RUNTIME");
    char *exe = pyab_rep_child_path();
    /* A runtime's child needs its PYTHONHOME, as in a rep (childenv.c). */
    char *cmd = runtime && *runtime
                    ? xasprintf("PYTHONHOME='%s/usr' '%s' --versions 2>/dev/null", runtime, exe)
                    : xasprintf("'%s' --versions 2>/dev/null", exe);
    FILE *p = popen(cmd, "r");
    json_t *v = NULL;

    if (p != NULL) {
        v = json_loadf(p, JSON_DISABLE_EOF_CHECK, NULL);
        pclose(p);
    }
    free(cmd);
    free(exe);
    return v;
}

json_t *pyab_version_json(void)
{
    struct utsname u;
    json_t *v = json_object(), *py = child_versions();

    json_object_set_new(v, "pyab", json_string(PYAB_VERSION));
    if (py != NULL) {
        /* The child's glibc (one built in another Debian's root has its own). */
        json_object_set(py, "child_glibc", json_object_get(py, "glibc"));
        json_object_del(py, "glibc");
        json_object_update(v, py);
        json_decref(py);
    } else {
        json_object_set_new(v, "python", json_string("unknown (pyab-child --versions failed)"));
    }
    /* The child says which libpython it was built against; an older one does not. */
    if (json_object_get(v, "python_embed") == NULL)
        json_object_set_new(v, "python_embed", json_string(PYAB_PYTHON_EMBED));
    json_object_set_new(v, "libuv", json_string(uv_version_string()));
    json_object_set_new(v, "jansson", json_string(JANSSON_VERSION));
    json_object_set_new(v, "glibc", json_string(gnu_get_libc_version()));
    json_object_set_new(v, "sanitize", json_string(PYAB_SANITIZE));
    if (uname(&u) == 0)
        json_object_set_new(v, "kernel", json_sprintf("%s %s %s", u.sysname, u.release, u.machine));
    return v;
}
