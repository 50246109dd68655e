/* The frame walk reads CPython's internal frame layout (3.11). */
#define Py_BUILD_CORE
#include "native.h"

#include <Python.h>
#include <internal/pycore_frame.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "elfsym.h"
#include "natsample.h"

/* Distinct Python code objects the frame walk can name. */
#define CODE_MAX 4096
/* Sites written per rep; the rest are summed into one "other sites" entry. */
#define SITES_MAX 100

typedef struct code_info {
    const void *code, *filename, *name; /* identity: a reused address gets a new entry */
    int firstline;
    char file[176];
    char func[72];
} code_info;

static const pyab_natsample_api *api;
static const pyab_replay *replay;
static double sample_bytes;
static uint64_t warm_dispatched, warm_completed;
static int warm_by_requests;
static code_info codes[CODE_MAX];
static uint32_t code_slots[2 * CODE_MAX], ncodes;

/* ASCII copy of a str without allocating; long paths keep their end. */
static void copy_str(char *dst, size_t cap, PyObject *u)
{
    Py_ssize_t len, from = 0;
    size_t j = 0;
    int kind;
    const void *data;

    if (u == NULL || !PyUnicode_Check(u) || !PyUnicode_IS_READY(u)) {
        snprintf(dst, cap, "?");
        return;
    }
    kind = PyUnicode_KIND(u);
    data = PyUnicode_DATA(u);
    len = PyUnicode_GET_LENGTH(u);
    if ((size_t)len >= cap) {
        from = len - (Py_ssize_t)cap + 4;
        memcpy(dst, "...", 3);
        j = 3;
    }
    for (Py_ssize_t i = from; i < len && j + 1 < cap; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        dst[j++] = ch >= 32 && ch < 127 ? (char)ch : '?';
    }
    dst[j] = '\0';
}

/*
 * The index of code's entry, made on first sight; UINT32_MAX when the
 * table is full. The code object is on the calling thread's frame stack,
 * so it is alive while we read it. Called under the sampler's lock.
 */
static uint32_t code_index(PyCodeObject *code)
{
    uint32_t i = (uint32_t)(((uintptr_t)code >> 4) * 2654435761u) & (2 * CODE_MAX - 1);
    code_info *c;

    while (code_slots[i]) {
        c = &codes[code_slots[i] - 1];
        if (c->code == code && c->filename == code->co_filename && c->name == code->co_name &&
            c->firstline == code->co_firstlineno)
            return code_slots[i] - 1;
        i = (i + 1) & (2 * CODE_MAX - 1);
    }
    if (ncodes == CODE_MAX)
        return UINT32_MAX;
    c = &codes[ncodes];
    c->code = code;
    c->filename = code->co_filename;
    c->name = code->co_name;
    c->firstline = code->co_firstlineno;
    copy_str(c->file, sizeof(c->file), code->co_filename);
    copy_str(c->func, sizeof(c->func), code->co_qualname);
    code_slots[i] = ++ncodes;
    return ncodes - 1;
}

/*
 * TEMPORARY (issue 15 until child/where.c lands with pyab_where_pystack):
 * a minimal walk of the calling thread's own frame chain, without the GIL.
 * The thread is inside a C call (the allocation), so its frames cannot
 * change under us; we read them, never another thread's. No allocation:
 * PyCode_Addr2Line only reads the code's line table.
 */
static int pystack(pyab_natsample_pyframe *out, int max)
{
    PyThreadState *ts = PyGILState_GetThisThreadState();
    _PyInterpreterFrame *f;
    int n = 0;

    if (ts == NULL || ts->cframe == NULL)
        return 0;
    for (f = ts->cframe->current_frame; f && n < max; f = f->previous) {
        if (f->f_code == NULL || _PyFrame_IsIncomplete(f))
            continue;
        out[n].code = code_index(f->f_code);
        out[n].line = PyCode_Addr2Line(f->f_code, _PyInterpreterFrame_LASTI(f) *
                                                      (int)sizeof(_Py_CODEUNIT));
        n++;
    }
    return n;
}

