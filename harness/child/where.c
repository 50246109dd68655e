#include "where.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ptrmap.h"
#include "wheretally.h"
#include "where_py.h" /* where_py: generated from where.py by tools/embed.c */

int64_t pyab_where_left = INT64_MAX;
size_t pyab_where_nlive;
int pyab_where_building_request;

/* Stack index 0: no Python frame; 1: the request pyab built from the trace. */
#define STACK_NONE 0
#define STACK_REQUEST 1
#define REQUEST_SITE "(the request pyab built from the trace)"

enum { MODE_OFF, MODE_SAMPLED, MODE_EXACT };

/* Bounds on what sampling may hold: 32 MiB of samples (at the default
 * mean, 128 GiB of surviving allocations) and 64 Ki distinct stacks. */
#define SAMPLES_MAX (1u << 20)
#define STACKS_MAX (1u << 16)
/* Sites and types kept per report, and sites whose holders are looked for. */
#define SITES_MAX 40
#define HOLDER_SITES 8
#define HOLDER_OBJECTS 3
#define STACK_SHOWN 8

typedef struct sample {
    uintptr_t ptr; /* 0: a free slot */
    uint64_t size;
    uint64_t born;  /* the request clock when it was allocated */
    uint32_t stack; /* index into stacks; 0 is the empty stack */
    uint32_t next_free;
} sample;

/*
 * A distinct stack, shared by the samples taken with it and freed with the
 * last of them: what the tables hold follows the live samples, so a service
 * that keeps nothing sees no memory of pyab's grow in its curves.
 */
typedef struct stack {
    pyab_pyframe *frames; /* innermost first (libc memory); NULL: a free slot */
    uint32_t depth, refs;
    uint64_t key;         /* its key in stack_ix */
    uint32_t next_free;
} stack;

static struct {
    int mode;
    double mean;
    double holders_s;
    const char *off_reason;
    uint64_t rng;
    uint64_t (*clock)(void *);
    void *clock_data;
    uint64_t warm; /* the request clock at the end of warm-up */
    int warm_done;
    long garbage_warm;
    uint64_t garbage_clock; /* the request clock when garbage_warm was read */
    int busy;
    uint64_t dropped;

    sample *samples;
    size_t nsamples, cap;
    uint32_t free_head; /* index + 1 of a free slot, 0 if none */
    ptrmap live;        /* block -> sample index + 1 */

    stack *stacks;
    size_t nstacks, capstacks;
    uint32_t free_stack; /* index + 1 of a free stack slot, 0 if none */
    size_t live_stacks;
    ptrmap stack_ix; /* stack hash (probed) -> stack index + 1 */
    ptrmap codes;    /* code objects with a reference held for the report */

    PyObject *ns; /* where.py's namespace */
} w;

static uint64_t next_random(void)
{
    /* xorshift64*: enough for exponential gaps, and reproducible per seed. */
    w.rng ^= w.rng >> 12;
    w.rng ^= w.rng << 25;
    w.rng ^= w.rng >> 27;
    return w.rng * 0x2545F4914F6CDD1Dull;
}

/* Bytes to the next sample: exponential with mean w.mean. */
static int64_t next_gap(void)
{
    double u = (double)(next_random() >> 11) * 0x1.0p-53; /* [0, 1) */
    return (int64_t)(-log1p(-u) * w.mean) + 1;
}

static void *grow(void *p, size_t *cap, size_t want, size_t each, size_t max)
{
    size_t n = *cap ? *cap : 1024;

    while (n < want)
        n *= 2;
    if (n > max)
        n = max;
    if (n < want)
        return NULL;
    p = realloc(p, n * each); /* libc: never the Python allocators we wrap */
    if (p == NULL)
        return NULL;
    *cap = n;
    return p;
}

static uint64_t stack_hash(const pyab_pyframe *f, int n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)n;

    for (int i = 0; i < n; i++) {
        h = (h ^ (uintptr_t)f[i].code) * 1099511628211ull;
        h = (h ^ (uint64_t)(unsigned)f[i].lasti) * 1099511628211ull;
    }
    return h | 1;
}

static int same_stack(const stack *s, const pyab_pyframe *f, int n)
{
    if (s->depth != (uint32_t)n)
        return 0;
    for (int i = 0; i < n; i++)
        if (s->frames[i].code != f[i].code || s->frames[i].lasti != f[i].lasti)
            return 0;
    return 1;
}

/* The index of stack f[0..n), added if new, with one more reference; 0
 * (the empty stack) when the table is full or memory short. */
