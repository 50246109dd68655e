#include "pymod.h"

#include <frameobject.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "heap.h"
#include "sample.h"
#include "util.h"

#define MAX_SITES 512

typedef struct site {
    char *where;       /* "file:line" of the Python caller */
    const char *function;
    uint64_t calls;
    uint64_t bytes;
} site;

/* Touched only with the GIL held. The last slot collects the sites past
 * MAX_SITES - 1, so a service calling from many places still adds up. */
static site sites[MAX_SITES];
static size_t nsites;
/* native_call: calls running now, and calls ever started (an overlap is
 * any other call running at our start, or starting before our end). */
static _Atomic int native_in_flight;
static _Atomic uint64_t native_started;

static void count_site(const char *function, uint64_t bytes)
{
    PyFrameObject *frame = PyEval_GetFrame(); /* borrowed */
    char where[512] = "?";

    if (frame != NULL) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        const char *file = PyUnicode_AsUTF8(code->co_filename);
        snprintf(where, sizeof(where), "%s:%d", file ? file : "?", PyFrame_GetLineNumber(frame));
        Py_DECREF(code);
        PyErr_Clear();
    }
    for (size_t i = 0; i < nsites; i++) {
        if (strcmp(sites[i].function, function) == 0 && strcmp(sites[i].where, where) == 0) {
            sites[i].calls++;
            sites[i].bytes += bytes;
            return;
        }
    }
    if (nsites == MAX_SITES - 1)
        sites[nsites++] = (site){xstrdup("(other sites)"), "(any)", 0, 0};
    if (nsites == MAX_SITES) {
        sites[MAX_SITES - 1].calls++;
        sites[MAX_SITES - 1].bytes += bytes;
        return;
    }
    sites[nsites++] = (site){xstrdup(where), function, 1, bytes};
}

/* The key of site i: "file:line", or "file:line function" when another
 * function was called from the same line (keys must stay unique). New string. */
static char *site_key(size_t i)
{
    for (size_t j = 0; j < nsites; j++)
        if (j != i && strcmp(sites[j].where, sites[i].where) == 0)
            return xasprintf("%s %s", sites[i].where, sites[i].function);
    return xstrdup(sites[i].where);
}

json_t *pyab_pymod_counters(void)
{
    json_t *j = json_object();

    for (size_t i = 0; i < nsites; i++) {
        char *key = site_key(i);
        json_object_set_new(j, key,
                            json_pack("{s:s,s:I,s:I}", "function", sites[i].function, "calls",
                                      (json_int_t)sites[i].calls, "bytes",
                                      (json_int_t)sites[i].bytes));
        free(key);
    }
    return j;
}

/* Writes one byte a page so the memory is resident, as real data would be. */
static void touch(char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 4096)
        p[i] = 1;
    if (n)
        p[n - 1] = 1;
}

static void *native_alloc(size_t n, int use_mmap)
{
    void *p;

    if (use_mmap) {
        p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
    } else if ((p = malloc(n ? n : 1)) == NULL) {
        return NULL;
    }
    touch(p, n);
    return p;
}

/* A buffer whose payload is native memory, freed when the object dies. */
typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t size;
    int use_mmap;
    Py_ssize_t exports; /* views handed out and not released: free() must wait */
} NativeBuffer;

static void buffer_release(NativeBuffer *self)
{
    if (self->data == NULL)
        return;
    if (self->use_mmap)
        munmap(self->data, (size_t)(self->size ? self->size : 1));
    else
        free(self->data);
    self->data = NULL;
}

static void buffer_dealloc(NativeBuffer *self)
{
    buffer_release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int buffer_getbuffer(NativeBuffer *self, Py_buffer *view, int flags)
{
    if (self->data == NULL) {
        PyErr_SetString(PyExc_ValueError, "native buffer was freed");
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->size, 0, flags) < 0)
        return -1;
    self->exports++;
    return 0;
}

static void buffer_releasebuffer(NativeBuffer *self, Py_buffer *view)
{
    self->exports--;
}

static PyObject *buffer_free(NativeBuffer *self, PyObject *unused)
{
    /* Freeing under a live memoryview (or a numpy array made with
     * frombuffer) would leave it reading freed memory. */
    if (self->exports > 0)
        return PyErr_Format(PyExc_BufferError, "cannot free: %zd view(s) of this buffer "
                            "are still alive", self->exports);
    buffer_release(self);
    Py_RETURN_NONE;
}

static PyObject *buffer_nbytes(NativeBuffer *self, void *unused)
{
    return PyLong_FromSsize_t(self->data ? self->size : 0);
}

static PyBufferProcs buffer_procs = {(getbufferproc)buffer_getbuffer,
                                     (releasebufferproc)buffer_releasebuffer};
static PyMethodDef buffer_methods[] = {
    {"free", (PyCFunction)buffer_free, METH_NOARGS, "Free the native payload now."},
    {NULL},
};
static PyGetSetDef buffer_getset[] = {
    {"nbytes", (getter)buffer_nbytes, NULL, "Bytes of native payload held.", NULL},
    {NULL},
};