int pyab_native_start(const pyab_config *cfg, const pyab_replay *rp, pyab_error *err)
{
    const pyab_natsample_api *a;
    int rc;

    if (!cfg->where_native)
        return 0;
    a = dlsym(RTLD_DEFAULT, PYAB_NATSAMPLE_SYMBOL);
    if (a == NULL || a->version != PYAB_NATSAMPLE_VERSION) {
        pyab_error_set(err, "where.native: pyab-native.so is not preloaded (LD_PRELOAD=%s); "
                       "this rep has no native sampling", getenv("LD_PRELOAD") ?: "");
        return -ENOENT;
    }
    if ((rc = a->start((double)cfg->where_native_sample_bytes, pyab_replay_dispatched(rp),
                       pystack)) < 0) {
        pyab_error_set(err, "where.native: cannot start sampling: %s", strerror(-rc));
        return rc;
    }
    api = a;
    replay = rp;
    sample_bytes = (double)cfg->where_native_sample_bytes;
    /* A warm-up by requests ends at a known count; one by seconds when the
     * main loop marks it. */
    warm_by_requests = cfg->warmup_requests > 0;
    warm_dispatched = warm_completed = (uint64_t)cfg->warmup_requests;
    return 0;
}

void pyab_native_mark_warmup(void)
{
    if (api == NULL || warm_by_requests)
        return;
    warm_dispatched = atomic_load(pyab_replay_dispatched(replay));
    warm_completed = pyab_replay_completed(replay);
}

/* A sampled allocation still live at the end, with its stack. */
typedef struct snap {
    pyab_natsample_live live;
    const pyab_natsample_stack *stack;
} snap;

typedef struct snaps {
    snap *v;
    size_t n, cap;
} snaps;

/* Under the sampler's lock: copies only (a free here would wait on the lock). */
static void collect(void *data, const pyab_natsample_live *l, const pyab_natsample_stack *s)
{
    snaps *sv = data;

    if (sv->n < sv->cap)
        sv->v[sv->n++] = (snap){*l, s};
}

typedef struct site {
    json_t *desc; /* key, object, symbol, chain, python, python_stack (owned) */
    double bytes, early, late, var;
    long samples;
} site;

typedef struct sites {
    site *v;
    size_t n;
    json_t *index; /* key -> position in v */
    pyab_elfsym *es;
} sites;

enum { SIDE_PYTHON = -1 };

/* Objects that are the allocator or its plumbing: never the answer. */
static int is_wrapper(const char *name)
{
    static const char *const wrappers[] = {"libc.so", "libstdc++.so", "libgcc_s.so", "ld-linux",
                                           "libjemalloc.so", "libtcmalloc", "libmimalloc.so",
                                           "pyab-native.so"};

    for (size_t i = 0; i < PYAB_ARRAY_LEN(wrappers); i++)
        if (strncmp(name, wrappers[i], strlen(wrappers[i])) == 0)
            return 1;
    return 0;
}

/* A Python extension module, by CPython's file naming. */
static int is_extension(const char *name)
{
    return strstr(name, ".cpython-") || strstr(name, ".abi3.so");
}

static int is_python(const char *name)
{
    return strncmp(name, "libpython", 9) == 0;
}

/*
 * A function whose job is to allocate for its caller: cv::fastMalloc, an
 * allocator's allocate(), operator new, a C++ create() such as
 * cv::Mat::create. (C functions named "create" build structures as well
 * as allocate, as libxml2's do, so only the C++ spelling counts.)
 */
static int alloc_like(const char *fn)
{
    return fn && (strcasestr(fn, "alloc") || strstr(fn, "operator new") || strstr(fn, "::create("));
}

static const pyab_elfsym_object *object_at(const pyab_elfsym *es, uintptr_t pc)
{
    return pyab_elfsym_object_of(es, pc - 1);
}

/* The end of the run of frames from i that are in object o. */
static uint32_t run_end(const pyab_elfsym *es, const pyab_natsample_stack *s, uint32_t i,
                        const pyab_elfsym_object *o)
{
    while (i < s->npc && object_at(es, s->pc[i]) == o)
        i++;
    return i;
}

/* A frame of pyab-child's Python-heap hooks (heap.c), which Python's allocator calls. */
static int pyab_heap_hook(pyab_elfsym *es, const pyab_natsample_stack *s, uint32_t i,
                          const pyab_elfsym_object *o)
{
    uint32_t end = run_end(es, s, i, o);
    const pyab_elfsym_object *up = end < s->npc ? object_at(es, s->pc[end]) : NULL;

    return strcmp(o->name, "pyab-child") == 0 && alloc_like(pyab_elfsym_function(es, s->pc[i])) &&
           up && is_python(up->name);
}

static char *frame_text(const pyab_elfsym_object *o, const char *fn)
{
    return xasprintf("%s (%s)", o ? o->name : "?", fn ? fn : "?");
}

/* The library's own library-ness of a Python file: the standard library, installed packages. */
static int is_library_file(const char *file)
{
    return file[0] == '<' || strstr(file, "-packages/") || strstr(file, "/lib/python3");
}