static uint32_t intern_stack(const pyab_pyframe *f, int n)
{
    uint64_t key, v;
    uint32_t i;
    stack *st;

    if (n == 0)
        return 0;
    for (key = stack_hash(f, n);; key = (key * 0x9E3779B97F4A7C15ull) | 1) {
        if (!ptrmap_get(&w.stack_ix, key, &v))
            break;
        if (same_stack(&w.stacks[v - 1], f, n)) {
            w.stacks[v - 1].refs++;
            return (uint32_t)(v - 1);
        }
    }
    if (w.live_stacks >= STACKS_MAX)
        return n > 1 ? intern_stack(f, 1) : 0;
    if (w.free_stack) {
        i = w.free_stack - 1;
        w.free_stack = w.stacks[i].next_free;
    } else {
        void *p;
        if (w.nstacks + 1 > w.capstacks) {
            p = grow(w.stacks, &w.capstacks, w.nstacks + 1, sizeof(*w.stacks), STACKS_MAX + 1);
            if (p == NULL)
                return 0;
            w.stacks = p;
        }
        i = (uint32_t)w.nstacks++;
    }
    st = &w.stacks[i];
    if ((st->frames = malloc((size_t)n * sizeof(*f))) == NULL) {
        st->next_free = w.free_stack;
        w.free_stack = i + 1;
        return 0;
    }
    memcpy(st->frames, f, (size_t)n * sizeof(*f));
    st->depth = (uint32_t)n;
    st->refs = 1;
    st->key = key;
    /* One reference per distinct code object, kept to the report: a
     * function's code can be freed while what it allocated lives on. */
    for (int k = 0; k < n; k++)
        if (!ptrmap_get(&w.codes, (uintptr_t)f[k].code, &v)) {
            Py_INCREF(f[k].code);
            ptrmap_put(&w.codes, (uintptr_t)f[k].code, 1);
        }
    ptrmap_put(&w.stack_ix, key, i + 1);
    w.live_stacks++;
    return i;
}

static void release_stack(uint32_t i)
{
    stack *st = &w.stacks[i];

    if (i <= STACK_REQUEST || --st->refs > 0)
        return;
    ptrmap_del(&w.stack_ix, st->key, NULL);
    free(st->frames);
    st->frames = NULL;
    st->next_free = w.free_stack;
    w.free_stack = i + 1;
    w.live_stacks--;
}

static int slot_new(uint32_t *out)
{
    void *p;

    if (w.free_head) {
        *out = w.free_head - 1;
        w.free_head = w.samples[*out].next_free;
        return 0;
    }
    if (w.nsamples == w.cap) {
        if ((p = grow(w.samples, &w.cap, w.nsamples + 1, sizeof(*w.samples), SAMPLES_MAX)) == NULL)
            return -1;
        w.samples = p;
    }
    *out = (uint32_t)w.nsamples++;
    return 0;
}

void pyab_where_take(void *p, size_t n)
{
    pyab_pyframe fr[PYAB_WHERE_DEPTH];
    uint64_t v;
    uint32_t i;
    int depth;

    pyab_where_left = next_gap();
    if (w.busy || p == NULL)
        return;
    w.busy = 1;
    depth = pyab_where_building_request ? 0 : pyab_where_pystack(fr, PYAB_WHERE_DEPTH);
    if (ptrmap_get(&w.live, (uintptr_t)p, &v)) {
        i = (uint32_t)(v - 1); /* the same block sampled again (realloc in place) */
        release_stack(w.samples[i].stack);
    } else if (slot_new(&i) < 0) {
        w.dropped++;
        w.busy = 0;
        return;
    }
    w.samples[i] = (sample){(uintptr_t)p, n, w.clock(w.clock_data),
                            pyab_where_building_request ? STACK_REQUEST : intern_stack(fr, depth), 0};
    ptrmap_put(&w.live, (uintptr_t)p, i + 1);
    pyab_where_nlive = w.live.len;
    w.busy = 0;
}

void pyab_where_forget(void *p)
{
    uint64_t v;

    if (!ptrmap_del(&w.live, (uintptr_t)p, &v))
        return;
    release_stack(w.samples[v - 1].stack);
    w.samples[v - 1].ptr = 0;
    w.samples[v - 1].next_free = w.free_head;
    w.free_head = (uint32_t)v;
    pyab_where_nlive = w.live.len;
}

static PyObject *call_py(const char *fn, const char *fmt, ...);

void pyab_where_init(const pyab_config *cfg, uint64_t (*clock)(void *), void *clock_data)
{
    w.mode = cfg->where_mode == PYAB_WHERE_EXACT    ? MODE_EXACT
             : cfg->where_mode == PYAB_WHERE_SAMPLED ? MODE_SAMPLED
                                                     : MODE_OFF;
    if (w.mode == MODE_SAMPLED && cfg->pyheap_mode == 2) {
        w.mode = MODE_OFF;
        w.off_reason = "sample.pyheap is \"off\": no heap hooks to sample from";
    } else if (w.mode == MODE_OFF) {
        w.off_reason = "where.mode is \"off\"";
    }
    w.mean = cfg->where_sample_bytes;
    w.holders_s = cfg->where_holders_seconds;
    w.rng = (cfg->seed + 1) * 0x9E3779B97F4A7C15ull | 1;
    w.clock = clock;
    w.clock_data = clock_data;
    /* The tables' first sizes now, before any sample: allocated during the
     * run they would be a step in the native-heap curve. Index 0 of stacks
     * is the empty stack. */
    if (w.mode == MODE_SAMPLED) {
        w.samples = grow(NULL, &w.cap, 1024, sizeof(*w.samples), SAMPLES_MAX);
        w.stacks = grow(NULL, &w.capstacks, 1024, sizeof(*w.stacks), STACKS_MAX + 1);
        if (w.samples == NULL || w.stacks == NULL)
            abort();
        memset(&w.stacks[0], 0, 2 * sizeof(w.stacks[0]));
        w.nstacks = 2;
        ptrmap_grow(&w.live);
        ptrmap_grow(&w.stack_ix);
        ptrmap_grow(&w.codes);
    }
    /* where.py is compiled at the report, after the last sample (compiling
     * it earlier left ~650 KB of freed parser memory in the rep's RSS),
     * except in exact mode, whose tracemalloc starts here: importing it
     * later would release the GIL mid-measurement. */
    if (w.mode == MODE_EXACT) {
        PyObject *r = call_py("exact_init", "(i)", 16);
        Py_XDECREF(r);
    }
}

