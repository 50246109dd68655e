#include "interp.h"

#include <string.h>
#include <unistd.h>

#include "bootstrap_py.h" /* bootstrap_py: generated from bootstrap.py by tools/embed.c */
#include "heap.h"
#include "pymod.h"

/* Exported by libpython 3.8+ but private; read before pyab's hooks wrap it. */
extern const char *_PyMem_GetCurrentAllocatorName(void);

static PyObject *boot; /* the bootstrap module's namespace (owned) */
static char allocator_name[64] = "unknown";

static int status_error(PyStatus st, const char *what, pyab_error *err)
{
    return pyab_error_internal(err, "%s failed: %s%s%s", what, st.func ? st.func : "",
                               st.func ? ": " : "", st.err_msg ? st.err_msg : "");
}

static int pre_init(const pyab_config *cfg, pyab_error *err)
{
    PyPreConfig pre;
    PyStatus st;

    PyPreConfig_InitPythonConfig(&pre);
    if (strcmp(cfg->py_allocator, "malloc") == 0)
        pre.allocator = PYMEM_ALLOCATOR_MALLOC;
    else if (strcmp(cfg->py_allocator, "pymalloc_debug") == 0)
        pre.allocator = PYMEM_ALLOCATOR_PYMALLOC_DEBUG;
    else
        pre.allocator = PYMEM_ALLOCATOR_PYMALLOC;
    st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st))
        return status_error(st, "Py_PreInitialize", err);
    const char *name = _PyMem_GetCurrentAllocatorName();
    snprintf(allocator_name, sizeof(allocator_name), "%s", name ? name : "custom");
    return 0;
}

int pyab_interp_init(const pyab_config *cfg, pyab_error *err)
{
    PyConfig config;
    PyStatus st;
    int rc;

    if ((rc = pre_init(cfg, err)) < 0)
        return rc;
    /* pymalloc_debug pads every block, so its block sizes say little:
     * count requested sizes there. "off" exists to measure the hooks' cost. */
    if (cfg->pyheap_mode != 2) {
        int mode = cfg->pyheap_mode == 1 || strcmp(cfg->py_allocator, "pymalloc_debug") == 0
                       ? PYAB_HEAP_REQUESTED
                       : PYAB_HEAP_BLOCKS;
        if ((rc = pyab_heap_install(mode, err)) < 0)
            return rc;
    }
    if (PyImport_AppendInittab("pyab", pyab_pymod_init) < 0)
        return pyab_error_internal(err, "cannot register the built-in pyab module");
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    /* A crash in the service dumps every thread's Python stack into the
     * rep's stderr.log, so a crashed rep says where it crashed. */
    config.faulthandler = 1;
    config.parse_argv = 0;
    config.use_hash_seed = 1;
    config.hash_seed = (unsigned long)(cfg->seed % 4294967296ull);
    st = PyConfig_SetBytesString(&config, &config.program_name, "python3");
    /* Another interpreter's arm: sys.executable is that interpreter (a
     * runtime's wrapper runs it on this host), not the first python3 on PATH. */
    if (!PyStatus_Exception(st) && cfg->py_executable && access(cfg->py_executable, X_OK) == 0)
        st = PyConfig_SetBytesString(&config, &config.executable, cfg->py_executable);
    if (!PyStatus_Exception(st)) {
        char *argv[] = {(char *)"pyab-service"};
        st = PyConfig_SetBytesArgv(&config, 1, argv);
    }
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st))
        return status_error(st, "Py_InitializeFromConfig", err);
    if (cfg->pyheap_mode != 2)
        pyab_heap_selftest();
    return 0;
}

char *pyab_interp_format_exception(PyObject *exc)
{
    PyObject *fmt = boot ? PyDict_GetItemString(boot, "format_exception") : NULL;
    PyObject *s = fmt ? PyObject_CallOneArg(fmt, exc) : NULL;
    const char *text = s ? PyUnicode_AsUTF8(s) : NULL;
    char *out;

    if (text == NULL) {
        PyErr_Clear();
        PyObject *r = PyObject_Repr(exc);
        text = r ? PyUnicode_AsUTF8(r) : NULL;
        out = xstrdup(text ? text : "(exception could not be formatted)");
        Py_XDECREF(r);
        PyErr_Clear();
    } else {
        out = xstrdup(text);
    }
    Py_XDECREF(s);
    return out;
}

