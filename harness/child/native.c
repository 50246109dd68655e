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

#include "callees.h"
#include "elfsym.h"
#include "natsample.h"
#include "wheretally.h"

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
 * The calling thread's own frame chain, read without the GIL. The thread
 * is inside a C call (the allocation), so its frames cannot change under
 * us. This is not where.h's pyab_where_pystack on purpose: that one reads
 * the GIL holder's thread state (_PyThreadState_UncheckedGet), right for
 * the Python heap's hooks, which run under the GIL, but wrong here, where
 * native code allocates with the GIL released while another thread runs
 * Python (cv2 decoding, the inference scenario's model): it would read a
 * running thread's frames. And a native sample outlives its frames, so
 * names are copied now (code_index), not resolved at the end. No
 * allocation: PyCode_Addr2Line only reads the code's line table.
 */
/*
 * The frame chain's head and a frame's code moved in 3.13 (issue 17: this
 * did not compile against 3.13); the same switches as where_stack.c.
 */
#if PY_VERSION_HEX >= 0x030D0000
#define TOP_FRAME(ts) ((ts)->current_frame)
#define FRAME_CODE(f) \
    (PyCode_Check((f)->f_executable) ? (PyCodeObject *)(f)->f_executable : NULL)
#else
#define TOP_FRAME(ts) ((ts)->cframe ? (ts)->cframe->current_frame : NULL)
#define FRAME_CODE(f) ((f)->f_code)
#endif

static int pystack(pyab_natsample_pyframe *out, int max)
{
    PyThreadState *ts = PyGILState_GetThisThreadState();
    _PyInterpreterFrame *f;
    int n = 0;

    if (ts == NULL)
        return 0;
    for (f = TOP_FRAME(ts); f && n < max; f = f->previous) {
#if PY_VERSION_HEX >= 0x030C0000
        if (f->owner == FRAME_OWNED_BY_CSTACK)
            continue;
#endif
        if (_PyFrame_IsIncomplete(f) || FRAME_CODE(f) == NULL)
            continue;
        out[n].code = code_index(FRAME_CODE(f));
        out[n].line = PyCode_Addr2Line(FRAME_CODE(f), _PyInterpreterFrame_LASTI(f) *
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
                       pystack, dlsym(RTLD_DEFAULT, "PyObject_Malloc"))) < 0) {
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

/* What one group (a site, a library, a Python line) accumulates. */

typedef struct group {
    json_t *desc; /* key and descriptive fields (owned) */
    pyab_tally t;
} group;

typedef struct groups {
    group *v;
    size_t n;
    json_t *index; /* key -> position in v */
} groups;

/* What a stack is attributed to: a site, its library, the service's line. */
typedef struct where_to {
    long site, library, own; /* -1: none */
} where_to;

typedef struct report {
    groups sites, libraries, own;
    pyab_elfsym *es;
    pyab_callees *callees; /* names of the C functions Python calls */
} report;

/* The group of `key`, made with `desc` (stolen) when new; desc is dropped otherwise. */
static long group_get(groups *gs, const char *key, json_t *desc)
{
    json_t *pos = json_object_get(gs->index, key);

    if (pos) {
        json_decref(desc);
        return (long)json_integer_value(pos);
    }
    json_object_set_new(desc, "key", json_string(key));
    gs->v = xrealloc(gs->v, (gs->n + 1) * sizeof(*gs->v));
    gs->v[gs->n] = (group){desc, {0}};
    json_object_set_new(gs->index, key, json_integer((json_int_t)gs->n));
    return (long)gs->n++;
}

/* Not a native site: Python's allocator made it; a preloaded allocator mapped it for its heap. */
enum { SIDE_PYTHON = -1, SIDE_ALLOCATOR = -2 };

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

static int is_allocator(const char *name)
{
    return strncmp(name, "libjemalloc", 11) == 0 || strncmp(name, "libtcmalloc", 11) == 0 ||
           strncmp(name, "libmimalloc", 11) == 0;
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
static int is_heap_hook(pyab_elfsym *es, const pyab_natsample_stack *s, uint32_t i,
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

/* A file as the terminal shows it: its name, with its folder for a package's __init__.py. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/'), *up;

    if (slash == NULL)
        return path;
    if (strcmp(slash + 1, "__init__.py") == 0) {
        for (up = slash - 1; up > path && *up != '/'; up--)
            ;
        return *up == '/' ? up + 1 : up;
    }
    return slash + 1;
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

/* Whether a Python file is a library's: the standard library, installed packages. */
static int is_library_file(const char *file)
{
    return file[0] == '<' || strstr(file, "-packages/") || strstr(file, "/lib/python3");
}

/*
 * The Python side of a stack: the whole Python stack, and the line to
 * report: the innermost frame of the service's own code (not the standard
 * library's, not an installed package's), else the innermost. *own gets
 * that frame's code entry when it is the service's own, else NULL.
 */
static void describe_python(const pyab_natsample_stack *s, const char *callee, json_t *desc,
                            char **keypart, const code_info **own, int *own_line)
{
    json_t *pystack = json_array();
    const code_info *pick = NULL;
    int line = 0;

    uint32_t picked = 0;

    for (uint32_t i = 0; i < s->npy; i++) {
        const code_info *c = s->py[i].code < ncodes ? &codes[s->py[i].code] : NULL;
        json_array_append_new(pystack, json_sprintf("%s:%d in %s", c ? c->file : "?",
                                                    (int)s->py[i].line, c ? c->func : "?"));
        if (c && (pick == NULL || (is_library_file(pick->file) && !is_library_file(c->file)))) {
            pick = c;
            line = s->py[i].line;
            picked = i;
        }
    }
    *own = pick && !is_library_file(pick->file) ? pick : NULL;
    *own_line = line;
    if (pick) {
        json_object_set_new(desc, "python",
                            /* The line called it itself, or through library code. */
                            callee ? json_sprintf("%s:%d in %s (%s%s)", base_name(pick->file),
                                                  line, pick->func, picked ? "via " : "", callee)
                                   : json_sprintf("%s:%d in %s", base_name(pick->file), line,
                                                  pick->func));
        *keypart = xasprintf("%s:%d|%s", pick->file, line, callee ? callee : "");
    } else {
        json_object_set_new(desc, "python", json_null());
        *keypart = xstrdup("-");
    }
    json_object_set_new(desc, "python_stack", pystack);
}

/*
 * The first frame outside the allocator and its plumbing, past any
 * library that only allocates for another (see below); *lo..*hi is its
 * run of frames. NULL object: a stack of the allocator alone.
 * SIDE_PYTHON when that frame is libpython: the Python side's answer
 * applies there.
 */
static int attributed_frame(pyab_elfsym *es, const pyab_natsample_stack *s, int kind,
                            uint32_t *at, const pyab_elfsym_object **obj, json_t *wrappers)
{
    const pyab_elfsym_object *o = NULL, *up;
    const char *fn;
    uint32_t i = 0, end;

    while (i < s->npc && (o = object_at(es, s->pc[i])) && is_wrapper(o->name)) {
        /* jemalloc, tcmalloc and mimalloc map their heaps through mmap:
         * those mappings hold the blocks already sampled as malloc. */
        if (kind == PYAB_NATSAMPLE_MMAP && is_allocator(o->name))
            return SIDE_ALLOCATOR;
        i++;
    }
    if (i < s->npc && o && is_heap_hook(es, s, i, o)) {
        /* pyab-child's own heap hooks, under Python's allocator. */
        i = run_end(es, s, i, o);
        o = i < s->npc ? object_at(es, s->pc[i]) : NULL;
    }
    if (i < s->npc && o && is_python(o->name))
        return SIDE_PYTHON;
    /* Walk up past libraries that only allocate for the next one up: a
     * run of frames whose own innermost function allocates (cv::fastMalloc,
     * cv::Mat::create), whose caller is an allocation function of another
     * library, or that is a Python extension called by another library's
     * native code rather than by Python (numpy's C API making the array
     * cv2's binding returns). A library called straight from Python is
     * the answer. */
    while (i < s->npc && o) {
        end = run_end(es, s, i, o);
        fn = pyab_elfsym_function(es, s->pc[i]);
        up = end < s->npc ? object_at(es, s->pc[end]) : NULL;
        if (up == NULL || is_python(up->name) || is_wrapper(up->name) ||
            !(alloc_like(fn) || alloc_like(pyab_elfsym_function(es, s->pc[end])) ||
              is_extension(o->name)))
            break;
        char *text = frame_text(o, fn);
        json_array_insert_new(wrappers, 0, json_string(text));
        free(text);
        i = end;
        o = up;
    }
    *at = i;
    *obj = i < s->npc ? o : NULL;
    return 0;
}

/* The groups one stack goes to (made on first sight). */
/*
 * The Python name of the C function the interpreter called into, from the
 * stack's last native frame before its first libpython one: its function
 * start (the unwind table's) is a PyMethodDef's ml_meth. NULL when the
 * walk did not reach the interpreter or the function is not one Python
 * can name (a type's tp_call, ctypes' call).
 */
static const char *entry_callee(report *rp, const pyab_natsample_stack *s)
{
    const pyab_elfsym_object *o;
    uintptr_t start;

    if (s->npc < 2 || api->function_start == NULL ||
        (o = object_at(rp->es, s->pc[s->npc - 1])) == NULL || !is_python(o->name))
        return NULL;
    start = api->function_start(s->pc[s->npc - 2]);
    return start ? pyab_callees_name(rp->callees, start) : NULL;
}

static where_to attribute(report *rp, const pyab_natsample_stack *s, int kind)
{
    const pyab_elfsym_object *o;
    const code_info *own;
    json_t *desc, *chain, *wrappers = json_array();
    const char *fn = NULL, *oname, *callee;
    char *key, *pykey, *first;
    uint32_t i, end;
    int own_line;
    where_to to = {-1, -1, -1};

    if ((to.site = attributed_frame(rp->es, s, kind, &i, &o, wrappers)) < 0) {
        json_decref(wrappers);
        return to;
    }
    /* The run's first frame that has a symbol (stripped internals have none). */
    end = o ? run_end(rp->es, s, i, o) : i;
    for (; i < end && fn == NULL; i++)
        fn = pyab_elfsym_function(rp->es, s->pc[i]);
    oname = o ? o->name : "(allocator only)";
    desc = json_pack("{ss so}", "object", oname, "symbol", fn ? json_string(fn) : json_null());
    if (o && o->build_id[0])
        json_object_set_new(desc, "build_id", json_string(o->build_id));
    first = frame_text(o, fn);
    chain = json_pack("[s]", first);
    json_array_extend(chain, wrappers);
    json_decref(wrappers);
    json_object_set_new(desc, "chain", chain);
    callee = entry_callee(rp, s);
    if (callee)
        json_object_set_new(desc, "callee", json_string(callee));
    describe_python(s, callee, desc, &pykey, &own, &own_line);
    json_object_set_new(desc, "native_stack", native_stack(rp->es, s));
    key = xasprintf("%s|%s|%s", oname, fn ? fn : "?", pykey);
    to.site = group_get(&rp->sites, key, desc);
    to.library = group_get(&rp->libraries, oname,
                           o && o->build_id[0]
                               ? json_pack("{ss ss ss}", "object", oname, "path", o->path,
                                           "build_id", o->build_id)
                               : json_pack("{ss}", "object", oname));
    if (own) {
        free(key);
        key = xasprintf("%s:%d", own->file, own_line);
        desc = json_pack("{ss si ss}", "file", own->file, "line", own_line, "function",
                         own->func);
        json_object_set_new(desc, "site", json_sprintf("%s:%d", base_name(own->file), own_line));
        to.own = group_get(&rp->own, key, desc);
    }
    free(first);
    free(key);
    free(pykey);
    return to;
}

static int by_bytes(const void *a, const void *b)
{
    const group *x = a, *y = b;
    return x->t.bytes > y->t.bytes ? -1 : x->t.bytes < y->t.bytes;
}

/* The heaviest SITES_MAX groups, the rest summed into one; frees gs. */
static json_t *groups_json(groups *gs)
{
    json_t *out = json_array();
    pyab_tally other = {0};

    qsort(gs->v, gs->n, sizeof(*gs->v), by_bytes);
    for (size_t i = 0; i < gs->n; i++) {
        if (i < SITES_MAX)
            json_array_append_new(out, pyab_tally_json(json_incref(gs->v[i].desc), &gs->v[i].t));
        else
            pyab_tally_merge(&other, &gs->v[i].t);
        json_decref(gs->v[i].desc);
    }
    if (other.samples)
        json_array_append_new(out, pyab_tally_json(json_pack("{ss ss}", "key", "(other)", "object",
                                                        "(other)"), &other));
    json_decref(gs->index);
    free(gs->v);
    return out;
}

json_t *pyab_native_where_json(const char *point)
{
    pyab_natsample_stats st;
    snaps sv = {0};
    report rp = {{NULL, 0, json_object()}, {NULL, 0, json_object()}, {NULL, 0, json_object()},
                 NULL};
    where_to *to;
    uint64_t requests, mid;
    pyab_tally total = {0}, python = {0}, allocator = {0};
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
    rp.es = pyab_elfsym_create();
    rp.callees = pyab_callees_create();
    to = xmalloc(PYAB_NATSAMPLE_MAX_STACKS * sizeof(*to));
    for (size_t i = 0; i < PYAB_NATSAMPLE_MAX_STACKS; i++)
        to[i].site = LONG_MIN;
    for (size_t i = 0; i < sv.n; i++) {
        const pyab_natsample_live *l = &sv.v[i].live;
        pyab_tally one = {0};
        where_to *t = &to[l->stack];
        /* Made after warm-up: stamped with a later dispatched count. */
        if (l->dispatched <= warm_dispatched)
            continue;
        pyab_tally_add(&one, (double)l->size, sample_bytes, l->dispatched <= mid);
        if (t->site == LONG_MIN)
            *t = attribute(&rp, sv.v[i].stack, (int)l->kind);
        if (t->site < 0) {
            pyab_tally_merge(t->site == SIDE_PYTHON ? &python : &allocator, &one);
            continue;
        }
        pyab_tally_merge(&total, &one);
        pyab_tally_merge(&rp.sites.v[t->site].t, &one);
        pyab_tally_merge(&rp.libraries.v[t->library].t, &one);
        if (t->own >= 0)
            pyab_tally_merge(&rp.own.v[t->own].t, &one);
    }
    j = json_pack("{ss sf sI ss so so so so}", "mode", "sampled", "sample_bytes", sample_bytes,
                  "requests", (json_int_t)requests, "point", point, "total",
                  pyab_tally_json(json_object(), &total), "sites", groups_json(&rp.sites),
                  "libraries", groups_json(&rp.libraries), "own", groups_json(&rp.own));
    json_object_set_new(j, "sampler",
                        json_pack("{sI sI sI sI sI sI sf sf sI ss}", "taken", (json_int_t)st.taken,
                                  "freed", (json_int_t)st.freed, "dropped",
                                  (json_int_t)st.dropped, "live", (json_int_t)st.live,
                                  "table_bytes", (json_int_t)st.table_bytes, "table_resident_bytes",
                                  (json_int_t)st.table_resident_bytes, "python_side_bytes",
                                  python.bytes, "allocator_mapped_bytes", allocator.bytes,
                                  "code_objects", (json_int_t)ncodes, "unwinder",
                                  st.unwinder ? st.unwinder : "none"));
    pyab_elfsym_destroy(rp.es);
    pyab_callees_destroy(rp.callees);
    free(to);
    free(sv.v);
    return j;
}