const char *pyab_where_mode(void)
{
    return w.mode == MODE_SAMPLED ? "sampled" : w.mode == MODE_EXACT ? "exact" : "off";
}

/* Calls where.py's fn; NULL (and the error cleared) on failure. */
static PyObject *call_py(const char *fn, const char *fmt, ...)
{
    PyObject *f, *args, *res = NULL;
    va_list ap;

    if (w.ns == NULL) {
        PyObject *code = Py_CompileString((const char *)where_py, "<pyab where.py>", Py_file_input);
        w.ns = PyDict_New();
        PyDict_SetItemString(w.ns, "__builtins__", PyEval_GetBuiltins());
        PyDict_SetItemString(w.ns, "__name__", PyUnicode_FromString("_pyab_where"));
        res = code ? PyEval_EvalCode(code, w.ns, w.ns) : NULL;
        Py_XDECREF(code);
        if (res == NULL) {
            PyErr_Print();
            return NULL;
        }
        Py_DECREF(res);
        res = NULL;
    }
    if ((f = PyDict_GetItemString(w.ns, fn)) == NULL)
        return NULL;
    va_start(ap, fmt);
    args = Py_VaBuildValue(fmt, ap);
    va_end(ap);
    if (args)
        res = PyObject_Call(f, args, NULL);
    Py_XDECREF(args);
    if (res == NULL)
        PyErr_Print();
    return res;
}

/* len(gc.garbage), in C: no Python code of pyab's runs before the report. */
static long garbage_len(void)
{
    PyObject *gc = PyImport_ImportModule("gc"), *g = gc ? PyObject_GetAttrString(gc, "garbage") : NULL;
    long n = g && PyList_Check(g) ? (long)PyList_GET_SIZE(g) : 0;

    Py_XDECREF(g);
    Py_XDECREF(gc);
    PyErr_Clear();
    return n;
}

void pyab_where_warm(void)
{
    if (w.warm_done || w.mode == MODE_OFF)
        return;
    w.warm_done = 1;
    w.garbage_warm = garbage_len();
    w.garbage_clock = w.clock(w.clock_data);
    if (w.mode == MODE_EXACT) {
        PyObject *r = call_py("exact_warm", "()");
        Py_XDECREF(r);
    }
    /* Sampling starts here, not at start-up: the import's allocations
     * would keep their code objects alive in the stack table. With
     * warmup.requests this runs in the worker that completed the last
     * warm-up request (replay.c), so the window starts right there; with
     * warmup.seconds, when the main loop's timer gets the GIL. */
    w.warm = w.clock(w.clock_data);
    if (w.mode == MODE_SAMPLED)
        pyab_where_left = next_gap();
}

/* ---- the report --------------------------------------------------------- */

/* A keyed group: its JSON record (descriptive fields) and its tally. */
typedef struct group {
    json_t *rec;
    pyab_tally t;
    double heaviest; /* the weight of the stack shown for it */
} group;

typedef struct groups {
    json_t *index; /* key -> integer index into g */
    group *g;
    size_t n, cap;
} groups;

/* The group for key, created with a fresh record if new (*created set). */
static group *group_get(groups *gs, const char *key, int *created)
{
    json_t *ix = json_object_get(gs->index, key);

    *created = 0;
    if (ix)
        return &gs->g[json_integer_value(ix)];
    if (gs->n == gs->cap) {
        gs->cap = gs->cap ? gs->cap * 2 : 64;
        gs->g = realloc(gs->g, gs->cap * sizeof(*gs->g));
        if (gs->g == NULL)
            abort();
    }
    json_object_set_new(gs->index, key, json_integer((json_int_t)gs->n));
    gs->g[gs->n] = (group){json_pack("{s:s}", "key", key), {0}, -1};
    *created = 1;
    return &gs->g[gs->n++];
}

static int by_bytes(const void *a, const void *b)
{
    const group *x = a, *y = b;
    return x->t.bytes < y->t.bytes ? 1 : x->t.bytes > y->t.bytes ? -1 : 0;
}

/* The groups as a JSON array, heaviest first, at most max; frees gs. */
static json_t *groups_json(groups *gs, size_t max)
{
    json_t *out = json_array();

    qsort(gs->g, gs->n, sizeof(*gs->g), by_bytes);
    for (size_t i = 0; i < gs->n; i++) {
        if (i < max)
            json_array_append_new(out, pyab_tally_json(gs->g[i].rec, &gs->g[i].t));
        else
            json_decref(gs->g[i].rec);
    }
    json_decref(gs->index);
    free(gs->g);
    return out;
}

typedef struct fileinfo {
    const char *package;
    int own;
} fileinfo;

/* Resolved names of the frames the survivors' stacks use. */
typedef struct names {
    PyObject *info; /* filename -> (package, own) */
} names;

