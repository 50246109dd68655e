#include "asgi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "asgi_py.h" /* asgi_py: generated from asgi.py by tools/embed.c */
#include "interp.h"

#include <pythread.h>

/* A request that starts this long after it was due counts as late (as replay.c). */
#define LATE_NS 1000000ull
/* The loop's timer fires at least this often, so a stop is noticed. */
#define MAX_NAP_NS 50000000ull

/* Where the loop thread is in its life; guarded by lock, announced on cond. */
enum { ST_STARTING, ST_READY, ST_GO, ST_ABORT, ST_OVER, ST_SHUTDOWN, ST_DONE };

struct pyab_asgi {
    pyab_replay *rp;
    const pyab_config *cfg;
    PyObject *driver; /* asgi.Driver (owned) */
    PyObject *hooks;  /* the module of C functions the driver calls (owned) */
    int tfd;          /* timerfd armed at the next due time (open loop) */
    uv_thread_t loop_thread;
    uv_mutex_t lock;
    uv_cond_t cond;
    int state;
    char *startup_error;  /* why the lifespan startup failed, or NULL */
    char *shutdown_error; /* why the lifespan shutdown failed, or NULL */
    int shutdown_ran;
    /* Open loop: the loop has taken requests [0, taken); ended once all are. */
    uint64_t taken;
    int ended;
    uint64_t started, finished; /* loop thread only */
    uint64_t batches, max_batch;
    long left_behind; /* tasks still running when the replay ended */
    unsigned long loop_ident;    /* the loop thread's Python thread id */
    _Atomic uint64_t beat_ns;    /* the sweeper's last pass: the loop is running */
    uint64_t flagged_beat;       /* main thread: the beat last reported as stuck */
    uint64_t stuck;              /* how often the loop was found blocked */
};

/* One driver per child: the hooks find it here. */
static pyab_asgi *the;

static void set_state(pyab_asgi *a, int st)
{
    uv_mutex_lock(&a->lock);
    a->state = st;
    uv_cond_broadcast(&a->cond);
    uv_mutex_unlock(&a->lock);
}

/* Waits, without the GIL, until the state is at least `st`; returns it. */
static int wait_state(pyab_asgi *a, int st)
{
    int now;

    Py_BEGIN_ALLOW_THREADS
    uv_mutex_lock(&a->lock);
    while (a->state < st)
        uv_cond_wait(&a->cond, &a->lock);
    now = a->state;
    uv_mutex_unlock(&a->lock);
    Py_END_ALLOW_THREADS
    return now;
}

static char *text_or_null(PyObject *o)
{
    const char *s = o != Py_None && PyUnicode_Check(o) ? PyUnicode_AsUTF8(o) : NULL;

    PyErr_Clear();
    return s ? xstrdup(s) : NULL;
}

/* ---- the hooks asgi.py calls, on the loop thread (GIL held) ---- */

static PyObject *hook_ready(PyObject *self, PyObject *error)
{
    int st;

    the->startup_error = text_or_null(error);
    set_state(the, ST_READY);
    st = wait_state(the, ST_GO);
    return PyBool_FromLong(st == ST_GO);
}

static PyObject *hook_warn(PyObject *self, PyObject *text)
{
    const char *s = PyUnicode_AsUTF8(text);

    if (s == NULL)
        return NULL;
    pyab_log("%s", s);
    Py_RETURN_NONE;
}

/* (idx, due_ns, request dict), or NULL with an exception set. */
static PyObject *item(pyab_asgi *a, uint64_t idx, uint64_t due)
{
    PyObject *req = pyab_replay_request(a->rp, idx, a->cfg->app_kind == PYAB_APP_ASGI);
    PyObject *t;

    if (req == NULL)
        return NULL;
    t = Py_BuildValue("(KKN)", (unsigned long long)idx, (unsigned long long)due, req);
    if (t != NULL)
        a->started++;
    return t;
}

/* Arms the timer at `when` (pyab_now_ns time), at most MAX_NAP_NS away. */
static void arm(pyab_asgi *a, uint64_t when)
{
    uint64_t now = pyab_now_ns(), cap = now + MAX_NAP_NS;
    struct itimerspec it = {{0, 0}, {0, 0}};

    if (when > cap)
        when = cap;
    if (when == 0)
        when = 1; /* 0 would disarm it */
    it.it_value.tv_sec = (time_t)(when / 1000000000u);
    it.it_value.tv_nsec = (long)(when % 1000000000u);
    if (timerfd_settime(a->tfd, TFD_TIMER_ABSTIME, &it, NULL) < 0)
        pyab_log("asgi: timerfd_settime failed: %s", strerror(errno));
}

