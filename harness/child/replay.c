#include "replay.h"

#include <errno.h>
#include <math.h>
#include <pythread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asgi.h"
#include "gcwatch.h"
#include "request.h"
#include "routestats.h"
#include "where.h"
#include "transform.h"

/* A request that starts this long after it was due counts as late. */
#define LATE_NS 1000000ull
/* Sleeping workers wake at least this often to notice a stop. */
#define MAX_NAP_NS 50000000ull

enum { KEY_T, KEY_ROUTE, NKEYS };

typedef struct worker {
    pyab_replay *rp;
    int index;
    uv_thread_t thread;
    unsigned long ident;
    pyab_hist hist;
    _Atomic uint64_t busy_since; /* 0 when not inside the handler */
    _Atomic uint64_t busy_idx;
    uint64_t flagged_idx; /* main thread: the request last reported as timed out, + 1 */
    _Atomic int exited;
    int joined;
    uint64_t token; /* closed loop with a token queue: when this user is ready */
} worker;

struct pyab_replay {
    const pyab_config *cfg;
    const pyab_trace *trace;
    PyObject *handler;
    PyObject *keys[NKEYS];
    uv_async_t *notify;
    void (*on_work)(void *, uint64_t); /* called every sample_every completed requests */
    void *on_work_data;
    uint64_t sample_every;    /* 0: samples by time only */
    uint64_t planned;         /* the requests of one planned run */
    uint64_t total;           /* the most this rep replays: planned, or the until-settled cap */
    uint32_t *keep; /* indices of the records replayed (load.routes, load.sample) */
    size_t nkeep;
    double t0;   /* t of the first kept record: it is due at 0 */
    double span; /* open loop: seconds one pass over the trace takes */
    uint64_t start_ns;
    _Atomic uint64_t next, completed, errors, dropped, late, timeouts, warmup_ns;
    _Atomic int stop;
    worker *workers;
    int nworkers;
    int token_queue; /* closed loop where users wait for workers or think */
    uv_mutex_t lock;
    uv_cond_t cond;
    uint64_t *heap; /* min-heap of ready times of idle users */
    size_t nheap;
    pyab_routestats *routes; /* touched with the GIL held */
    pyab_hist prev; /* main thread: sum of worker histograms at the last window */
    _Atomic uint64_t last_done_ns;
    pyab_asgi *loop; /* event-loop apps: the driver that replaces the workers */
};

static void nap_until(pyab_replay *rp, uint64_t when)
{
    for (;;) {
        uint64_t now = pyab_now_ns();
        struct timespec ts;
        if (now >= when || atomic_load_explicit(&rp->stop, memory_order_relaxed))
            return;
        uint64_t d = when - now < MAX_NAP_NS ? when - now : MAX_NAP_NS;
        ts.tv_sec = (time_t)(d / 1000000000u);
        ts.tv_nsec = (long)(d % 1000000000u);
        nanosleep(&ts, NULL);
    }
}

/* The record request idx replays: passes cycle over the kept records. */
static const pyab_trace_rec *rec_at(const pyab_replay *rp, uint64_t idx)
{
    return &rp->trace->recs[rp->keep[idx % rp->nkeep]];
}

/* Offset from the start at which request idx is due (open loop). */
static uint64_t due_offset(const pyab_replay *rp, uint64_t idx)
{
    double s;

    if (rp->cfg->rate > 0)
        s = (double)idx / rp->cfg->rate;
    else
        s = ((double)(idx / rp->nkeep) * rp->span + rec_at(rp, idx)->t - rp->t0) / rp->cfg->speed;
    return (uint64_t)(s * 1e9);
}