static const char *utf8(PyObject *s)
{
    const char *c = s && PyUnicode_Check(s) ? PyUnicode_AsUTF8(s) : NULL;
    if (c == NULL)
        PyErr_Clear();
    return c ? c : "?";
}

static fileinfo file_info(const names *nm, PyObject *filename)
{
    PyObject *t = PyDict_GetItem(nm->info, filename);
    fileinfo fi = {"?", 0};

    if (t && PyTuple_Check(t) && PyTuple_GET_SIZE(t) == 2) {
        fi.package = utf8(PyTuple_GET_ITEM(t, 0));
        fi.own = PyObject_IsTrue(PyTuple_GET_ITEM(t, 1)) == 1;
    }
    return fi;
}

/* "service.py", or "logging/__init__.py" where the file alone says little. */
static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');

    if (s && s > path && strcmp(s + 1, "__init__.py") == 0) {
        const char *d = s - 1;
        while (d > path && d[-1] != '/')
            d--;
        return d;
    }
    return s ? s + 1 : path;
}

static json_t *frame_json(const pyab_pyframe *f)
{
    return json_sprintf("%s:%d in %s", utf8(f->code->co_filename), pyab_where_frame_line(f),
                        utf8(f->code->co_qualname));
}

/* Fills a site's descriptive fields from frame f (and the full stack). */
static void describe_frame(json_t *rec, const pyab_pyframe *f, const names *nm)
{
    const char *file = utf8(f->code->co_filename);
    int line = pyab_where_frame_line(f);

    json_object_set_new(rec, "site", json_sprintf("%s:%d", base_name(file), line));
    json_object_set_new(rec, "file", json_string(file));
    json_object_set_new(rec, "line", json_integer(line));
    json_object_set_new(rec, "function", json_string(utf8(f->code->co_qualname)));
    json_object_set_new(rec, "package", json_string(file_info(nm, f->code->co_filename).package));
}

static json_t *stack_json(const stack *st)
{
    json_t *a = json_array();

    for (uint32_t i = 0; i < st->depth && i < STACK_SHOWN; i++)
        json_array_append_new(a, frame_json(&st->frames[i]));
    return a;
}

/* The innermost frame of st in the service's own code, or -1. */
static int own_frame(const stack *st, const names *nm)
{
    for (uint32_t i = 0; i < st->depth; i++)
        if (file_info(nm, st->frames[i].code->co_filename).own)
            return (int)i;
    return -1;
}

static PyObject *file_names(const pyab_tally *per_stack)
{
    PyObject *set = PySet_New(NULL), *list;

    for (size_t s = 1; s < w.nstacks; s++)
        if (per_stack[s].samples && w.stacks[s].frames)
            for (uint32_t i = 0; i < w.stacks[s].depth; i++)
                PySet_Add(set, w.stacks[s].frames[i].code->co_filename);
    list = PySequence_List(set);
    Py_DECREF(set);
    return list;
}

static int load_names(names *nm, const pyab_tally *per_stack)
{
    PyObject *files = file_names(per_stack), *info;

    nm->info = PyDict_New();
    info = files ? call_py("classify", "(O)", files) : NULL;
    if (info && PyList_Check(info) && PyList_GET_SIZE(info) == PyList_GET_SIZE(files))
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(files); i++)
            PyDict_SetItem(nm->info, PyList_GET_ITEM(files, i), PyList_GET_ITEM(info, i));
    Py_XDECREF(files);
    Py_XDECREF(info);
    return 0;
}

/* ---- types and owners of surviving blocks ------------------------------- */

typedef struct typeinfo {
    ptrmap types;     /* type object -> index + 1 into names */
    PyObject *list;   /* the type objects (owned) */
    ptrmap owners;    /* storage block -> index + 1 into gc_objects */
    PyObject *gc_objects;
    ptrmap named;     /* type object -> index + 1 into names: one Python call per type */
    char **names;
    size_t nnames;
} typeinfo;

static void load_types(typeinfo *ti)
{
    memset(ti, 0, sizeof(*ti));
    ti->list = call_py("all_types", "()");
    if (ti->list && PyList_Check(ti->list))
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ti->list); i++)
            ptrmap_put(&ti->types, (uintptr_t)PyList_GET_ITEM(ti->list, i), (uint64_t)i + 1);
}

/* The bytes an object of type t carries before its PyObject header. */
static size_t preheader(PyTypeObject *t)
{
    size_t n = PyType_HasFeature(t, Py_TPFLAGS_HAVE_GC) ? pyab_where_gc_head_size() : 0;
#if PY_VERSION_HEX >= 0x030C0000
    if (PyType_HasFeature(t, Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF))
        n += 2 * sizeof(PyObject *);
#else
    if (PyType_HasFeature(t, Py_TPFLAGS_MANAGED_DICT))
        n += 2 * sizeof(PyObject *);
#endif
    return n;
}

/*
 * The object that sampled block s is, or NULL. A block holds an object when
 * a known type's pointer sits where that type's header would be (after its
 * GC and managed-dict pre-header), with a sane reference count and a basic
 * size that fits. Only words inside the block and known type objects are
 * read, so a block of arbitrary bytes cannot mislead this into a bad read.
 */
