#include "pyfacts.h"

#include <Python.h>
#include <gnu/libc-version.h>

#include "heap.h"

/*
 * The reference total of a debug build. 3.11 keeps one global
 * (_Py_GetRefTotal); 3.12 made it per interpreter and sums them under the
 * runtime's lock (_Py_GetGlobalRefTotal). Both read without the GIL: a
 * word that the interpreter updates as it runs, so a sample may be a few
 * references off the instant, never off the trend. Since 3.12 an
 * immortal object (None, small ints, interned strings) changes no count:
 * an extra reference to one shows nowhere.
 */
#if defined(Py_REF_DEBUG) && PY_VERSION_HEX >= 0x030C0000
#define REFTOTAL() _Py_GetGlobalRefTotal()
#define REFTOTAL_NAME "_Py_GetGlobalRefTotal (3.12+ debug build; immortal objects not counted)"
#elif defined(Py_REF_DEBUG)
#define REFTOTAL() _Py_GetRefTotal()
#define REFTOTAL_NAME "_Py_GetRefTotal (3.11 debug build)"
#else
#define REFTOTAL() ((Py_ssize_t)-1)
#define REFTOTAL_NAME "none (release build)"
#endif

/* The names of where_stack.c's and where.c's build-time choices (issue 14). */
#if PY_VERSION_HEX >= 0x030D0000
#define FRAMES_NAME "tstate->current_frame, _PyFrame_GetCode (3.13+)"
#elif PY_VERSION_HEX >= 0x030C0000
#define FRAMES_NAME "tstate->cframe->current_frame, f_code, C-stack frames skipped (3.12)"
#else
#define FRAMES_NAME "tstate->cframe->current_frame, f_code (3.11)"
#endif
#if PY_VERSION_HEX >= 0x030C0000
#define PREHEADER_NAME "GC head + managed dict and weakref slots (3.12+)"
#else
#define PREHEADER_NAME "GC head + managed dict slots (3.11)"
#endif

int64_t pyab_pyfacts_refcount_total(void)
{
    return (int64_t)REFTOTAL();
}

json_t *pyab_pyfacts_static(void)
{
    char short_version[32];
    json_t *pieces;

    snprintf(short_version, sizeof(short_version), "%d.%d.%d", PY_MAJOR_VERSION, PY_MINOR_VERSION,
             PY_MICRO_VERSION);
    pieces = json_pack("{s:s,s:s,s:s,s:s,s:s}", "heap_selftest", pyab_heap_selftest_when(),
                       "refcount_total", REFTOTAL_NAME, "gc_pause_timer",
                       "gc.callbacks (a C function; 3.12+ collects only at the eval breaker)",
                       "where_frames", FRAMES_NAME, "where_object_preheader", PREHEADER_NAME);
    /* Py_GetVersion() reads a string compiled into libpython; nothing is initialised. */
    return json_pack("{s:s,s:s,s:I,s:s,s:s,s:o}", "python", Py_GetVersion(), "python_short",
                     short_version, "python_hexversion", (json_int_t)PY_VERSION_HEX,
                     "python_build",
#ifdef Py_DEBUG
                     "debug",
#else
                     "release",
#endif
                     "glibc", gnu_get_libc_version(), "pieces", pieces);
}

/* str(sys.<name>), or null. New reference. */
static json_t *sys_string(const char *name)
{
    PyObject *o = PySys_GetObject(name); /* borrowed */
    const char *s = o && PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;

    PyErr_Clear();
    return s ? json_string(s) : json_null();
}

void pyab_pyfacts_add_running(json_t *facts)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *t = gc ? PyObject_CallMethod(gc, "get_threshold", NULL) : NULL;
    long th[3];

    if (t && PyArg_ParseTuple(t, "lll", &th[0], &th[1], &th[2]))
        json_object_set_new(facts, "gc_threshold_default",
                            json_pack("[III]", (json_int_t)th[0], (json_int_t)th[1],
                                      (json_int_t)th[2]));
    PyErr_Clear();
    Py_XDECREF(t);
    Py_XDECREF(gc);
    json_object_set_new(facts, "prefix", sys_string("prefix"));
    json_object_set_new(facts, "executable", sys_string("executable"));
}

json_t *pyab_pyfacts_probe(void)
{
    json_t *facts = pyab_pyfacts_static();
    PyConfig config;
    PyStatus st;

    /* Not the isolated configuration: PYTHONHOME says where a runtime's stdlib is. */
    PyConfig_InitPythonConfig(&config);
    config.parse_argv = 0;
    config.install_signal_handlers = 0;
    config.site_import = 0;
    st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        json_object_set_new(facts, "error",
                            json_sprintf("the interpreter did not start: %s%s%s",
                                         st.func ? st.func : "", st.func ? ": " : "",
                                         st.err_msg ? st.err_msg : "?"));
        return facts;
    }
    pyab_pyfacts_add_running(facts);
    return facts;
}
