#include "gcwatch.h"

#include <Python.h>
#include <stdatomic.h>
#include <string.h>

#define RING_SIZE 65536

static _Atomic uint64_t collections, pause_ns, by_gen[3];
static uint64_t started_ns;
static pyab_gc_event ring[RING_SIZE];
static size_t ring_head, ring_tail; /* both touched only with the GIL held */
static uint64_t ring_dropped;
static PyObject *gc_module; /* owned */
static PyObject *key_generation, *key_collected, *key_uncollectable; /* owned */

static long dict_long(PyObject *info, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(info, key); /* borrowed */

    if (v == NULL) {
        PyErr_Clear();
        return 0;
    }
    long n = PyLong_AsLong(v);
    if (n == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return n;
}

static PyObject *on_gc(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    uint64_t now = pyab_now_ns();
    const char *phase;
    pyab_gc_event *ev;
    long gen;

    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1]))
        Py_RETURN_NONE;
    phase = PyUnicode_AsUTF8(args[0]);
    if (phase == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (strcmp(phase, "start") == 0) {
        started_ns = now;
        Py_RETURN_NONE;
    }
    gen = dict_long(args[1], key_generation);
    if (gen < 0 || gen > 2)
        gen = 2;
    atomic_fetch_add_explicit(&collections, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pause_ns, now - started_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&by_gen[gen], 1, memory_order_relaxed);
    if (ring_head - ring_tail == RING_SIZE) {
        ring_dropped++;
        Py_RETURN_NONE;
    }
    ev = &ring[ring_head++ % RING_SIZE];
    ev->gen = (int)gen;
    ev->start_ns = started_ns;
    ev->duration_ns = now - started_ns;
    ev->collected = dict_long(args[1], key_collected);
    ev->uncollectable = dict_long(args[1], key_uncollectable);
    Py_RETURN_NONE;
}

static PyMethodDef on_gc_def = {"pyab_gc_timer", (PyCFunction)(void (*)(void))on_gc,
                                METH_FASTCALL, "pyab's C-side GC pause timer."};

int pyab_gcwatch_install(int timer, pyab_error *err)
{
    PyObject *callbacks, *fn;
    int rc;

    gc_module = PyImport_ImportModule("gc");
    if (gc_module == NULL)
        goto fail;
    if (!timer)
        return 0;
    key_generation = PyUnicode_InternFromString("generation");
    key_collected = PyUnicode_InternFromString("collected");
    key_uncollectable = PyUnicode_InternFromString("uncollectable");
    callbacks = PyObject_GetAttrString(gc_module, "callbacks");
    if (callbacks == NULL)
        goto fail;
    fn = PyCFunction_New(&on_gc_def, NULL);
    rc = fn ? PyList_Append(callbacks, fn) : -1;
    Py_XDECREF(fn);
    Py_DECREF(callbacks);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    PyErr_Clear();
    return pyab_error_internal(err, "cannot install the GC pause timer in gc.callbacks");
}

void pyab_gcwatch_totals(pyab_gc_totals *out)
{
    out->collections = atomic_load_explicit(&collections, memory_order_relaxed);
    out->pause_ns = atomic_load_explicit(&pause_ns, memory_order_relaxed);
    for (int i = 0; i < 3; i++)
        out->by_gen[i] = atomic_load_explicit(&by_gen[i], memory_order_relaxed);
}

size_t pyab_gcwatch_drain(pyab_gc_event *out, size_t max)
{
    size_t n = 0;

    while (ring_tail != ring_head && n < max)
        out[n++] = ring[ring_tail++ % RING_SIZE];
    return n;
}

uint64_t pyab_gcwatch_dropped(void)
{
    return ring_dropped;
}

static PyObject *call(const char *name, const char *fmt, ...)
{
    PyObject *fn = PyObject_GetAttrString(gc_module, name), *args, *res;
    va_list ap;

    if (fn == NULL)
        return NULL;
    va_start(ap, fmt);
    args = Py_VaBuildValue(fmt, ap);
    va_end(ap);
    res = args ? PyObject_Call(fn, args, NULL) : NULL;
    Py_XDECREF(args);
    Py_DECREF(fn);
    return res;
}

static int set_threshold(const long t[3])
{
    PyObject *r = call("set_threshold", "(lll)", t[0], t[1], t[2]);

    Py_XDECREF(r);
    return r ? 0 : -1;
}

static int get_threshold(long t[3])
{
    PyObject *r = call("get_threshold", "()");
    int ok = r && PyArg_ParseTuple(r, "lll", &t[0], &t[1], &t[2]);

    Py_XDECREF(r);
    if (!ok)
        PyErr_Clear();
    return ok ? 0 : -1;
}

int pyab_gcwatch_apply(const pyab_config *cfg, pyab_error *err)
{
    if (cfg->gc_enabled)
        PyGC_Enable();
    else
        PyGC_Disable();
    if (cfg->gc_has_threshold && set_threshold(cfg->gc_threshold) < 0) {
        PyErr_Clear();
        return pyab_error_internal(err, "gc.set_threshold failed");
    }
    return 0;
}

long pyab_gcwatch_freeze(void)
{
    PyObject *r;
    long n;

    PyGC_Collect();
    r = call("freeze", "()");
    Py_XDECREF(r);
    r = call("get_freeze_count", "()");
    n = r ? PyLong_AsLong(r) : -1;
    Py_XDECREF(r);
    PyErr_Clear();
    return n;
}

void pyab_gcwatch_collect(int generation)
{
    PyObject *r = call("collect", "(i)", generation);

    Py_XDECREF(r);
    PyErr_Clear();
}

json_t *pyab_gcwatch_readback(void)
{
    json_t *j = json_object();
    long t[3];
    PyObject *r;

    json_object_set_new(j, "enabled", json_boolean(PyGC_IsEnabled()));
    if (get_threshold(t) == 0)
        json_object_set_new(j, "threshold", json_pack("[iii]", (int)t[0], (int)t[1], (int)t[2]));
    r = call("get_freeze_count", "()");
    if (r)
        json_object_set_new(j, "freeze_count", json_integer(PyLong_AsLong(r)));
    Py_XDECREF(r);
    PyErr_Clear();
    return j;
}

int pyab_gcwatch_verify(const pyab_config *cfg, char *msg, size_t size)
{
    long t[3];
    int enabled = PyGC_IsEnabled(), changed = 0;

    msg[0] = '\0';
    if (enabled != cfg->gc_enabled) {
        snprintf(msg, size, "the service %s the collector (gc.%s()); pyab put it back",
                 enabled ? "enabled" : "disabled", enabled ? "enable" : "disable");
        changed = 1;
    } else if (cfg->gc_has_threshold && get_threshold(t) == 0 &&
               (t[0] != cfg->gc_threshold[0] || t[1] != cfg->gc_threshold[1] ||
                t[2] != cfg->gc_threshold[2])) {
        snprintf(msg, size, "the service set gc thresholds to [%ld, %ld, %ld]; pyab put "
                 "[%ld, %ld, %ld] back", t[0], t[1], t[2], cfg->gc_threshold[0],
                 cfg->gc_threshold[1], cfg->gc_threshold[2]);
        changed = 1;
    }
    if (changed)
        pyab_gcwatch_apply(cfg, NULL);
    return changed;
}

void pyab_gcwatch_counts(long counts[3])
{
    PyObject *r = call("get_count", "()");

    counts[0] = counts[1] = counts[2] = 0;
    if (r == NULL || !PyArg_ParseTuple(r, "lll", &counts[0], &counts[1], &counts[2]))
        PyErr_Clear();
    Py_XDECREF(r);
}