static PyObject *as_object(const typeinfo *ti, const sample *s)
{
    const size_t gch = pyab_where_gc_head_size(), offs[] = {0, gch, gch + 2 * sizeof(PyObject *)};
    uint64_t v;

    /* Freed since the report listed it (the report's own Python calls
     * free blocks): its slot says ptr 0, and there is nothing to read.
     * On 3.13 this read NULL and killed every such child (issue 17). */
    if (s->ptr == 0)
        return NULL;
    for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
        PyObject *o = (PyObject *)(s->ptr + offs[k]);
        PyTypeObject *t;

        if (offs[k] + sizeof(PyObject) > s->size)
            break;
        t = Py_TYPE(o);
        if (!ptrmap_get(&ti->types, (uintptr_t)t, &v) || preheader(t) != offs[k])
            continue;
        if (Py_REFCNT(o) <= 0 || Py_REFCNT(o) > ((Py_ssize_t)1 << 40) ||
            (size_t)t->tp_basicsize + offs[k] > s->size)
            continue;
        return o;
    }
    return NULL;
}

static void own_storage(typeinfo *ti, PyObject *o, Py_ssize_t i)
{
    void *store = NULL;

    if (PyList_Check(o))
        store = ((PyListObject *)o)->ob_item;
    else if (PyDict_Check(o))
        store = ((PyDictObject *)o)->ma_keys;
    else if (PyAnySet_Check(o) && ((PySetObject *)o)->table != ((PySetObject *)o)->smalltable)
        store = ((PySetObject *)o)->table;
    else if (PyByteArray_Check(o))
        store = ((PyByteArrayObject *)o)->ob_bytes;
    if (store)
        ptrmap_put(&ti->owners, (uintptr_t)store, (uint64_t)i + 1);
}

typedef struct visit_ctx {
    typeinfo *ti;
    PyObject *untracked; /* containers the GC does not track, found one level down */
} visit_ctx;

static int visit_referent(PyObject *r, void *arg)
{
    visit_ctx *v = arg;

    /* bytearrays and untracked dicts are not in gc.get_objects(). */
    if ((PyByteArray_Check(r) || (PyDict_Check(r) && !PyObject_GC_IsTracked(r))) &&
        PyList_GET_SIZE(v->untracked) < (1 << 20))
        PyList_Append(v->untracked, r);
    return 0;
}

/* Maps the storage blocks of containers (lists, dicts, sets, bytearrays) to their owners. */
static void load_owners(typeinfo *ti)
{
    PyObject *gc = PyImport_ImportModule("gc");
    visit_ctx v = {ti, PyList_New(0)};
    Py_ssize_t n;

    ti->gc_objects = gc ? PyObject_CallMethod(gc, "get_objects", NULL) : NULL;
    Py_XDECREF(gc);
    if (ti->gc_objects == NULL || !PyList_Check(ti->gc_objects) || v.untracked == NULL) {
        Py_XDECREF(v.untracked);
        PyErr_Clear();
        return;
    }
    n = PyList_GET_SIZE(ti->gc_objects);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyList_GET_ITEM(ti->gc_objects, i);
        traverseproc tr = Py_TYPE(o)->tp_traverse;
        if (tr)
            tr(o, visit_referent, &v);
    }
    /*
     * One list of owners: the tracked objects, then those found under them,
     * and the bytearrays in the untracked dicts found there: a dict stays
     * untracked while it holds only objects the GC does not track, so
     * `sessions[k] = bytearray(n)` is a tracked module dict, an untracked
     * dict, then the buffer (typed "(not an object)" before: QA). An
     * untracked dict holds no dict, so this is the last level.
     */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v.untracked); i++) {
        PyObject *o = PyList_GET_ITEM(v.untracked, i);
        PyList_Append(ti->gc_objects, o);
        if (PyDict_Check(o))
            Py_TYPE(o)->tp_traverse(o, visit_referent, &v);
    }
    Py_DECREF(v.untracked);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ti->gc_objects); i++)
        own_storage(ti, PyList_GET_ITEM(ti->gc_objects, i), i);
}

static PyObject *owner_of(const typeinfo *ti, const sample *s)
{
    uint64_t v;

    if (ti->gc_objects && ptrmap_get(&ti->owners, s->ptr, &v))
        return PyList_GET_ITEM(ti->gc_objects, (Py_ssize_t)(v - 1));
    return NULL;
}

static char *type_label(typeinfo *ti, PyTypeObject *t, const char *suffix)
{
    uint64_t v;

    if (!ptrmap_get(&ti->named, (uintptr_t)t, &v)) {
        PyObject *r = call_py("type_name", "(O)", (PyObject *)t);
        ti->names = xrealloc(ti->names, (ti->nnames + 1) * sizeof(*ti->names));
        ti->names[ti->nnames++] = xstrdup(r ? utf8(r) : t->tp_name);
        Py_XDECREF(r);
        ptrmap_put(&ti->named, (uintptr_t)t, v = ti->nnames);
    }
    return xasprintf("%s%s", ti->names[v - 1], suffix);
}

static void free_types(typeinfo *ti)
{
    free(ti->types.keys);
    free(ti->types.vals);
    free(ti->owners.keys);
    free(ti->owners.vals);
    free(ti->named.keys);
    free(ti->named.vals);
    for (size_t i = 0; i < ti->nnames; i++)
        free(ti->names[i]);
    free(ti->names);
    Py_XDECREF(ti->list);
    Py_XDECREF(ti->gc_objects);
}

