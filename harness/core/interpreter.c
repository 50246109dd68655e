#include "interpreter.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void set_path(char **out, const char *base, const char *rel)
{
    free(*out);
    *out = pyab_path_join(base, rel);
}

int pyab_interpreter_parse(const pyab_where *w, pyab_config *cfg, json_t *py, const char *base)
{
    static const char *const builds[] = {"release", "debug"};
    char *runtime = NULL;
    int rc;

    pyab_keys_absolutise(py, "child", base);
    pyab_keys_absolutise(py, "home", base);
    pyab_keys_absolutise(py, "runtime", base);
    if ((rc = pyab_keys_string(w, py, "python", "child", &cfg->py_child)) < 0 ||
        (rc = pyab_keys_string(w, py, "python", "home", &cfg->py_home)) < 0 ||
        (rc = pyab_keys_string(w, py, "python", "runtime", &runtime)) < 0 ||
        (rc = pyab_keys_choice(w, py, "python", "build", builds, 2, &cfg->py_debug)) < 0)
        goto out;
    if (runtime && (cfg->py_child || cfg->py_home)) {
        rc = pyab_keys_fail(w, "python", "runtime",
                            "does not go with \"child\" or \"home\" (a runtime names both)");
        goto out;
    }
    if (cfg->py_home && cfg->py_child == NULL && runtime == NULL) {
        rc = pyab_keys_fail(w, "python", "home",
                            "needs \"child\" (the pyab-child built against that Python)");
        goto out;
    }
    if (runtime) {
        cfg->py_runtime = runtime;
        runtime = NULL;
        set_path(&cfg->py_child, cfg->py_runtime,
                 cfg->py_debug ? "pyab/pyab-child-debug" : "pyab/pyab-child");
        set_path(&cfg->py_home, cfg->py_runtime, "usr");
        set_path(&cfg->py_executable, cfg->py_runtime, "pyab/python3");
    } else if (cfg->py_home) {
        set_path(&cfg->py_executable, cfg->py_home, "bin/python3");
    }
out:
    free(runtime);
    return rc;
}

static int check(const pyab_where *w, const char *key, const char *file, int want_dir,
                 const char *hint)
{
    struct stat st;
    char what[1200];

    if (stat(file, &st) == 0 && (S_ISDIR(st.st_mode) ? 1 : 0) == want_dir &&
        (want_dir || access(file, X_OK) == 0))
        return 0;
    snprintf(what, sizeof(what), "%s: %s%s", file,
             stat(file, &st) != 0 ? strerror(errno)
             : want_dir           ? "not a folder"
                                  : "not an executable file",
             hint);
    return pyab_keys_fail(w, "python", key, what);
}

int pyab_interpreter_check_files(const pyab_where *w, const pyab_config *cfg)
{
    int rc = 0;

    if (cfg->py_runtime) {
        char *hint = xasprintf(" (make it with tools/runtime.sh SUITE %s%s)", cfg->py_runtime,
                               cfg->py_debug ? ", with PYAB_RUNTIME_DEBUG=1" : "");
        if ((rc = check(w, "runtime", cfg->py_runtime, 1, hint)) == 0 &&
            (rc = check(w, "runtime", cfg->py_home, 1, hint)) == 0)
            rc = check(w, "runtime", cfg->py_child, 0, hint);
        free(hint);
        return rc;
    }
    if (cfg->py_child && (rc = check(w, "child", cfg->py_child, 0, "")) < 0)
        return rc;
    if (cfg->py_home)
        rc = check(w, "home", cfg->py_home, 1, "");
    return rc;
}