static PyTypeObject NativeBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyab.NativeBuffer",
    .tp_basicsize = sizeof(NativeBuffer),
    .tp_dealloc = (destructor)buffer_dealloc,
    .tp_as_buffer = &buffer_procs,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Native memory outside the Python heap, like an array's payload.",
    .tp_methods = buffer_methods,
    .tp_getset = buffer_getset,
};

static int parse_kind(const char *kind, int *use_mmap)
{
    if (strcmp(kind, "malloc") == 0)
        *use_mmap = 0;
    else if (strcmp(kind, "mmap") == 0)
        *use_mmap = 1;
    else {
        PyErr_Format(PyExc_ValueError, "kind must be 'malloc' or 'mmap', not '%s'", kind);
        return -1;
    }
    return 0;
}

static PyObject *mod_leak(PyObject *m, PyObject *args, PyObject *kw)
{
    static const char *kwlist[] = {"nbytes", "kind", NULL};
    Py_ssize_t n;
    const char *kind = "malloc";
    int use_mmap;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|s", (char **)kwlist, &n, &kind) ||
        parse_kind(kind, &use_mmap) < 0)
        return NULL;
    if (n < 0)
        return PyErr_Format(PyExc_ValueError, "nbytes must be >= 0");
    if (native_alloc((size_t)n, use_mmap) == NULL)
        return PyErr_NoMemory();
    count_site(use_mmap ? "leak(mmap)" : "leak(malloc)", (uint64_t)n);
    Py_RETURN_NONE;
}

static PyObject *mod_buffer(PyObject *m, PyObject *args, PyObject *kw)
{
    static const char *kwlist[] = {"nbytes", "kind", NULL};
    Py_ssize_t n;
    const char *kind = "malloc";
    NativeBuffer *b;
    int use_mmap;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|s", (char **)kwlist, &n, &kind) ||
        parse_kind(kind, &use_mmap) < 0)
        return NULL;
    if (n < 0)
        return PyErr_Format(PyExc_ValueError, "nbytes must be >= 0");
    b = PyObject_New(NativeBuffer, &NativeBufferType);
    if (b == NULL)
        return NULL;
    b->size = n;
    b->use_mmap = use_mmap;
    b->exports = 0;
    b->data = native_alloc((size_t)n, use_mmap);
    if (b->data == NULL) {
        Py_DECREF(b);
        return PyErr_NoMemory();
    }
    count_site(use_mmap ? "buffer(mmap)" : "buffer(malloc)", (uint64_t)n);
    return (PyObject *)b;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A duration for the calls below: finite, >= 0 and under a day (a negative
 * or NaN one would otherwise spin or sleep for ever). */
static int check_seconds(double s)
{
    if (!(s >= 0 && s <= 86400)) {
        char num[64];
        snprintf(num, sizeof(num), "%g", s);
        PyErr_Format(PyExc_ValueError, "seconds must be between 0 and 86400, not %s", num);
        return -1;
    }
    return 0;
}

static void spin_s(double s)
{
    uint64_t end = pyab_now_ns() + (uint64_t)(s * 1e9);
    while (pyab_now_ns() < end)
        ;
}

static PyObject *mod_hold_gil(PyObject *m, PyObject *arg)
{
    double s = PyFloat_AsDouble(arg);

    if ((s == -1 && PyErr_Occurred()) || check_seconds(s) < 0)
        return NULL;
    count_site("hold_gil", 0);
    spin_s(s);
    Py_RETURN_NONE;
}

static PyObject *mod_release_gil(PyObject *m, PyObject *args, PyObject *kw)
{
    static const char *kwlist[] = {"seconds", "busy", NULL};
    double s;
    int busy = 0;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "d|p", (char **)kwlist, &s, &busy) ||
        check_seconds(s) < 0)
        return NULL;
    count_site("release_gil", 0);
    Py_BEGIN_ALLOW_THREADS
    if (busy)
        spin_s(s);
    else
        sleep_s(s);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/*
 * A native call that releases the GIL for `seconds` and, like a library
 * with unsynchronised internal caches, leaks `leak_on_overlap` bytes of
 * malloc'd memory whenever another such call ran at the same time: one
 * running when it started, or one that started before it ended (so a call
 * that another begins and ends inside counts too, not only the inner one).
 */
static PyObject *mod_native_call(PyObject *m, PyObject *args, PyObject *kw)
{
    static const char *kwlist[] = {"seconds", "leak_on_overlap", NULL};
    double s;
    Py_ssize_t leak = 0;
    int overlapped;
    uint64_t started;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "d|n", (char **)kwlist, &s, &leak) ||
        check_seconds(s) < 0)
        return NULL;
    if (leak < 0)
        return PyErr_Format(PyExc_ValueError, "leak_on_overlap must be >= 0");
    Py_BEGIN_ALLOW_THREADS
    started = atomic_fetch_add(&native_started, 1);
    overlapped = atomic_fetch_add(&native_in_flight, 1) > 0;
    sleep_s(s);
    overlapped |= atomic_fetch_sub(&native_in_flight, 1) > 1;
    overlapped |= atomic_load(&native_started) != started + 1;
    if (overlapped && leak > 0)
        native_alloc((size_t)leak, 0);
    Py_END_ALLOW_THREADS
    count_site(overlapped && leak > 0 ? "native_call(leaked)" : "native_call",
               overlapped && leak > 0 ? (uint64_t)leak : 0);
    return PyBool_FromLong(overlapped);
}