/* ---- the sampled report ------------------------------------------------- */

typedef struct survivor {
    const sample *s;
    PyObject *obj;   /* the object it is, or NULL */
    PyObject *owner; /* else the container it is the storage of, or NULL */
    int early;
} survivor;

static void add_holders(json_t *dom, groups *sites, survivor *sv, size_t nsv,
                        const uint32_t *site_of, double requests)
{
    json_t *holders = json_array(), *leaks = json_array();
    PyObject *targets = PyList_New(0), *r;
    size_t nsites = sites->n < HOLDER_SITES ? sites->n : HOLDER_SITES;
    int *taken = calloc(nsites ? nsites : 1, sizeof(*taken));
    group **top = calloc(nsites ? nsites : 1, sizeof(*top));
    size_t *order = calloc(sites->n ? sites->n : 1, sizeof(*order));

    /* The heaviest sites, by their index in sites->g (not sorted yet). */
    for (size_t i = 0; i < sites->n; i++)
        order[i] = i;
    for (size_t i = 0; i < nsites; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < sites->n; j++)
            if (sites->g[order[j]].t.bytes > sites->g[order[best]].t.bytes)
                best = j;
        size_t tmp = order[i];
        order[i] = order[best];
        order[best] = tmp;
        top[i] = &sites->g[order[i]];
    }
    for (size_t k = 0; k < nsv; k++) {
        PyObject *o = sv[k].obj ? sv[k].obj : sv[k].owner;
        for (size_t i = 0; o && i < nsites; i++) {
            if (order[i] != site_of[k] || taken[i] >= HOLDER_OBJECTS)
                continue;
            PyObject *pair = Py_BuildValue("(sO)", json_string_value(json_object_get(top[i]->rec, "key")), o);
            PyList_Append(targets, pair);
            Py_XDECREF(pair);
            taken[i]++;
        }
    }
    r = PyList_GET_SIZE(targets) && w.holders_s > 0
            ? call_py("holders", "(Od)", targets, w.holders_s)
            : NULL;
    if (r && PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 2) {
        PyObject *res = PyTuple_GET_ITEM(r, 0);
        json_t *seen = json_object();
        json_object_set_new(dom, "holders_complete", json_boolean(PyObject_IsTrue(PyTuple_GET_ITEM(r, 1)) == 1));
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(res); i++) {
            PyObject *d = PyList_GET_ITEM(res, i), *chain = PyDict_GetItemString(d, "chain");
            PyObject *exc = PyDict_GetItemString(d, "excess_references");
            const char *site = utf8(PyDict_GetItemString(d, "site"));
            const char *type = utf8(PyDict_GetItemString(d, "type"));
            int reachable = PyObject_IsTrue(PyDict_GetItemString(d, "reachable")) == 1;
            long excess = exc && PyLong_Check(exc) ? PyLong_AsLong(exc) : 0;
            json_t *entry = json_object_get(seen, site);

            if (entry == NULL) {
                json_t *c = json_array();
                for (Py_ssize_t j = 0; chain && j < PyList_GET_SIZE(chain); j++)
                    json_array_append_new(c, json_string(utf8(PyList_GET_ITEM(chain, j))));
                entry = json_pack("{s:s,s:s,s:o,s:b,s:i,s:i,s:i}", "key", site, "type", type,
                                  "chain", c, "reachable", reachable, "examined", 0, "refcount_leaked",
                                  0, "excess_references", 0);
                json_object_set_new(seen, site, entry);
                json_array_append(holders, entry);
            }
            json_object_set_new(entry, "examined",
                                json_integer(json_integer_value(json_object_get(entry, "examined")) + 1));
            if (!reachable && excess >= 1) {
                json_object_set_new(entry, "refcount_leaked",
                                    json_integer(json_integer_value(json_object_get(entry, "refcount_leaked")) + 1));
                json_object_set_new(entry, "excess_references",
                                    json_integer(json_integer_value(json_object_get(entry, "excess_references")) + excess));
            }
        }
        json_decref(seen);
    }
    Py_XDECREF(r);
    Py_DECREF(targets);
    /* A site whose examined objects are mostly held by nobody the GC sees. */
    size_t i;
    json_t *h;
    json_array_foreach(holders, i, h) {
        long examined = (long)json_integer_value(json_object_get(h, "examined"));
        long leaked = (long)json_integer_value(json_object_get(h, "refcount_leaked"));
        if (examined > 0 && leaked * 2 > examined) {
            for (size_t j = 0; j < nsites; j++) {
                if (strcmp(json_string_value(json_object_get(top[j]->rec, "key")),
                           json_string_value(json_object_get(h, "key"))) != 0)
                    continue;
                json_t *rec = json_pack("{s:O,s:O,s:O,s:O,s:f,s:i,s:i,s:f}", "key", json_object_get(h, "key"),
                                        "site", json_object_get(top[j]->rec, "site"), "function",
                                        json_object_get(top[j]->rec, "function"), "type", json_object_get(h, "type"),
                                        "objects", top[j]->t.objects * (double)leaked / (double)examined,
                                        "examined", (int)examined, "leaked", (int)leaked, "requests", requests);
                json_array_append_new(leaks, rec);
            }
        }
    }
    json_object_set_new(dom, "holders", holders);
    json_object_set_new(dom, "refcount_leaks", leaks);
    free(taken);
    free(top);
    free(order);
}

