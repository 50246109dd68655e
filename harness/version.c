/*
 * version: `pyab version`, and the versions recorded in every manifest.
 * Py_GetVersion() reads a string compiled into libpython and does not
 * initialise the interpreter, so the parent may call it.
 */
#include <Python.h>
#include <gnu/libc-version.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <uv.h>

#include "cmds.h"
#include "version.h"

json_t *pyab_version_json(void)
{
    struct utsname u;
    json_t *v = json_object();

    json_object_set_new(v, "pyab", json_string(PYAB_VERSION));
    json_object_set_new(v, "python", json_string(Py_GetVersion()));
    json_object_set_new(v, "python_embed", json_string(PYAB_PYTHON_EMBED));
    json_object_set_new(v, "python_hexversion", json_integer(PY_VERSION_HEX));
    json_object_set_new(v, "libuv", json_string(uv_version_string()));
    json_object_set_new(v, "jansson", json_string(JANSSON_VERSION));
    json_object_set_new(v, "glibc", json_string(gnu_get_libc_version()));
    json_object_set_new(v, "sanitize", json_string(PYAB_SANITIZE));
    if (uname(&u) == 0) {
        json_object_set_new(v, "kernel", json_sprintf("%s %s %s", u.sysname, u.release, u.machine));
    }
    return v;
}

int pyab_cmd_version(int argc, char **argv)
{
    printf("pyab %s\n", PYAB_VERSION);
    printf("python %s (embedded: %s)\n", Py_GetVersion(), PYAB_PYTHON_EMBED);
    printf("libuv %s\n", uv_version_string());
    printf("jansson %s\n", JANSSON_VERSION);
    printf("glibc %s\n", gnu_get_libc_version());
    printf("sanitize %s\n", PYAB_SANITIZE);
    return 0;
}