static void describe_python(const pyab_natsample_stack *s, json_t *desc, char **keypart)
{
    json_t *pystack = json_array();
    const code_info *pick = NULL;
    int line = 0;

    for (uint32_t i = 0; i < s->npy; i++) {
        const code_info *c = s->py[i].code < ncodes ? &codes[s->py[i].code] : NULL;
        json_array_append_new(pystack, json_sprintf("%s:%d in %s", c ? c->file : "?",
                                                    (int)s->py[i].line, c ? c->func : "?"));
        if (c && (pick == NULL || (is_library_file(pick->file) && !is_library_file(c->file)))) {
            pick = c;
            line = s->py[i].line;
        }
    }
    if (pick) {
        const char *base = strrchr(pick->file, '/');
        json_object_set_new(desc, "python", json_sprintf("%s:%d in %s", base ? base + 1 : pick->file,
                                                         line, pick->func));
        *keypart = xasprintf("%s:%d", pick->file, line);
    } else {
        json_object_set_new(desc, "python", json_null());
        *keypart = xstrdup("-");
    }
    json_object_set_new(desc, "python_stack", pystack);
}

/* The whole native stack as "object (function)", innermost first: one example of the site's. */
static json_t *native_stack(pyab_elfsym *es, const pyab_natsample_stack *s)
{
    json_t *a = json_array();

    for (uint32_t i = 0; i < s->npc; i++) {
        char *t = frame_text(object_at(es, s->pc[i]), pyab_elfsym_function(es, s->pc[i]));
        json_array_append_new(a, json_string(t));
        free(t);
    }
    return a;
}

/*
 * The site of one stack: the first frame outside the allocator and its
 * plumbing, and past any library whose only part in the stack is an
 * allocation function called by another library (its frames go to the
 * chain). SIDE_PYTHON when that frame is libpython: the Python side's
 * answer applies there.
 */
static long attribute(sites *ss, const pyab_natsample_stack *s)
{
    const pyab_elfsym_object *o = NULL, *up;
    json_t *desc, *chain, *wrappers = json_array(), *pos;
    const char *fn = NULL;
    char *key, *pykey, *first;
    uint32_t i = 0, end;

    while (i < s->npc && (o = object_at(ss->es, s->pc[i])) && is_wrapper(o->name))
        i++;
    if (i < s->npc && o && pyab_heap_hook(ss->es, s, i, o)) {
        /* pyab-child's own heap hooks, under Python's allocator. */
        i = run_end(ss->es, s, i, o);
        o = i < s->npc ? object_at(ss->es, s->pc[i]) : NULL;
    }
    if (i < s->npc && o && is_python(o->name)) {
        json_decref(wrappers);
        return SIDE_PYTHON;
    }
    /* Walk up past libraries that only allocate for the next one up: a
     * run of frames whose own innermost function allocates (cv::fastMalloc,
     * cv::Mat::create), whose caller is an allocation function of another
     * library, or that is a Python extension called by another library's
     * native code rather than by Python (numpy's C API making the array
     * cv2's binding returns). A library called straight from Python is
     * the answer. */
    for (;;) {
        if (i >= s->npc || o == NULL)
            break;
        end = run_end(ss->es, s, i, o);
        fn = pyab_elfsym_function(ss->es, s->pc[i]);
        up = end < s->npc ? object_at(ss->es, s->pc[end]) : NULL;
        if (up == NULL || is_python(up->name) || is_wrapper(up->name) ||
            !(alloc_like(fn) || alloc_like(pyab_elfsym_function(ss->es, s->pc[end])) ||
              is_extension(o->name)))
            break;
        char *text = frame_text(o, fn);
        json_array_insert_new(wrappers, 0, json_string(text));
        free(text);
        i = end;
        o = up;
    }
    /* The run's first frame that has a symbol (stripped internals have none). */
    end = i < s->npc && o ? run_end(ss->es, s, i, o) : i;
    for (fn = NULL; i < end && fn == NULL; i++)
        fn = pyab_elfsym_function(ss->es, s->pc[i]);
    desc = json_object();
    json_object_set_new(desc, "object", json_string(o ? o->name : "?"));
    json_object_set_new(desc, "symbol", fn ? json_string(fn) : json_null());
    if (o && o->build_id[0])
        json_object_set_new(desc, "build_id", json_string(o->build_id));
    first = frame_text(o, fn);
    chain = json_array();
    json_array_append_new(chain, json_string(first));
    json_array_extend(chain, wrappers);
    json_decref(wrappers);
    json_object_set_new(desc, "chain", chain);
    describe_python(s, desc, &pykey);
    json_object_set_new(desc, "native_stack", native_stack(ss->es, s));
    key = xasprintf("%s|%s|%s", o ? o->name : "?", fn ? fn : "?", pykey);
    free(pykey);
    free(first);
    if ((pos = json_object_get(ss->index, key)) != NULL) {
        json_decref(desc);
        free(key);
        return (long)json_integer_value(pos);
    }
    json_object_set_new(desc, "key", json_string(key));
    ss->v = xrealloc(ss->v, (ss->n + 1) * sizeof(*ss->v));
    ss->v[ss->n] = (site){desc, 0, 0, 0, 0, 0};
    json_object_set_new(ss->index, key, json_integer((json_int_t)ss->n));
    free(key);
    return (long)ss->n++;
}