/*
 * Open loop, when the timer fires: every request due by now that was not
 * taken yet, as a list; None once the replay is over. Requests due while
 * max_in_flight are outstanding are dropped, those taken more than LATE_NS
 * after their due time are late, as for threaded workers. Then the timer
 * is armed at the next due time: one wake-up of the loop thread per batch,
 * by the kernel's timer, with no thread in between.
 */
static PyObject *hook_take(PyObject *self, PyObject *unused)
{
    pyab_asgi *a = the;
    uint64_t fired, now, rel, total = pyab_replay_total(a->rp);
    uint64_t limit = (uint64_t)a->cfg->max_in_flight;
    PyObject *list;

    if (read(a->tfd, &fired, sizeof(fired)) < 0 && errno != EAGAIN)
        return PyErr_SetFromErrno(PyExc_OSError);
    if (pyab_replay_stopping(a->rp) || a->ended)
        Py_RETURN_NONE;
    now = pyab_now_ns();
    rel = a->taken < total ? pyab_replay_due_by(a->rp, a->taken, now) : total;
    if ((list = PyList_New(0)) == NULL)
        return NULL;
    for (; a->taken < rel; a->taken++) {
        uint64_t idx = a->taken, due = pyab_replay_due_ns(a->rp, idx);
        PyObject *t;
        if (a->started - a->finished >= limit) {
            pyab_replay_count(a->rp, PYAB_REPLAY_DROPPED);
            continue;
        }
        if (now >= due + LATE_NS)
            pyab_replay_count(a->rp, PYAB_REPLAY_LATE);
        /* Before the request is built: native samples are stamped with it. */
        pyab_replay_set_dispatched(a->rp, idx + 1);
        if ((t = item(a, idx, due)) == NULL || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(t);
    }
    if (PyList_GET_SIZE(list) > 0) {
        a->batches++;
        if ((uint64_t)PyList_GET_SIZE(list) > a->max_batch)
            a->max_batch = (uint64_t)PyList_GET_SIZE(list);
    }
    if (a->taken >= total) {
        /* The last batch: fire once more at once, to say the replay is over. */
        a->ended = 1;
        arm(a, now);
    } else {
        arm(a, pyab_replay_due_ns(a->rp, a->taken));
    }
    return list;
}

/* Closed loop: the next request, due now; None once the replay is over. */
static PyObject *hook_take_one(PyObject *self, PyObject *unused)
{
    int64_t idx = pyab_replay_next(the->rp);

    if (idx < 0)
        Py_RETURN_NONE;
    return item(the, (uint64_t)idx, pyab_now_ns());
}

static int parse_idx_due(PyObject *const *args, Py_ssize_t n, Py_ssize_t want, uint64_t *idx,
                         uint64_t *due)
{
    if (n != want) {
        PyErr_Format(PyExc_TypeError, "expected %zd arguments, got %zd", want, n);
        return -1;
    }
    *idx = PyLong_AsUnsignedLongLong(args[0]);
    *due = PyLong_AsUnsignedLongLong(args[1]);
    return PyErr_Occurred() ? -1 : 0;
}

/* done(idx, due_ns, status, response_ns): a request that completed. */
static PyObject *hook_done(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    uint64_t idx, due, end;

    if (parse_idx_due(args, n, 4, &idx, &due) < 0)
        return NULL;
    end = PyLong_AsUnsignedLongLong(args[3]);
    if (PyErr_Occurred() || end < due)
        end = pyab_now_ns();
    PyErr_Clear();
    the->finished++;
    pyab_replay_record(the->rp, idx, due, end, args[2]);
    Py_RETURN_NONE;
}

/*
 * fail(idx, due_ns, exception, status): a request whose task raised;
 * status is the one its response carried when it sent one first, or None.
 */
static PyObject *hook_fail(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    uint64_t idx, due;
    PyObject *exc;

    if (parse_idx_due(args, n, 4, &idx, &due) < 0)
        return NULL;
    exc = args[2];
    if (!PyExceptionInstance_Check(exc)) {
        PyErr_SetString(PyExc_TypeError, "fail() takes an exception");
        return NULL;
    }
    if (PyLong_CheckExact(args[3]))
        pyab_replay_count_status(the->rp, idx, args[3]);
    /* pyab_replay_record takes the pending exception, as after a call. */
    PyErr_Restore(Py_NewRef(Py_TYPE(exc)), Py_NewRef(exc), PyException_GetTraceback(exc));
    the->finished++;
    pyab_replay_record(the->rp, idx, due, pyab_now_ns(), NULL);
    Py_RETURN_NONE;
}

/* timeout(idx, ms): a request cancelled for running past timeout_ms. */
static PyObject *hook_timeout(PyObject *self, PyObject *const *args, Py_ssize_t n)
{
    uint64_t idx;
    double ms;

    if (n != 2)
        return PyErr_Format(PyExc_TypeError, "timeout() takes 2 arguments");
    idx = PyLong_AsUnsignedLongLong(args[0]);
    ms = PyFloat_AsDouble(args[1]);
    if (PyErr_Occurred())
        return NULL;
    pyab_replay_count(the->rp, PYAB_REPLAY_TIMEOUT);
    pyab_log("request %llu (route %s, trace line %u) has run %.0f ms without finishing, over "
             "timeout_ms; cancelling its task",
             (unsigned long long)idx, pyab_replay_route(the->rp, idx),
             pyab_replay_line(the->rp, idx), ms);
    Py_RETURN_NONE;
}

/* beat(): the sweeper's pass, every ~100 ms while the loop runs. */
static PyObject *hook_beat(PyObject *self, PyObject *unused)
{
    atomic_store_explicit(&the->beat_ns, pyab_now_ns(), memory_order_relaxed);
    Py_RETURN_NONE;
}

/* over(tasks_left): the replay is over; waits for the shutdown's turn. */
static PyObject *hook_over(PyObject *self, PyObject *left)
{
    the->left_behind = PyLong_AsLong(left);
    PyErr_Clear();
    if (the->left_behind > 0)
        pyab_log("asgi: %ld task(s) still running when the replay ended; left behind",
                 the->left_behind);
    set_state(the, ST_OVER);
    pyab_replay_loop_exited(the->rp);
    wait_state(the, ST_SHUTDOWN);
    Py_RETURN_NONE;
}

/* shut(error): the lifespan shutdown is done (error None when it went well). */
static PyObject *hook_shut(PyObject *self, PyObject *error)
{
    the->shutdown_error = text_or_null(error);
    the->shutdown_ran = 1;
    set_state(the, ST_DONE);
    Py_RETURN_NONE;
}

static PyMethodDef hook_methods[] = {
    {"ready", hook_ready, METH_O, NULL},
    {"warn", hook_warn, METH_O, NULL},
    {"take", hook_take, METH_NOARGS, NULL},
    {"take_one", hook_take_one, METH_NOARGS, NULL},
    {"done", (PyCFunction)(void (*)(void))hook_done, METH_FASTCALL, NULL},
    {"fail", (PyCFunction)(void (*)(void))hook_fail, METH_FASTCALL, NULL},
    {"timeout", (PyCFunction)(void (*)(void))hook_timeout, METH_FASTCALL, NULL},
    {"beat", hook_beat, METH_NOARGS, NULL},
    {"over", hook_over, METH_O, NULL},
    {"shut", hook_shut, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef hook_module = {
    PyModuleDef_HEAD_INIT, "_pyab_loop", "pyab's event-loop hooks (asgi.c)", -1, hook_methods,
    NULL, NULL, NULL, NULL,
};

/* ---- the threads ---- */

static void loop_main(void *arg)
{
    pyab_asgi *a = arg;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *r;

    a->loop_ident = PyThread_get_thread_ident();
    r = PyObject_CallMethod(a->driver, "run", "(O)", a->hooks);

    if (r == NULL) {
        /* The driver itself failed (pyab's bug, not the service's). */
        PyObject *exc = pyab_interp_take_exception();
        char *tb = exc ? pyab_interp_format_exception(exc) : xstrdup("(no exception)");
        pyab_log("asgi: the event-loop driver failed:\n%s", tb);
        free(tb);
        Py_XDECREF(exc);
        uv_mutex_lock(&a->lock);
        int st = a->state;
        uv_mutex_unlock(&a->lock);
        if (st < ST_READY) {
            a->startup_error = xstrdup("the event-loop driver failed (see stderr.log)");
            set_state(a, ST_READY);
        } else if (st < ST_OVER) {
            set_state(a, ST_OVER);
            pyab_replay_loop_exited(a->rp);
        }
        set_state(a, ST_DONE);
    }
    Py_XDECREF(r);
    PyGILState_Release(g);
}

/* ---- the replayer's side ---- */

static PyObject *load_glue(pyab_error *err)
{
    PyObject *ns = PyDict_New(), *code, *r, *name;

    if (ns == NULL)
        return NULL;
    PyDict_SetItemString(ns, "__builtins__", PyEval_GetBuiltins());
    name = PyUnicode_FromString("_pyab_asgi");
    PyDict_SetItemString(ns, "__name__", name);
    Py_XDECREF(name);
    code = Py_CompileString((const char *)asgi_py, "<pyab asgi.py>", Py_file_input);
    r = code ? PyEval_EvalCode(code, ns, ns) : NULL;
    Py_XDECREF(code);
    if (r == NULL) {
        PyObject *exc = pyab_interp_take_exception();
        char *tb = exc ? pyab_interp_format_exception(exc) : xstrdup("");
        pyab_error_internal(err, "pyab's asgi.py failed:\n%s", tb);
        free(tb);
        Py_XDECREF(exc);
        Py_DECREF(ns);
        return NULL;
    }
    Py_DECREF(r);
    return ns;
}

static PyObject *make_hooks(const pyab_config *cfg, int tfd)
{
    PyObject *m = PyModule_Create(&hook_module);
    long users = cfg->load_model == PYAB_LOAD_CLOSED ? cfg->users : 0;

    if (m == NULL || PyModule_AddIntConstant(m, "fd", tfd) < 0 ||
        PyModule_AddIntConstant(m, "closed_users", users) < 0 ||
        PyModule_AddObject(m, "think_s", PyFloat_FromDouble(cfg->think_ms / 1000)) < 0) {
        Py_XDECREF(m);
        return NULL;
    }
    return m;
}

/*
 * 1 when fn is surely a plain (not `async def`) function or method, so a
 * synchronous service loads no event-loop glue at all; 0 when asgi.py
 * must look (an `async def`, a callable object, a partial, ...).
 */
static int plain_function(PyObject *fn)
{
    if (PyMethod_Check(fn))
        fn = PyMethod_GET_FUNCTION(fn);
    if (!PyFunction_Check(fn))
        return 0;
    return !(((PyCodeObject *)PyFunction_GET_CODE(fn))->co_flags & CO_COROUTINE);
}

int pyab_asgi_create(pyab_replay *rp, const pyab_config *cfg, PyObject *app, pyab_asgi **out,
                     pyab_error *err)
{
    static const char *const loops[] = {"asyncio", "uvloop"};
    static const char *const lifespans[] = {"auto", "on", "off"};
    PyObject *ns, *fn, *driver;
    pyab_asgi *a;

    *out = NULL;
    if (cfg->app_kind == PYAB_APP_WSGI ||
        (cfg->app_kind != PYAB_APP_ASGI && plain_function(app)))
        return 0;
    if ((ns = load_glue(err)) == NULL)
        return -EIO;
    fn = PyDict_GetItemString(ns, "driver_for");
    driver = PyObject_CallFunction(fn, "Ossslsd", app,
                                   cfg->app_kind == PYAB_APP_ASGI ? "asgi" : "handler",
                                   loops[cfg->asgi_loop], lifespans[cfg->asgi_lifespan],
                                   cfg->asgi_chunk_bytes, cfg->asgi_root_path,
                                   cfg->timeout_ms / 1000);
    Py_DECREF(ns);
    if (driver == NULL) {
        PyObject *exc = pyab_interp_take_exception();
        char *tb = exc ? pyab_interp_format_exception(exc) : xstrdup("");
        pyab_error_set(err, "asgi: cannot run the app on an event loop:\n%s", tb);
        free(tb);
        Py_XDECREF(exc);
        return -EINVAL;
    }
    if (driver == Py_None) {
        Py_DECREF(driver);
        return 0;
    }
    a = xcalloc(1, sizeof(*a));
    a->rp = rp;
    a->cfg = cfg;
    a->driver = driver;
    a->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (a->tfd < 0)
        return pyab_error_internal(err, "timerfd_create: %s", strerror(errno));
    if ((a->hooks = make_hooks(cfg, a->tfd)) == NULL)
        return pyab_error_internal(err, "cannot create the event-loop hooks");
    uv_mutex_init(&a->lock);
    uv_cond_init(&a->cond);
    the = *out = a;
    return 0;
}

int pyab_asgi_startup(pyab_asgi *a, pyab_error *err)
{
    int rc = uv_thread_create(&a->loop_thread, loop_main, a);

    if (rc < 0)
        return pyab_error_internal(err, "cannot start the event-loop thread: %s", uv_strerror(rc));
    wait_state(a, ST_READY);
    if (a->startup_error) {
        /* The loop thread stays blocked; the child exits with this error. */
        pyab_error_set(err, "app: the ASGI lifespan startup failed:\n%s", a->startup_error);
        return -EINVAL;
    }
    return 0;
}

void pyab_asgi_check_stuck(pyab_asgi *a, PyThreadState *main_ts)
{
    uint64_t beat = atomic_load_explicit(&a->beat_ns, memory_order_relaxed), now = pyab_now_ns();
    uint64_t limit = (uint64_t)(a->cfg->timeout_ms * 1e6);
    int st;

    uv_mutex_lock(&a->lock);
    st = a->state;
    uv_mutex_unlock(&a->lock);
    if (st != ST_GO || beat == 0 || now - beat < limit + MAX_NAP_NS || beat == a->flagged_beat)
        return;
    a->flagged_beat = beat;
    a->stuck++;
    pyab_log("the event loop has not run for %.0f ms, over timeout_ms: a task blocks it; "
             "raising TimeoutError in the loop thread (the task running gets it)",
             (double)(now - beat) / 1e6);
    PyEval_RestoreThread(main_ts);
    PyThreadState_SetAsyncExc(a->loop_ident, PyExc_TimeoutError);
    PyEval_SaveThread();
}

int pyab_asgi_go(pyab_asgi *a)
{
    if (a->cfg->load_model == PYAB_LOAD_OPEN)
        arm(a, pyab_replay_due_ns(a->rp, 0));
    set_state(a, ST_GO);
    return 0;
}

void pyab_asgi_shutdown(pyab_asgi *a, double seconds)
{
    uint64_t deadline = pyab_now_ns() + (uint64_t)(seconds * 1e9);
    int done;

    uv_mutex_lock(&a->lock);
    if (a->state == ST_OVER) {
        a->state = ST_SHUTDOWN;
        uv_cond_broadcast(&a->cond);
    }
    /* A loop thread stuck in a request never reaches OVER: leave it. */
    while (a->state == ST_SHUTDOWN && pyab_now_ns() < deadline)
        uv_cond_timedwait(&a->cond, &a->lock, 10000000);
    done = a->state == ST_DONE;
    uv_mutex_unlock(&a->lock);
    if (!done)
        pyab_log("asgi: the lifespan shutdown did not finish within %.1f s; not waiting for it",
                 seconds);
}

json_t *pyab_asgi_json(const pyab_asgi *a)
{
    static const char *const loops[] = {"asyncio", "uvloop"};
    PyObject *used = PyObject_GetAttrString(a->driver, "lifespan_used");
    const char *lifespan = used ? PyUnicode_AsUTF8(used) : NULL;
    json_t *j;

    PyErr_Clear();
    j = json_pack("{ss ss sI sI sI sI}", "loop", loops[a->cfg->asgi_loop], "lifespan",
                  lifespan ? lifespan : "unknown", "batches", (json_int_t)a->batches,
                  "max_batch", (json_int_t)a->max_batch, "tasks_left_behind",
                  (json_int_t)a->left_behind, "loop_blocked", (json_int_t)a->stuck);
    Py_XDECREF(used);
    /* The lifespan shutdown: null when the app ran without the protocol. */
    json_object_set_new(j, "shutdown",
                        lifespan == NULL || strcmp(lifespan, "on") != 0 ? json_null()
                        : !a->shutdown_ran                           ? json_string("not run")
                        : a->shutdown_error ? json_string(a->shutdown_error)
                                            : json_string("complete"));
    Py_XDECREF(used);
    return j;
}