PyObject *pyab_interp_take_exception(void)
{
    PyObject *type, *value, *tb;

    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL)
        return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* Turns the pending Python exception into err. */
static int python_error(pyab_error *err, const char *what)
{
    PyObject *exc = pyab_interp_take_exception();
    char *tb = exc ? pyab_interp_format_exception(exc) : xstrdup("(no exception)");

    pyab_error_set(err, "%s:\n%s", what, tb);
    free(tb);
    Py_XDECREF(exc);
    return -EINVAL;
}

static PyObject *call_boot(const char *fn, const char *fmt, ...)
{
    PyObject *f = PyDict_GetItemString(boot, fn), *args, *res;
    va_list ap;

    va_start(ap, fmt);
    args = Py_VaBuildValue(fmt, ap);
    va_end(ap);
    res = args ? PyObject_Call(f, args, NULL) : NULL;
    Py_XDECREF(args);
    return res;
}

static PyObject *string_list(char **items, size_t n)
{
    PyObject *list = PyList_New((Py_ssize_t)n);

    for (size_t i = 0; list && i < n; i++)
        PyList_SET_ITEM(list, (Py_ssize_t)i, PyUnicode_FromString(items[i]));
    return list;
}

static PyObject *json_to_dict(json_t *obj)
{
    PyObject *d = PyDict_New();
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        PyObject *s = PyUnicode_FromString(json_string_value(v));
        PyDict_SetItemString(d, key, s);
        Py_XDECREF(s);
    }
    return d;
}

static int run_bootstrap(pyab_error *err)
{
    PyObject *code, *r;

    boot = PyDict_New();
    PyDict_SetItemString(boot, "__builtins__", PyEval_GetBuiltins());
    PyObject *name = PyUnicode_FromString("_pyab_bootstrap");
    PyDict_SetItemString(boot, "__name__", name);
    Py_XDECREF(name);
    code = Py_CompileString((const char *)bootstrap_py, "<pyab bootstrap.py>", Py_file_input);
    if (code == NULL)
        return python_error(err, "pyab's bootstrap failed to compile");
    r = PyEval_EvalCode(code, boot, boot);
    Py_DECREF(code);
    if (r == NULL)
        return python_error(err, "pyab's bootstrap failed");
    Py_DECREF(r);
    return 0;
}

PyObject *pyab_interp_load(const pyab_config *cfg, pyab_error *err)
{
    static const char *const kinds[] = {"path", "module", "wsgi", "asgi"};
    PyObject *paths, *mocks, *r;

    if (run_bootstrap(err) < 0)
        return NULL;
    paths = string_list(cfg->sys_path, cfg->nsys_path);
    r = call_boot("add_paths", "(Os)", paths, cfg->venv);
    Py_XDECREF(paths);
    if (r == NULL) {
        python_error(err, "python.path / python.venv");
        return NULL;
    }
    Py_DECREF(r);
    if (cfg->mocks && json_object_size(cfg->mocks)) {
        mocks = json_to_dict(cfg->mocks);
        r = call_boot("install_mocks", "(O)", mocks);
        Py_XDECREF(mocks);
        if (r == NULL) {
            python_error(err, "mocks: a stand-in module failed to import");
            return NULL;
        }
        Py_DECREF(r);
    }
    r = call_boot("load_app", "(sss)", kinds[cfg->app_kind], cfg->app_target,
                  cfg->handler ? cfg->handler : "");
    if (r == NULL)
        python_error(err, "app: importing the service failed");
    return r;
}

/* bootstrap.mocks_served() as JSON (null without mocks); GIL held. New reference. */
static json_t *mocks_served(void)
{
    PyObject *r = boot ? call_boot("mocks_served", "()") : NULL;
    const char *text = r ? PyUnicode_AsUTF8(r) : NULL;
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;

    PyErr_Clear();
    Py_XDECREF(r);
    return j ? j : json_null();
}

json_t *pyab_interp_readback(void)
{
    json_t *j = json_object();

    json_object_set_new(j, "python_version", json_string(Py_GetVersion()));
    json_object_set_new(j, "python_allocator", json_string(allocator_name));
    json_object_set_new(j, "pyheap_mode", json_string(pyab_heap_mode_name()));
    json_object_set_new(j, "hash_seed_fixed", json_true());
    json_object_set_new(j, "mocks_served", mocks_served());
    return j;
}