static void add_uncollectable(json_t *dom)
{
    long now = garbage_len();
    PyObject *types = call_py("garbage_types", "(l)", w.garbage_warm);
    json_t *t = json_object();

    if (types && PyDict_Check(types)) {
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(types, &pos, &k, &v))
            json_object_set_new(t, utf8(k), json_integer(PyLong_AsLong(v)));
    }
    Py_XDECREF(types);
    json_object_set_new(dom, "uncollectable",
                        json_pack("{s:I,s:I,s:o}", "garbage_added", (json_int_t)(now - w.garbage_warm),
                                  "requests", (json_int_t)(w.clock(w.clock_data) - w.garbage_clock),
                                  "types", t));
}

static void sampled_report(json_t *dom, uint64_t end)
{
    uint64_t mid = w.warm + (end - w.warm) / 2;
    pyab_tally *per_stack = calloc(w.nstacks ? w.nstacks : 1, sizeof(*per_stack));
    survivor *sv = calloc(w.nsamples ? w.nsamples : 1, sizeof(*sv));
    uint32_t *site_of, *site_of_stack = malloc((w.nstacks ? w.nstacks : 1) * sizeof(uint32_t));
    groups sites = {json_object()}, own = {json_object()}, packages = {json_object()},
           types = {json_object()}, resurrected = {json_object()};
    size_t nsv = 0, nonobj = 0;
    names nm;
    typeinfo ti;
    pyab_tally total = {0};

    for (size_t i = 0; i < w.nsamples; i++) {
        const sample *s = &w.samples[i];
        if (s->ptr == 0 || s->born < w.warm)
            continue;
        sv[nsv++] = (survivor){s, NULL, NULL, s->born < mid};
        pyab_tally_add(&per_stack[s->stack], (double)s->size, w.mean, s->born < mid);
        pyab_tally_add(&total, (double)s->size, w.mean, s->born < mid);
    }
    load_names(&nm, per_stack);
    /* Sites: by the innermost frame; also by the innermost own-code frame,
     * and by the package of the innermost frame. */
    for (size_t si = 0; si < w.nstacks; si++) {
        const stack *st = si ? &w.stacks[si] : NULL;
        const pyab_tally *t = &per_stack[si];
        group *g;
        int created, of;
        char *key;

        if (t->samples == 0)
            continue;
        if (st == NULL || st->depth == 0 || st->frames == NULL) {
            const char *what = si == STACK_REQUEST ? REQUEST_SITE : "(no Python frame)";
            g = group_get(&sites, what, &created);
            if (created)
                json_object_set_new(g->rec, "site", json_string(what));
            pyab_tally_merge(&g->t, t);
            site_of_stack[si] = (uint32_t)(g - sites.g);
            continue;
        }
        const pyab_pyframe *f = &st->frames[0];
        key = xasprintf("%s:%d", utf8(f->code->co_filename), pyab_where_frame_line(f));
        g = group_get(&sites, key, &created);
        if (created)
            describe_frame(g->rec, f, &nm);
        site_of_stack[si] = (uint32_t)(g - sites.g);
        if (t->bytes > g->heaviest) {
            g->heaviest = t->bytes;
            json_object_set_new(g->rec, "stack", stack_json(st));
        }
        pyab_tally_merge(&g->t, t);
        free(key);
        if ((of = own_frame(st, &nm)) >= 0) {
            const pyab_pyframe *o = &st->frames[of];
            key = xasprintf("%s:%d", utf8(o->code->co_filename), pyab_where_frame_line(o));
            g = group_get(&own, key, &created);
            if (created)
                describe_frame(g->rec, o, &nm);
            pyab_tally_merge(&g->t, t);
            free(key);
        }
        g = group_get(&packages, file_info(&nm, f->code->co_filename).package, &created);
        if (created)
            json_object_set(g->rec, "package", json_object_get(g->rec, "key"));
        pyab_tally_merge(&g->t, t);
    }
    /* Which site each survivor belongs to, for picking holder targets. */
    site_of = calloc(nsv ? nsv : 1, sizeof(*site_of));
    if (site_of == NULL)
        abort();
    load_types(&ti);
    for (size_t k = 0; k < nsv; k++) {
        site_of[k] = site_of_stack[sv[k].s->stack];
        if ((sv[k].obj = as_object(&ti, sv[k].s)) == NULL)
            nonobj++;
    }
    if (nonobj)
        load_owners(&ti);
    for (size_t k = 0; k < nsv; k++) {
        char *label;
        group *g;
        int created;
        pyab_tally one = {0};

        pyab_tally_add(&one, (double)sv[k].s->size, w.mean, sv[k].early);
        if (sv[k].obj) {
            label = type_label(&ti, Py_TYPE(sv[k].obj), "");
            if (PyObject_IS_GC(sv[k].obj) && PyObject_GC_IsFinalized(sv[k].obj)) {
                g = group_get(&resurrected, label, &created);
                if (created)
                    json_object_set(g->rec, "type", json_object_get(g->rec, "key"));
                pyab_tally_merge(&g->t, &one);
            }
        } else if ((sv[k].owner = owner_of(&ti, sv[k].s)) != NULL) {
            label = type_label(&ti, Py_TYPE(sv[k].owner), " (storage)");
        } else {
            label = xstrdup("(not an object)");
        }
        g = group_get(&types, label, &created);
        if (created)
            json_object_set(g->rec, "type", json_object_get(g->rec, "key"));
        pyab_tally_merge(&g->t, &one);
        free(label);
    }
    add_holders(dom, &sites, sv, nsv, site_of, (double)(end - w.warm));
    free_types(&ti);
    json_object_set_new(dom, "samples_live", json_integer((json_int_t)nsv));
    json_object_set_new(dom, "samples_dropped", json_integer((json_int_t)w.dropped));
    json_object_set_new(dom, "total", pyab_tally_json(json_object(), &total));
    json_object_set_new(dom, "sites", groups_json(&sites, SITES_MAX));
    json_object_set_new(dom, "own", groups_json(&own, SITES_MAX));
    json_object_set_new(dom, "packages", groups_json(&packages, SITES_MAX));
    json_object_set_new(dom, "types", groups_json(&types, SITES_MAX));
    json_object_set_new(dom, "resurrected", groups_json(&resurrected, SITES_MAX));
    add_uncollectable(dom);
    Py_XDECREF(nm.info);
    free(site_of);
    free(site_of_stack);
    free(sv);
    free(per_stack);
}