static PyObject *mod_leak_ref(PyObject *m, PyObject *obj)
{
    /* The missing Py_DECREF of a C extension that gets ownership wrong. */
    Py_INCREF(obj);
    count_site("leak_ref", 0);
    Py_RETURN_NONE;
}

static PyObject *mod_counters(PyObject *m, PyObject *unused)
{
    PyObject *d = PyDict_New();

    for (size_t i = 0; d && i < nsites; i++) {
        PyObject *v = Py_BuildValue("{s:s,s:K,s:K}", "function", sites[i].function, "calls",
                                    (unsigned long long)sites[i].calls, "bytes",
                                    (unsigned long long)sites[i].bytes);
        char *key = site_key(i);
        int rc = v ? PyDict_SetItemString(d, key, v) : -1;
        free(key);
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *mod_heap_bytes(PyObject *m, PyObject *unused)
{
    pyab_heap_stats hs;

    pyab_heap_read(&hs);
    return PyLong_FromLongLong(hs.live_bytes);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* For the benchmarks: the median cost in ns of taking and formatting one
 * full sample, with the GIL held as the sampler holds it. */
static PyObject *mod_bench_sample(PyObject *m, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    uint64_t *t;
    pyab_buf row;

    if (n <= 0)
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "n must be > 0");
    t = xmalloc((size_t)n * sizeof(*t));
    pyab_buf_init(&row);
    for (Py_ssize_t i = 0; i < n; i++) {
        pyab_sample smp = {.phase = "run"};
        uint64_t start = pyab_now_ns();
        pyab_sample_memory(&smp, 1);
        row.len = 0;
        pyab_sample_format(&smp, &row);
        t[i] = pyab_now_ns() - start;
    }
    qsort(t, (size_t)n, sizeof(*t), cmp_u64);
    PyObject *r = PyLong_FromUnsignedLongLong(t[n / 2]);
    free(t);
    pyab_buf_finish(&row);
    return r;
}

static PyMethodDef methods[] = {
    {"bench_sample", mod_bench_sample, METH_O,
     "bench_sample(n) -> median ns of one full sample (for the benchmarks)."},
    {"heap_bytes", mod_heap_bytes, METH_NOARGS,
     "Live bytes of the Python heap as pyab counts them (the pyheap_bytes curve)."},
    {"leak", (PyCFunction)(void (*)(void))mod_leak, METH_VARARGS | METH_KEYWORDS,
     "leak(nbytes, kind='malloc'|'mmap'): allocate native memory, touch it, never free it.\n"
     "malloc: native_other_bytes and RSS grow; mmap: only RSS grows (outside malloc)."},
    {"buffer", (PyCFunction)(void (*)(void))mod_buffer, METH_VARARGS | METH_KEYWORDS,
     "buffer(nbytes, kind='malloc'|'mmap') -> NativeBuffer holding native memory until it\n"
     "dies or .free() is called; kept alive, it moves the curve its kind moves in leak()."},
    {"hold_gil", mod_hold_gil, METH_O,
     "hold_gil(seconds): busy native work keeping the GIL (other threads wait); no memory."},
    {"release_gil", (PyCFunction)(void (*)(void))mod_release_gil, METH_VARARGS | METH_KEYWORDS,
     "release_gil(seconds, busy=False): native work with the GIL released; no memory."},
    {"native_call", (PyCFunction)(void (*)(void))mod_native_call, METH_VARARGS | METH_KEYWORDS,
     "native_call(seconds, leak_on_overlap=0) -> bool: GIL-free call that leaks\n"
     "leak_on_overlap bytes of malloc (native_other_bytes) when another call overlaps it;\n"
     "returns whether one did."},
    {"leak_ref", mod_leak_ref, METH_O,
     "leak_ref(obj): add a reference that is never dropped; obj and what it holds stay on\n"
     "the Python heap (pyheap_bytes)."},
    {"counters", mod_counters, METH_NOARGS,
     "counters() -> {'file:line': {'function', 'calls', 'bytes'}}: this module's calls by\n"
     "call site (also in each rep's summary as native_counters)."},
    {NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "pyab",
    "Native behaviours with known effects, for stand-in libraries and controls.", -1, methods,
};

PyObject *pyab_pymod_init(void)
{
    PyObject *m;

    if (PyType_Ready(&NativeBufferType) < 0)
        return NULL;
    m = PyModule_Create(&moddef);
    if (m == NULL)
        return NULL;
    Py_INCREF(&NativeBufferType);
    if (PyModule_AddObject(m, "NativeBuffer", (PyObject *)&NativeBufferType) < 0) {
        Py_DECREF(&NativeBufferType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