/* How many requests are due by `offset` (due times rise with the index). */
static uint64_t due_count(const pyab_replay *rp, uint64_t from, uint64_t offset)
{
    uint64_t lo = from, hi = rp->total;

    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (due_offset(rp, mid) <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int64_t take_open(pyab_replay *rp, uint64_t *due)
{
    for (;;) {
        uint64_t idx = atomic_fetch_add(&rp->next, 1), now, outstanding;
        if (idx >= rp->total || atomic_load(&rp->stop))
            return -1;
        *due = rp->start_ns + due_offset(rp, idx);
        nap_until(rp, *due);
        if (atomic_load(&rp->stop))
            return -1;
        now = pyab_now_ns();
        if (now < *due + LATE_NS)
            return (int64_t)idx;
        atomic_fetch_add(&rp->late, 1);
        outstanding = due_count(rp, idx, now - rp->start_ns) - atomic_load(&rp->completed) -
                      atomic_load(&rp->dropped);
        if (outstanding <= (uint64_t)rp->cfg->max_in_flight)
            return (int64_t)idx;
        atomic_fetch_sub(&rp->late, 1);
        atomic_fetch_add(&rp->dropped, 1);
    }
}

static void heap_push(pyab_replay *rp, uint64_t v)
{
    size_t i = rp->nheap++;

    while (i > 0 && rp->heap[(i - 1) / 2] > v) {
        rp->heap[i] = rp->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    rp->heap[i] = v;
}

static uint64_t heap_pop(pyab_replay *rp)
{
    uint64_t top = rp->heap[0], last = rp->heap[--rp->nheap];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= rp->nheap)
            break;
        if (c + 1 < rp->nheap && rp->heap[c + 1] < rp->heap[c])
            c++;
        if (rp->heap[c] >= last)
            break;
        rp->heap[i] = rp->heap[c];
        i = c;
    }
    if (rp->nheap)
        rp->heap[i] = last;
    return top;
}

static int64_t take_closed(pyab_replay *rp, worker *w, uint64_t *due)
{
    uint64_t idx;

    if (!rp->token_queue) {
        idx = atomic_fetch_add(&rp->next, 1);
        *due = pyab_now_ns();
        return idx < rp->total && !atomic_load(&rp->stop) ? (int64_t)idx : -1;
    }
    uv_mutex_lock(&rp->lock);
    while (rp->nheap == 0 && !atomic_load(&rp->stop))
        uv_cond_wait(&rp->cond, &rp->lock);
    w->token = rp->nheap ? heap_pop(rp) : 0;
    uv_mutex_unlock(&rp->lock);
    if (w->token == 0)
        return -1;
    nap_until(rp, w->token);
    idx = atomic_fetch_add(&rp->next, 1);
    if (idx >= rp->total || atomic_load(&rp->stop)) {
        pyab_replay_stop(rp); /* wakes the other waiters */
        return -1;
    }
    *due = w->token;
    return (int64_t)idx;
}

static void give_token_back(pyab_replay *rp, worker *w)
{
    if (!rp->token_queue || w->token == 0)
        return;
    uv_mutex_lock(&rp->lock);
    heap_push(rp, pyab_now_ns() + (uint64_t)(rp->cfg->think_ms * 1e6));
    uv_cond_signal(&rp->cond);
    uv_mutex_unlock(&rp->lock);
}

/* Counts a finished call: res (borrowed), or NULL with its exception pending. GIL held. */
static uint64_t count_result(pyab_replay *rp, const pyab_trace_rec *rec, PyObject *res)
{
    const pyab_config *cfg = rp->cfg;
    uint64_t done;

    if (res == NULL) {
        atomic_fetch_add(&rp->errors, 1);
        pyab_routestats_error(rp->routes, rec->route);
    } else {
        pyab_routestats_result(rp->routes, rec->route, res);
    }
    done = atomic_fetch_add(&rp->completed, 1) + 1;
    if (cfg->gc_collect_every_requests && done % (uint64_t)cfg->gc_collect_every_requests == 0)
        pyab_gcwatch_collect(cfg->gc_collect_generation);
    /* Allocation sampling starts with the request after warm-up, here, with
     * the GIL: the main loop's mark needs the GIL too, and on a fast service
     * got it only after many more requests (or none, before the end). */
    if (cfg->warmup_requests && done == (uint64_t)cfg->warmup_requests)
        pyab_where_warm();
    return done;
}

/* After a request: its latency, the work-driven sample, the warm-up mark. */
static void after_result(pyab_replay *rp, worker *w, uint64_t done, uint64_t due, uint64_t end)
{
    const pyab_config *cfg = rp->cfg;

    pyab_hist_record(&w->hist, end - due);
    atomic_store_explicit(&rp->last_done_ns, end, memory_order_relaxed);
    /* In the thread that crossed the count: a wake-up of the main loop
     * would come a millisecond late on a busy machine. */
    if (rp->sample_every && done % rp->sample_every == 0)
        rp->on_work(rp->on_work_data, done);
    if (cfg->warmup_requests && done == (uint64_t)cfg->warmup_requests) {
        atomic_store(&rp->warmup_ns, end);
        uv_async_send(rp->notify);
    }
}

static void run_one(pyab_replay *rp, worker *w, PyThreadState *ts, uint64_t idx, uint64_t due)
{
    const pyab_trace_rec *rec = rec_at(rp, idx);
    PyObject *req, *res = NULL;
    uint64_t done;

    PyEval_RestoreThread(ts);
    atomic_store_explicit(&w->busy_idx, idx, memory_order_relaxed);
    atomic_store_explicit(&w->busy_since, pyab_now_ns(), memory_order_release);
    req = pyab_request_build(rp->trace, rec, rp->cfg->app_kind == PYAB_APP_WSGI,
                             rp->keys[KEY_T], rp->keys[KEY_ROUTE]);
    if (req != NULL)
        res = PyObject_CallOneArg(rp->handler, req);
    atomic_store_explicit(&w->busy_since, 0, memory_order_release);
    done = count_result(rp, rec, res);
    Py_XDECREF(res);
    Py_XDECREF(req);
    PyEval_SaveThread();
    after_result(rp, w, done, due, pyab_now_ns());
}

static void worker_main(void *arg)
{
    worker *w = arg;
    pyab_replay *rp = w->rp;
    PyGILState_STATE g = PyGILState_Ensure();
    PyThreadState *ts;
    uint64_t due;
    int64_t idx;

    w->ident = PyThread_get_thread_ident();
    ts = PyEval_SaveThread();
    /* A closed loop with fewer users than workers leaves the rest idle. */
    if (rp->cfg->load_model == PYAB_LOAD_OPEN || rp->token_queue || w->index < rp->cfg->users) {
        for (;;) {
            idx = rp->cfg->load_model == PYAB_LOAD_OPEN ? take_open(rp, &due)
                                                        : take_closed(rp, w, &due);
            if (idx < 0)
                break;
            run_one(rp, w, ts, (uint64_t)idx, due);
            give_token_back(rp, w);
        }
    }
    PyEval_RestoreThread(ts);
    PyGILState_Release(g);
    atomic_store(&w->exited, 1);
    uv_async_send(rp->notify);
}

/*
 * The records this arm replays. The parent validated the same selection
 * before starting the child, so it fails only if the trace file changed in
 * between; then nothing is replayed and the reason goes to stderr.
 */
static void select_records(pyab_replay *rp)
{
    pyab_error err = {0};

    if (pyab_transform_select(rp->cfg, rp->trace, "scenario", &rp->keep, &rp->nkeep, &err) < 0) {
        pyab_log("%s", err.text);
        rp->keep = xcalloc(1, sizeof(*rp->keep));
        rp->nkeep = 1;
        atomic_store(&rp->stop, 1);
    }
    rp->t0 = rp->trace->recs[rp->keep[0]].t;
    for (size_t i = 0; i < rp->nkeep; i++)
        pyab_routestats_keep(rp->routes, rp->trace->recs[rp->keep[i]].route);
}

pyab_replay *pyab_replay_create(const pyab_config *cfg, const pyab_trace *trace,
                                PyObject *handler, uv_async_t *notify)
{
    pyab_replay *rp = xcalloc(1, sizeof(*rp));
    const pyab_trace *tr = trace;

    rp->cfg = cfg;
    rp->trace = trace;
    rp->handler = handler;
    rp->notify = notify;
    rp->keys[KEY_T] = PyUnicode_InternFromString("t");
    rp->keys[KEY_ROUTE] = PyUnicode_InternFromString("route");
    rp->routes = pyab_routestats_create(tr->nroutes);
    rp->nworkers = (int)cfg->workers;
    rp->workers = xcalloc((size_t)rp->nworkers, sizeof(*rp->workers));
    select_records(rp);
    if (cfg->load_model == PYAB_LOAD_OPEN) {
        rp->planned = rp->nkeep * (uint64_t)cfg->loops;
        /* One pass lasts the kept records' span plus one mean gap, so loops do not overlap. */
        double d = tr->recs[rp->keep[rp->nkeep - 1]].t - rp->t0;
        rp->span = d + (rp->nkeep > 1 ? d / (double)(rp->nkeep - 1) : 1.0);
    } else {
        rp->planned = cfg->requests ? (uint64_t)cfg->requests : rp->nkeep;
        rp->token_queue = cfg->think_ms > 0 || cfg->users > cfg->workers;
    }
    /* Until settled, the open loop plays further passes over the trace and
     * the closed loop sends more requests; the parent stops the rep. */
    rp->total = rp->planned;
    if (cfg->until_settled)
        rp->total = cfg->max_requests ? (uint64_t)cfg->max_requests
                                      : PYAB_SETTLE_MAX_FACTOR * rp->planned;
    uv_mutex_init(&rp->lock);
    uv_cond_init(&rp->cond);
    return rp;
}

int pyab_replay_prepare(pyab_replay *rp, pyab_error *err)
{
    int rc = pyab_asgi_create(rp, rp->cfg, rp->handler, &rp->loop, err);

    if (rc < 0 || rp->loop == NULL)
        return rc;
    /* One loop thread in place of the workers: its histogram is worker 0's. */
    rp->nworkers = 1;
    return pyab_asgi_startup(rp->loop, err);
}

int pyab_replay_start(pyab_replay *rp)
{
    rp->start_ns = pyab_now_ns();
    if (rp->loop) {
        rp->workers[0].rp = rp;
        return pyab_asgi_go(rp->loop);
    }
    if (rp->token_queue) {
        rp->heap = xcalloc((size_t)rp->cfg->users, sizeof(*rp->heap));
        for (long u = 0; u < rp->cfg->users; u++)
            heap_push(rp, rp->start_ns);
    }
    for (int i = 0; i < rp->nworkers; i++) {
        worker *w = &rp->workers[i];
        w->rp = rp;
        w->index = i;
        int rc = uv_thread_create(&w->thread, worker_main, w);
        if (rc < 0) {
            pyab_replay_stop(rp);
            for (int j = i; j < rp->nworkers; j++)
                rp->workers[j].exited = rp->workers[j].joined = 1;
            return rc;
        }
    }
    return 0;
}

void pyab_replay_stop(pyab_replay *rp)
{
    atomic_store(&rp->stop, 1);
    if (rp->token_queue) {
        uv_mutex_lock(&rp->lock);
        uv_cond_broadcast(&rp->cond);
        uv_mutex_unlock(&rp->lock);
    }
}

int pyab_replay_running(const pyab_replay *rp)
{
    int n = 0;

    for (int i = 0; i < rp->nworkers; i++)
        n += !atomic_load(&rp->workers[i].exited);
    return n;
}

void pyab_replay_join(pyab_replay *rp)
{
    if (rp->loop)
        return; /* the loop thread is not joined: it runs on until the shutdown */
    for (int i = 0; i < rp->nworkers; i++) {
        worker *w = &rp->workers[i];
        if (!w->joined && atomic_load(&w->exited)) {
            uv_thread_join(&w->thread);
            w->joined = 1;
        }
    }
}

uint64_t pyab_replay_completed(const pyab_replay *rp)
{
    return atomic_load_explicit(&rp->completed, memory_order_relaxed);
}

uint64_t pyab_replay_errors(const pyab_replay *rp)
{
    return atomic_load_explicit(&rp->errors, memory_order_relaxed);
}

uint64_t pyab_replay_total(const pyab_replay *rp)
{
    return rp->total;
}

uint64_t pyab_replay_planned(const pyab_replay *rp)
{
    return rp->planned;
}

void pyab_replay_sample_every(pyab_replay *rp, uint64_t every, void (*fn)(void *, uint64_t),
                              void *data)
{
    rp->sample_every = every;
    rp->on_work = fn;
    rp->on_work_data = data;
}

const _Atomic uint64_t *pyab_replay_dispatched(const pyab_replay *rp)
{
    return &rp->next;
}

void pyab_replay_set_dispatched(pyab_replay *rp, uint64_t n)
{
    atomic_store_explicit(&rp->next, n, memory_order_relaxed);
}

uint64_t pyab_replay_warmup_ns(const pyab_replay *rp)
{
    return atomic_load(&rp->warmup_ns);
}

uint64_t pyab_replay_start_ns(const pyab_replay *rp)
{
    return rp->start_ns;
}

static void sum_hist(const pyab_replay *rp, pyab_hist *sum)
{
    memset(sum, 0, sizeof(*sum));
    for (int i = 0; i < rp->nworkers; i++)
        pyab_hist_add(sum, &rp->workers[i].hist);
}

void pyab_replay_window(pyab_replay *rp, pyab_hist *window)
{
    pyab_hist now;

    sum_hist(rp, &now);
    pyab_hist_diff(window, &now, &rp->prev);
    rp->prev = now;
}

void pyab_replay_check_timeouts(pyab_replay *rp, PyThreadState *main_ts)
{
    uint64_t limit = (uint64_t)(rp->cfg->timeout_ms * 1e6);

    if (rp->loop) {
        pyab_asgi_check_stuck(rp->loop, main_ts);
        return;
    }
    for (int i = 0; i < rp->nworkers; i++) {
        worker *w = &rp->workers[i];
        uint64_t now = pyab_now_ns();
        uint64_t since = atomic_load_explicit(&w->busy_since, memory_order_acquire);
        uint64_t idx = atomic_load_explicit(&w->busy_idx, memory_order_relaxed);
        if (since == 0 || since > now || now - since < limit || w->flagged_idx == idx + 1)
            continue;
        PyEval_RestoreThread(main_ts);
        /* With the GIL held the worker cannot move on: check it is still
         * inside the same request before blaming it. */
        if (atomic_load(&w->busy_since) == since && atomic_load(&w->busy_idx) == idx) {
            const pyab_trace_rec *rec = rec_at(rp, idx);
            w->flagged_idx = idx + 1;
            atomic_fetch_add(&rp->timeouts, 1);
            pyab_log("request %llu (route %s, trace line %u) has run %.0f ms, over timeout_ms; "
                     "raising TimeoutError in its thread",
                     (unsigned long long)idx, rp->trace->routes[rec->route], rec->line,
                     (double)(pyab_now_ns() - since) / 1e6);
            PyThreadState_SetAsyncExc(w->ident, PyExc_TimeoutError);
        }
        PyEval_SaveThread();
    }
}

json_t *pyab_replay_result(pyab_replay *rp)
{
    pyab_hist all;
    uint64_t done = pyab_replay_completed(rp);
    uint64_t last = atomic_load(&rp->last_done_ns);
    uint64_t end = last > rp->start_ns ? last : pyab_now_ns();
    double dur = (double)(end - rp->start_ns) / 1e9;
    json_t *j = json_object(), *lat = json_object();

    sum_hist(rp, &all);
    json_object_set_new(j, "requests", json_integer((json_int_t)done));
    json_object_set_new(j, "planned", json_integer((json_int_t)rp->total));
    json_object_set_new(j, "errors", json_integer((json_int_t)pyab_replay_errors(rp)));
    json_object_set_new(j, "dropped", json_integer((json_int_t)atomic_load(&rp->dropped)));
    json_object_set_new(j, "late", json_integer((json_int_t)atomic_load(&rp->late)));
    json_object_set_new(j, "timeouts", json_integer((json_int_t)atomic_load(&rp->timeouts)));
    json_object_set_new(j, "abandoned_workers", json_integer(pyab_replay_running(rp)));
    json_object_set_new(j, "duration_s", json_real(dur));
    json_object_set_new(j, "throughput_rps", json_real(dur > 0 ? (double)done / dur : 0));
    json_object_set_new(lat, "p50", pyab_json_number(pyab_hist_quantile_ms(&all, 0.50)));
    json_object_set_new(lat, "p90", pyab_json_number(pyab_hist_quantile_ms(&all, 0.90)));
    json_object_set_new(lat, "p99", pyab_json_number(pyab_hist_quantile_ms(&all, 0.99)));
    json_object_set_new(lat, "p999", pyab_json_number(pyab_hist_quantile_ms(&all, 0.999)));
    json_object_set_new(lat, "max", pyab_json_number(pyab_hist_max_ms(&all)));
    json_object_set_new(j, "latency_ms", lat);
    json_object_set_new(j, "latency_hist", pyab_hist_to_json(&all));
    json_object_set_new(j, "routes",
                        pyab_routestats_json(rp->routes, (const char *const *)rp->trace->routes));
    json_object_set_new(j, "first_error",
                        pyab_routestats_first_error(rp->routes,
                                                    (const char *const *)rp->trace->routes));
    if (rp->loop)
        json_object_set_new(j, "event_loop", pyab_asgi_json(rp->loop));
    return j;
}

void pyab_replay_shutdown_app(pyab_replay *rp)
{
    if (rp->loop)
        pyab_asgi_shutdown(rp->loop, rp->cfg->timeout_ms / 1000 + 1);
}

/* ---- for the event-loop driver (asgi.c) ---- */

uint64_t pyab_replay_due_ns(const pyab_replay *rp, uint64_t idx)
{
    return rp->start_ns + due_offset(rp, idx);
}

uint64_t pyab_replay_due_by(const pyab_replay *rp, uint64_t from, uint64_t now)
{
    return now < rp->start_ns ? from : due_count(rp, from, now - rp->start_ns);
}

int pyab_replay_stopping(const pyab_replay *rp)
{
    return atomic_load_explicit(&rp->stop, memory_order_relaxed);
}

int64_t pyab_replay_next(pyab_replay *rp)
{
    uint64_t idx;

    if (atomic_load(&rp->stop))
        return -1;
    idx = atomic_fetch_add(&rp->next, 1);
    return idx < rp->total ? (int64_t)idx : -1;
}

PyObject *pyab_replay_request(pyab_replay *rp, uint64_t idx, int bytes_body)
{
    return pyab_request_build(rp->trace, rec_at(rp, idx), bytes_body, rp->keys[KEY_T],
                              rp->keys[KEY_ROUTE]);
}

void pyab_replay_record(pyab_replay *rp, uint64_t idx, uint64_t due, uint64_t end, PyObject *res)
{
    uint64_t done = count_result(rp, rec_at(rp, idx), res);

    after_result(rp, &rp->workers[0], done, due, end);
}

void pyab_replay_count(pyab_replay *rp, int what)
{
    atomic_fetch_add(what == PYAB_REPLAY_LATE      ? &rp->late
                     : what == PYAB_REPLAY_DROPPED ? &rp->dropped
                                                   : &rp->timeouts,
                     1);
}

void pyab_replay_count_status(pyab_replay *rp, uint64_t idx, PyObject *status)
{
    pyab_routestats_status(rp->routes, rec_at(rp, idx)->route, status);
}

const char *pyab_replay_route(const pyab_replay *rp, uint64_t idx)
{
    return rp->trace->routes[rec_at(rp, idx)->route];
}

unsigned pyab_replay_line(const pyab_replay *rp, uint64_t idx)
{
    return rec_at(rp, idx)->line;
}

void pyab_replay_loop_exited(pyab_replay *rp)
{
    atomic_store(&rp->workers[0].exited, 1);
    rp->workers[0].joined = 1;
    uv_async_send(rp->notify);
}