/* Exact mode: tracemalloc's growth since warm-up, per line. */
static void exact_report(json_t *dom)
{
    PyObject *r = call_py("exact_sites", "()");
    groups sites = {json_object()};
    pyab_tally total = {0};

    for (Py_ssize_t i = 0; r && PyList_Check(r) && i < PyList_GET_SIZE(r); i++) {
        PyObject *e = PyList_GET_ITEM(r, i), *frames = PyTuple_GET_ITEM(e, 0);
        double size = PyFloat_AsDouble(PyTuple_GET_ITEM(e, 1));
        double count = PyFloat_AsDouble(PyTuple_GET_ITEM(e, 2));
        PyObject *f0 = PyList_GET_SIZE(frames) ? PyList_GET_ITEM(frames, 0) : NULL;
        const char *file = f0 ? utf8(PyTuple_GET_ITEM(f0, 0)) : "(no Python frame)";
        long line = f0 ? PyLong_AsLong(PyTuple_GET_ITEM(f0, 1)) : 0;
        /* tracemalloc's "<unknown>:0" is the sampler's "(no Python frame)". */
        char *key = strcmp(file, "<unknown>") == 0 || f0 == NULL ? xstrdup("(no Python frame)")
                                                                 : xasprintf("%s:%ld", file, line);
        int created;
        group *g = group_get(&sites, key, &created);
        if (created && strcmp(key, "(no Python frame)") == 0) {
            json_object_set_new(g->rec, "site", json_string(key));
        } else if (created) {
            json_object_set_new(g->rec, "site", json_sprintf("%s:%ld", base_name(file), line));
            json_object_set_new(g->rec, "file", json_string(file));
            json_object_set_new(g->rec, "line", json_integer(line));
        }
        if (size > g->heaviest) {
            json_t *st = json_array();
            g->heaviest = size;
            for (Py_ssize_t j = 0; j < PyList_GET_SIZE(frames) && j < STACK_SHOWN; j++) {
                PyObject *fr = PyList_GET_ITEM(frames, j);
                json_array_append_new(st, json_sprintf("%s:%ld", utf8(PyTuple_GET_ITEM(fr, 0)),
                                                       PyLong_AsLong(PyTuple_GET_ITEM(fr, 1))));
            }
            json_object_set_new(g->rec, "stack", st);
        }
        g->t.bytes += size;
        g->t.objects += count;
        g->t.samples += (long)count;
        total.bytes += size;
        total.objects += count;
        free(key);
    }
    PyErr_Clear();
    Py_XDECREF(r);
    json_object_set_new(dom, "total", pyab_tally_json(json_object(), &total));
    json_object_set_new(dom, "sites", groups_json(&sites, SITES_MAX));
}

json_t *pyab_where_report(const char *point)
{
    json_t *dom;
    uint64_t end;

    if (w.mode == MODE_OFF)
        return json_pack("{s:{s:s,s:s}}", "python", "mode", "off", "reason", w.off_reason);
    pyab_where_left = INT64_MAX; /* nothing the report allocates is sampled */
    /* Nor collected: a collection the report's walk set off would land in
     * the rep's GC events as if the service had caused it. */
    int gc_was_on = PyGC_Disable();
    if (!w.warm_done)
        pyab_where_warm();
    end = w.clock(w.clock_data);
    dom = json_pack("{s:s,s:f,s:I,s:s}", "mode", pyab_where_mode(), "sample_bytes",
                    w.mode == MODE_SAMPLED ? w.mean : 1.0, "requests", (json_int_t)(end - w.warm),
                    "point", point);
    if (w.mode == MODE_SAMPLED)
        sampled_report(dom, end);
    else
        exact_report(dom);
    PyErr_Clear();
    if (gc_was_on)
        PyGC_Enable();
    return json_pack("{s:o}", "python", dom);
}