static int by_bytes(const void *a, const void *b)
{
    const site *x = a, *y = b;
    return x->bytes > y->bytes ? -1 : x->bytes < y->bytes;
}

static json_t *site_json(const site *st)
{
    json_t *j = json_deep_copy(st->desc);

    json_object_set_new(j, "bytes", json_real(st->bytes));
    json_object_set_new(j, "early", json_real(st->early));
    json_object_set_new(j, "late", json_real(st->late));
    json_object_set_new(j, "samples", json_integer(st->samples));
    json_object_set_new(j, "var", json_real(st->var));
    return j;
}

static json_t *sites_json(sites *ss)
{
    json_t *out = json_array();
    site other = {json_pack("{ss ss s[] sn}", "key", "(other sites)", "object", "(other sites)",
                            "chain", "python"), 0, 0, 0, 0, 0};

    qsort(ss->v, ss->n, sizeof(*ss->v), by_bytes);
    for (size_t i = 0; i < ss->n; i++) {
        if (i < SITES_MAX) {
            json_array_append_new(out, site_json(&ss->v[i]));
        } else {
            other.bytes += ss->v[i].bytes;
            other.early += ss->v[i].early;
            other.late += ss->v[i].late;
            other.var += ss->v[i].var;
            other.samples += ss->v[i].samples;
        }
        json_decref(ss->v[i].desc);
    }
    if (other.samples)
        json_array_append_new(out, site_json(&other));
    json_decref(other.desc);
    return out;
}

json_t *pyab_native_where_json(void)
{
    pyab_natsample_stats st;
    snaps sv = {0};
    sites ss = {0};
    long *site_of;
    uint64_t requests, mid;
    double py_bytes = 0;
    json_t *j;

    if (api == NULL)
        return NULL;
    api->stop();
    api->stats(&st);
    requests = pyab_replay_completed(replay) - warm_completed;
    mid = warm_dispatched + requests / 2;
    sv.cap = st.live + 1;
    sv.v = xcalloc(sv.cap, sizeof(*sv.v));
    api->foreach(collect, &sv);
    ss.index = json_object();
    ss.es = pyab_elfsym_create();
    site_of = xmalloc(PYAB_NATSAMPLE_MAX_STACKS * sizeof(*site_of));
    for (size_t i = 0; i < PYAB_NATSAMPLE_MAX_STACKS; i++)
        site_of[i] = LONG_MIN;
    for (size_t i = 0; i < sv.n; i++) {
        const pyab_natsample_live *l = &sv.v[i].live;
        double s = (double)l->size, w = s / -expm1(-s / sample_bytes);
        long at;
        if (l->dispatched <= warm_dispatched)
            continue;
        if (site_of[l->stack] == LONG_MIN)
            site_of[l->stack] = attribute(&ss, sv.v[i].stack);
        if ((at = site_of[l->stack]) == SIDE_PYTHON) {
            py_bytes += w;
            continue;
        }
        ss.v[at].bytes += w;
        ss.v[at].var += w * (w - s);
        ss.v[at].samples++;
        if (l->dispatched <= mid)
            ss.v[at].early += w;
        else
            ss.v[at].late += w;
    }
    j = json_pack("{sf sI so s{sI sI sI sI sI sf sI}}", "sample_bytes", sample_bytes, "requests",
                  (json_int_t)requests, "sites", sites_json(&ss), "sampler", "taken",
                  (json_int_t)st.taken, "freed", (json_int_t)st.freed, "dropped",
                  (json_int_t)st.dropped, "live", (json_int_t)st.live, "table_bytes",
                  (json_int_t)st.table_bytes, "python_side_bytes", py_bytes, "code_objects",
                  (json_int_t)ncodes);
    pyab_elfsym_destroy(ss.es);
    json_decref(ss.index);
    free(ss.v);
    free(site_of);
    free(sv.v);
    return j;
}
