#include "child.h"

#include <Python.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "gcwatch.h"
#include "interp.h"
#include "native.h"
#include "pyfacts.h"
#include "pymod.h"
#include "replay.h"
#include "sample.h"
#include "protocol.h"
#include "trace.h"
#include "util.h"
#include "where.h"

/* How often a sample also takes the GIL (see take_sample). */
#define GIL_PART_EVERY_NS 100000000ull
/*
 * Work-driven samples thin out (their stride doubles) to cost at most this
 * share of the process's CPU time, but never below SAMPLES_MIN samples over
 * the planned run: a very short rep (60k no-op requests take 25 ms of CPU)
 * must still get enough points to decide.
 */
#define SAMPLE_COST_SHARE 0.01
#define SAMPLES_MIN 200
#define STRIDE_AFTER_SAMPLES 32

typedef struct child {
    pyab_config cfg;
    pyab_trace *trace;
    pyab_replay *rp;
    PyThreadState *main_ts;
    int fd;
    uv_loop_t loop;
    uv_async_t notify, work_sample;
    uv_signal_t sigint, sigterm, sigusr1;
    uv_timer_t sample_timer, warmup_timer, collect_timer, trim_timer, drain_timer, cap_timer;
    int warmup_marked;
    int finished;
    int interrupted;
    uint64_t gc_changes;
    int64_t peak_rss;
    pyab_gc_totals gc_base; /* GC totals when the replay started */
    double cpu_start;       /* process CPU seconds then (start-up excluded from cpu_s) */
    long gc_count[3];       /* gc.get_count() at the last GIL part of a sample */
    uint64_t gil_part_ns;   /* when that was */
    uint64_t sample_every;  /* requests per work-driven sample, 0: none */
    uint64_t sample_ns;     /* CPU time spent taking work-driven samples so far */
    uint64_t cpu_start_ns;  /* process CPU time when the replay started */
    uv_mutex_t sample_lock; /* pending, peak_rss and the protocol descriptor's writes */
    pyab_buf pending;       /* work-driven sample lines not yet written */
    uint64_t samples_skipped; /* work-driven samples skipped to keep sampling cheap */
    _Atomic uint64_t stride;  /* work-driven samples are taken every stride-th time (1, 2, 4, ...) */
    uint64_t stride_max;      /* the stride that still leaves SAMPLES_MIN samples */
    uint64_t samples_taken;
    const char *stop_reason;  /* planned | settled | max_requests | max_seconds | interrupted */
} child;

/* Writes iov[0..cnt) whole (one writev per message: a line never interleaves with another). */
static void write_all(child *c, struct iovec *iov, int cnt, size_t total)
{
    if (c->fd < 0)
        return;
    while (total > 0) {
        ssize_t n = writev(c->fd, iov, cnt);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            c->fd = -1; /* the parent is gone: keep running, stop reporting */
            if (c->rp)
                pyab_replay_stop(c->rp);
            return;
        }
        total -= (size_t)n;
        for (int i = 0; i < cnt && n > 0; i++) {
            size_t take = (size_t)n < iov[i].iov_len ? (size_t)n : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + take;
            iov[i].iov_len -= take;
            n -= (ssize_t)take;
        }
    }
}

/* Writes the buffered work-driven sample lines, which go out before any other message. */
static void flush_pending(child *c)
{
    struct iovec iov = {c->pending.data, c->pending.len};

    if (c->pending.len == 0)
        return;
    write_all(c, &iov, 1, c->pending.len);
    c->pending.len = 0;
}

/* One message; sample_lock held. */
static void send_line_locked(child *c, pyab_msg tag, const char *text, size_t len)
{
    char head[2] = {tag, ' '};
    struct iovec iov[3] = {{head, 2}, {(void *)text, len}, {(void *)"\n", 1}};

    flush_pending(c);
    write_all(c, iov, 3, 2 + len + 1);
}

static void send_line(child *c, pyab_msg tag, const char *text, size_t len)
{
    uv_mutex_lock(&c->sample_lock);
    send_line_locked(c, tag, text, len);
    uv_mutex_unlock(&c->sample_lock);
}

static void send_json(child *c, pyab_msg tag, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);

    send_line(c, tag, s, strlen(s));
    free(s);
    json_decref(j);
}

static void send_fatal(child *c, const pyab_error *err)
{
    send_json(c, PYAB_MSG_FATAL, json_pack("{s:i,s:s}", "exit_code", err->exit_code, "message", err->text));
}

static double since_start(child *c, uint64_t ns)
{
    return ((double)ns - (double)pyab_replay_start_ns(c->rp)) / 1e9;
}

/* Sends the GC events collected so far; `cause` marks collections pyab
 * itself made for a measurement (the quiesce step), which the rep's pause
 * figures leave out. */
static void drain_events(child *c, const char *cause)
{
    pyab_gc_event ev[256];
    size_t n;
    char line[320];

    while ((n = pyab_gcwatch_drain(ev, PYAB_ARRAY_LEN(ev))) > 0) {
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(line, sizeof(line),
                               "{\"gen\":%d,\"t_s\":%.6f,\"duration_s\":%.9f,\"collected\":%lld,"
                               "\"uncollectable\":%lld%s%s%s}",
                               ev[i].gen, since_start(c, ev[i].start_ns),
                               (double)ev[i].duration_ns / 1e9, (long long)ev[i].collected,
                               (long long)ev[i].uncollectable, cause ? ",\"cause\":\"" : "",
                               cause ? cause : "", cause ? "\"" : "");
            send_line(c, PYAB_MSG_GC, line, (size_t)len);
        }
    }
}

/*
 * The parts of a sample that need the GIL: gc.get_count(), the check that
 * the arm's GC settings still hold, and draining the GC event ring.
 */
static void gil_part(child *c)
{
    char msg[512];

    PyEval_RestoreThread(c->main_ts);
    pyab_gcwatch_counts(c->gc_count);
    if (pyab_gcwatch_verify(&c->cfg, msg, sizeof(msg))) {
        if (c->gc_changes++ == 0 || c->gc_changes % 100 == 0)
            send_line(c, PYAB_MSG_WARNING, msg, strlen(msg));
    }
    drain_events(c, NULL);
    PyEval_SaveThread();
    c->gil_part_ns = pyab_now_ns();
}

/* CPU time in nanoseconds of a clock (the calling thread's, the process's). */
static uint64_t cpu_ns(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * A sample is a row of samples.csv. `work` marks the samples taken every
 * sample_every requests, in the worker that completed the request: they
 * skip the latency window (the timer's samples carry it, over the time
 * since the previous timer sample) and are written in batches, at the next
 * message or when PENDING_MAX bytes wait, so that a fast service's samples
 * cost a read of the counters, not a wake-up of the parent each. A crash
 * loses at most one timer interval of them. sample_lock is held, so rows
 * go out in the order they were read.
 */
#define PENDING_MAX 16384

static void read_sample(child *c, const char *phase, int work, pyab_sample *s)
{
    pyab_hist window;

    /* Everything but the GC generation counts is read without the GIL, at
     * the moment of the sample (gc_count repeats the last GIL part). */
    pyab_sample_memory(s, 0);
    s->t_s = since_start(c, pyab_now_ns());
    s->requests = pyab_replay_completed(c->rp);
    s->errors = pyab_replay_errors(c->rp);
    memcpy(s->gc_count, c->gc_count, sizeof(s->gc_count));
    /* Collections and pauses count from the start of the replay; the
     * service's import-time collections are in events.jsonl only. */
    s->gc_collections -= c->gc_base.collections;
    s->gc_pause_s -= (double)c->gc_base.pause_ns / 1e9;
    s->latency_p50_ms = s->latency_p99_ms = NAN;
    if (!work) {
        pyab_replay_window(c->rp, &window);
        s->latency_p50_ms = pyab_hist_quantile_ms(&window, 0.50);
        s->latency_p99_ms = pyab_hist_quantile_ms(&window, 0.99);
    }
    s->phase = phase;
    if (s->rss_bytes > c->peak_rss)
        c->peak_rss = s->rss_bytes;
}

/* A timer (or marked) sample, on the main thread. */
static void take_sample(child *c, const char *phase)
{
    uint64_t now = pyab_now_ns();
    pyab_sample s = {0};
    pyab_buf row;

    /* Taking the GIL from a busy worker can wait a whole switch interval
     * (5 ms), so the GIL part runs at most every GIL_PART_EVERY_NS, and at
     * the marked samples; the gc_count columns between repeat the last
     * reading. It runs before sample_lock is taken: a worker waiting for
     * the lock never holds the GIL. */
    if ((strcmp(phase, "run") != 0 && strcmp(phase, "warmup") != 0) ||
        now - c->gil_part_ns >= GIL_PART_EVERY_NS)
        gil_part(c);
    uv_mutex_lock(&c->sample_lock);
    read_sample(c, phase, 0, &s);
    pyab_buf_init(&row);
    pyab_sample_format(&s, &row);
    send_line_locked(c, PYAB_MSG_SAMPLE, row.data, row.len - 1);
    pyab_buf_finish(&row);
    uv_mutex_unlock(&c->sample_lock);
}

static void mark_warmup(child *c)
{
    if (c->warmup_marked || c->finished)
        return;
    c->warmup_marked = 1;
    PyEval_RestoreThread(c->main_ts);
    pyab_where_warm();
    PyEval_SaveThread();
    if (c->cfg.gc_freeze_after_warmup) {
        PyEval_RestoreThread(c->main_ts);
        long n = pyab_gcwatch_freeze();
        PyEval_SaveThread();
        char msg[128];
        snprintf(msg, sizeof(msg), "gc.freeze() after warm-up: %ld object%s frozen", n,
                 n == 1 ? "" : "s");
        send_line(c, PYAB_MSG_WARNING, msg, strlen(msg));
    }
    take_sample(c, "warmup_end");
    pyab_native_mark_warmup();
}

static const char *phase_now(child *c)
{
    int has_warmup = c->cfg.warmup_requests > 0 || c->cfg.warmup_seconds > 0;

    if (!has_warmup || c->warmup_marked)
        return "run";
    /* A warm-up of requests ends with its last request, whether or not the
     * main loop has marked it yet: a loop that got the GIL back only at the
     * end labelled every sample of a rep warm-up (a clean-clone CI run of
     * the Django case: "2 samples over 0 requests after warm-up"). */
    if (c->cfg.warmup_requests > 0 &&
        pyab_replay_completed(c->rp) >= (uint64_t)c->cfg.warmup_requests)
        return "run";
    return "warmup";
}

/* The stride whose samples cost SAMPLE_COST_SHARE of the run per request; sample_lock held. */
static void adjust_stride(child *c, uint64_t used, uint64_t done)
{
    double per_sample = (double)c->sample_ns / (double)c->samples_taken;
    double per_request = done ? (double)used / (double)done : 0;

    /* The first samples are cold and the first requests slow: judge on a few dozen. */
    if (c->samples_taken < STRIDE_AFTER_SAMPLES)
        return;
    double need = per_request > 0
                      ? per_sample / (SAMPLE_COST_SHARE * (double)c->sample_every * per_request)
                      : 1;
    uint64_t s = atomic_load(&c->stride);

    while ((double)s < need && s < c->stride_max)
        s *= 2;
    atomic_store(&c->stride, s);
}

/*
 * What the samples' cost is measured against: the replay's time so far, as
 * the larger of the process's CPU time and the wall-clock time. A busy
 * closed loop is bounded by its CPU; an open loop that idles between
 * arrivals by its duration (its service CPU is small, and sampling takes
 * nothing from it that it was using).
 */
static uint64_t run_ns(const child *c)
{
    uint64_t cpu = cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c->cpu_start_ns;
    uint64_t wall = pyab_now_ns() - pyab_replay_start_ns(c->rp);

    return cpu > wall ? cpu : wall;
}

/*
 * A sample every sample_every requests, so that a fast service gets as
 * many points as a slow one; called by the worker that completed the
 * request, without the GIL. The cost stays bounded: after each sample the
 * stride (every 1st, 2nd, 4th, ... crossing is sampled) becomes the power
 * of two that keeps the measured cost per sample under SAMPLE_COST_SHARE
 * of the replay's time per request (run_ns), up to stride_max. It only
 * grows, so the samples thin out evenly over the requests rather than
 * stopping in clumps, which would weigh some parts of a curve more than
 * others (the analysis evens out what is left: trend.c). The timer's
 * samples always run and are not counted: they cost what they did before.
 */
static void work_sample(void *data, uint64_t done)
{
    child *c = data;
    uint64_t cpu0, used;
    pyab_sample s = {0};

    if ((done / c->sample_every) % atomic_load_explicit(&c->stride, memory_order_relaxed) != 0) {
        c->samples_skipped++; /* a benign race: the count is a report, not a control */
        return;
    }
    uv_mutex_lock(&c->sample_lock);
    cpu0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    used = run_ns(c);
    if (c->finished) {
        uv_mutex_unlock(&c->sample_lock);
        return;
    }
    read_sample(c, phase_now(c), 1, &s);
    pyab_buf_adds(&c->pending, "S ");
    pyab_sample_format(&s, &c->pending);
    if (c->cfg.limit_rss_mb > 0 && (double)s.rss_bytes > c->cfg.limit_rss_mb * 1048576.0) {
        /* Past limits.rss_mb: the parent kills on the row that shows it, so
         * it goes out now, from this worker (sample_lock orders it with
         * every other write), not after up to a timer interval in the
         * batch, while the service goes on allocating. */
        flush_pending(c);
    } else if (c->pending.len >= PENDING_MAX) {
        /* Otherwise only the main thread writes to the parent: ask it to flush. */
        uv_async_send(&c->work_sample);
    }
    c->sample_ns += cpu_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    c->samples_taken++;
    adjust_stride(c, used, done);
    uv_mutex_unlock(&c->sample_lock);
}

static void on_flush(uv_async_t *h)
{
    child *c = h->data;

    uv_mutex_lock(&c->sample_lock);
    flush_pending(c);
    uv_mutex_unlock(&c->sample_lock);
}

/* sample.every_requests, with "auto" worked out from the planned requests after warm-up. */
static uint64_t work_sample_every(const child *c)
{
    uint64_t planned = pyab_replay_planned(c->rp), warm = (uint64_t)c->cfg.warmup_requests;

    if (c->cfg.sample_every_requests > 0)
        return (uint64_t)c->cfg.sample_every_requests;
    planned = planned > warm ? planned - warm : planned;
    return planned / PYAB_SAMPLES_TARGET > 1 ? planned / PYAB_SAMPLES_TARGET : 1;
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

static void close_all(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, close_cb);
}

/* CPU time of the whole child so far (all threads), user + system. */
static double cpu_seconds(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return NAN;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/*
 * The rep's where report (steals `where`, may be NULL) with the native
 * domain beside the Python one, taken at the same survival point.
 */
static json_t *with_native(json_t *where, const char *point)
{
    json_t *native = pyab_native_where_json(point);

    if (native == NULL)
        return where;
    if (where == NULL)
        where = json_object();
    json_object_set_new(where, "native", native);
    return where;
}

static void finish(child *c)
{
    json_t *result, *where = NULL;
    double cpu_end, where_cpu = 0, t0;

    if (c->finished)
        return;
    if (!c->warmup_marked && (c->cfg.warmup_requests > 0 || c->cfg.warmup_seconds > 0) &&
        pyab_replay_warmup_ns(c->rp))
        mark_warmup(c);
    /* Under the lock: no worker's sample lands after the end sample. */
    uv_mutex_lock(&c->sample_lock);
    c->finished = 1;
    uv_mutex_unlock(&c->sample_lock);
    take_sample(c, "end");
    /* Quiesce: what remains after a full collection and giving free memory
     * back tells live growth from memory the allocator merely keeps. */
    PyEval_RestoreThread(c->main_ts);
    /* With the GC off, what survives is what the run left, cycles and all;
     * with it on, what pyab's full collection leaves (where.h). */
    if (!c->interrupted && !PyGC_IsEnabled()) {
        t0 = cpu_seconds();
        where = with_native(pyab_where_report("end"), "end");
        where_cpu = cpu_seconds() - t0;
    }
    pyab_gcwatch_collect(2);
    drain_events(c, "quiesce");
    PyEval_SaveThread();
    malloc_trim(0);
    take_sample(c, "quiesce");
    /* An event-loop app's lifespan shutdown: after the last sample, so
     * what it frees does not hide what the replay kept. */
    pyab_replay_shutdown_app(c->rp);
    PyEval_RestoreThread(c->main_ts);
    /* The rep's CPU ends here: the where report is an end-of-rep cost,
     * given apart (where_report_cpu_s), not a cost per request. */
    cpu_end = cpu_seconds() - where_cpu;
    t0 = cpu_seconds();
    if (!c->interrupted && where == NULL)
        where = with_native(pyab_where_report("quiesce"), "quiesce");
    where_cpu += cpu_seconds() - t0;
    result = pyab_replay_result(c->rp);
    json_object_set_new(result, "interrupted", json_boolean(c->interrupted));
    if (c->stop_reason == NULL)
        c->stop_reason = c->cfg.until_settled && pyab_replay_completed(c->rp) >=
                                                     pyab_replay_total(c->rp)
                             ? "max_requests"
                             : "planned";
    json_object_set_new(result, "stop_reason", json_string(c->stop_reason));
    json_object_set_new(result, "sampling", json_pack("{s:I, s:I, s:I, s:f}", "every_requests",
                        (json_int_t)c->sample_every, "stride_at_end", (json_int_t)c->stride,
                        "work_samples_skipped",
                        (json_int_t)c->samples_skipped, "cost_share",
                        (double)c->sample_ns / (double)run_ns(c)));
    json_object_set_new(result, "peak_rss_bytes", json_integer(c->peak_rss));
    json_object_set_new(result, "cpu_s", json_real(cpu_end - c->cpu_start));
    json_object_set_new(result, "where_report_cpu_s", json_real(where_cpu));
    json_object_set_new(result, "gc_settings_changed", json_integer((json_int_t)c->gc_changes));
    json_object_set_new(result, "gc_events_dropped",
                        json_integer((json_int_t)pyab_gcwatch_dropped()));
    json_object_set_new(result, "gc_readback", pyab_gcwatch_readback());
    json_object_set_new(result, "native_counters", pyab_pymod_counters());
    if (pyab_replay_warmup_ns(c->rp))
        json_object_set_new(result, "warmup_end_s",
                            json_real(since_start(c, pyab_replay_warmup_ns(c->rp))));
    drain_events(c, NULL);
    PyEval_SaveThread();
    if (where)
        send_json(c, PYAB_MSG_WHERE, where);
    send_json(c, PYAB_MSG_FINAL, result);
    uv_walk(&c->loop, close_all, NULL);
}

static void on_notify(uv_async_t *h)
{
    child *c = h->data;

    if (pyab_replay_warmup_ns(c->rp) && !c->warmup_marked)
        mark_warmup(c);
    pyab_replay_join(c->rp);
    if (pyab_replay_running(c->rp) == 0)
        finish(c);
}

static void on_sample(uv_timer_t *t)
{
    child *c = t->data;

    pyab_replay_check_timeouts(c->rp, c->main_ts);
    take_sample(c, phase_now(c));
}

static void on_warmup_timer(uv_timer_t *t)
{
    mark_warmup(t->data);
}

static void on_collect(uv_timer_t *t)
{
    child *c = t->data;

    PyEval_RestoreThread(c->main_ts);
    pyab_gcwatch_collect(c->cfg.gc_collect_generation);
    PyEval_SaveThread();
}

static void on_trim(uv_timer_t *t)
{
    malloc_trim(0);
}

static void on_drain_deadline(uv_timer_t *t)
{
    child *c = t->data;
    char msg[160];

    snprintf(msg, sizeof(msg), "%d worker(s) still inside the handler %.0f ms after the stop; "
             "finishing without them", pyab_replay_running(c->rp), c->cfg.timeout_ms);
    send_line(c, PYAB_MSG_WARNING, msg, strlen(msg));
    finish(c);
}

/* Stops taking requests; the rep ends once the running ones finish (or the drain deadline). */
static void stop_replay(child *c, const char *reason)
{
    if (c->stop_reason || c->finished)
        return;
    c->stop_reason = reason;
    pyab_replay_stop(c->rp);
    uv_timer_start(&c->drain_timer, on_drain_deadline, (uint64_t)c->cfg.timeout_ms + 100, 0);
}

static void on_signal(uv_signal_t *s, int signum)
{
    child *c = s->data;

    if (c->interrupted || c->finished)
        return;
    if (signum == SIGUSR1) {
        /* The parent saw the verdict settle: a complete rep, not an interrupted one. */
        stop_replay(c, "settled");
        return;
    }
    c->interrupted = 1;
    c->stop_reason = NULL;
    stop_replay(c, "interrupted");
}

static void on_cap_timer(uv_timer_t *t)
{
    stop_replay(t->data, "max_seconds");
}

static void start_timers(child *c)
{
    uint64_t interval = (uint64_t)ceil(c->cfg.sample_interval_ms);
    uv_timer_t *timers[] = {&c->sample_timer, &c->warmup_timer, &c->collect_timer,
                            &c->trim_timer, &c->drain_timer, &c->cap_timer};

    for (size_t i = 0; i < PYAB_ARRAY_LEN(timers); i++) {
        uv_timer_init(&c->loop, timers[i]);
        timers[i]->data = c;
    }
    uv_timer_start(&c->sample_timer, on_sample, interval, interval);
    if (c->cfg.until_settled)
        uv_timer_start(&c->cap_timer, on_cap_timer,
                       (uint64_t)(1000 * (c->cfg.max_seconds > 0 ? c->cfg.max_seconds
                                                                 : PYAB_SETTLE_MAX_SECONDS)),
                       0);
    if (c->cfg.warmup_seconds > 0)
        uv_timer_start(&c->warmup_timer, on_warmup_timer,
                       (uint64_t)(c->cfg.warmup_seconds * 1000), 0);
    if (c->cfg.gc_collect_every_seconds > 0) {
        uint64_t ms = (uint64_t)(c->cfg.gc_collect_every_seconds * 1000);
        uv_timer_start(&c->collect_timer, on_collect, ms, ms);
    }
    if (c->cfg.trim_every_seconds > 0) {
        uint64_t ms = (uint64_t)(c->cfg.trim_every_seconds * 1000);
        uv_timer_start(&c->trim_timer, on_trim, ms, ms);
    }
}

/* The mapped file of the preloaded allocator, read from /proc/self/maps:
 * proof that LD_PRELOAD took effect, not just that it was set. */
static json_t *preload_mapped(void)
{
    const char *preload = getenv("LD_PRELOAD");
    const char *base = preload ? strrchr(preload, '/') : NULL;
    char line[4096];
    FILE *f;
    json_t *found = json_null();

    if (preload == NULL || preload[0] == '\0')
        return found;
    base = base ? base + 1 : preload;
    if ((f = fopen("/proc/self/maps", "r")) == NULL)
        return found;
    while (fgets(line, sizeof(line), f)) {
        char *path = strchr(line, '/');
        if (path && strstr(path, base)) {
            path[strcspn(path, "\n")] = '\0';
            json_decref(found);
            found = json_string(path);
            break;
        }
    }
    fclose(f);
    return found;
}

static json_t *hello(child *c)
{
    json_t *rb = pyab_interp_readback(), *j;

    json_object_set_new(rb, "gc", pyab_gcwatch_readback());
    json_object_set_new(rb, "interpreter", pyab_pyfacts_static());
    json_object_set_new(rb, "malloc_arena_max", json_string(getenv("MALLOC_ARENA_MAX") ?: ""));
    json_object_set_new(rb, "ld_preload", json_string(getenv("LD_PRELOAD") ?: ""));
    json_object_set_new(rb, "preload_mapped", preload_mapped());
    json_object_set_new(rb, "native_heap_source", json_string(pyab_sample_native_source()));
    json_object_set_new(rb, "mmap_threshold", json_string(getenv("MALLOC_MMAP_THRESHOLD_") ?: ""));
    json_object_set_new(rb, "trim_threshold", json_string(getenv("MALLOC_TRIM_THRESHOLD_") ?: ""));
    j = json_pack("{s:i,s:I,s:I,s:I,s:o,s:{s:I,s:I,s:I,s:I,s:f}}", "pid", (int)getpid(),
                  "planned", (json_int_t)pyab_replay_planned(c->rp), "max_requests",
                  (json_int_t)pyab_replay_total(c->rp), "sample_every_requests",
                  (json_int_t)c->sample_every, "readback", rb,
                  "trace", "requests", (json_int_t)c->trace->count, "memory_bytes",
                  (json_int_t)pyab_trace_memory(c->trace), "file_bytes",
                  (json_int_t)c->trace->file_bytes, "reordered",
                  (json_int_t)c->trace->reordered, "duration_s", c->trace->duration);
    return j;
}

/* The request clock of where.h: requests completed so far. */
static uint64_t where_clock(void *data)
{
    return pyab_replay_completed(((child *)data)->rp);
}

/* Everything up to a running replay; GIL held on success. */
static int setup(child *c, const char *config_path, pyab_error *err)
{
    json_error_t jerr;
    json_t *doc = json_load_file(config_path, 0, &jerr), *settings;
    PyObject *handler;
    int rc;

    if (doc == NULL)
        return pyab_error_internal(err, "%s:%d:%d: %s", config_path, jerr.line, jerr.column,
                                   jerr.text);
    settings = json_object_get(doc, "settings");
    rc = pyab_config_parse(&c->cfg, config_path, json_string_value(json_object_get(doc, "arm")),
                           settings, "/", err);
    json_decref(doc);
    if (rc < 0)
        return rc;
    if ((c->trace = pyab_trace_load(c->cfg.trace_path, err)) == NULL)
        return -EINVAL;
    if (pyab_sample_open() < 0)
        return pyab_error_internal(err, "cannot open /proc/self/statm: %s", strerror(errno));
    if ((rc = pyab_interp_init(&c->cfg, err)) < 0)
        return rc;
    /* PYAB_BENCH_NO_GC_TIMER exists for the benchmark that prices the timer. */
    if ((rc = pyab_gcwatch_install(getenv("PYAB_BENCH_NO_GC_TIMER") == NULL, err)) < 0)
        return rc;
    if ((handler = pyab_interp_load(&c->cfg, err)) == NULL)
        return -EINVAL;
    /* Apply the arm's GC settings after the import: the service's own
     * import-time gc calls must not override the arm. */
    if ((rc = pyab_gcwatch_apply(&c->cfg, err)) < 0) {
        Py_DECREF(handler);
        return rc;
    }
    c->rp = pyab_replay_create(&c->cfg, c->trace, handler, &c->notify);
    if ((rc = pyab_replay_prepare(c->rp, err)) < 0)
        return rc;
    pyab_where_init(&c->cfg, where_clock, c);
    return 0;
}

int pyab_child_main(const char *config_path)
{
    static child c;
    pyab_error err = {0};
    const char *fdenv = getenv(PYAB_PROTOCOL_FD_ENV);
    int rc;

    signal(SIGPIPE, SIG_IGN);
    /* If the parent dies (SIGKILL, a crash), stop as on SIGTERM rather than
     * run on unobserved; the parent is gone already if we were reparented. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    c.fd = fdenv ? atoi(fdenv) : PYAB_PROTOCOL_FD_DEFAULT;
    uv_loop_init(&c.loop);
    uv_async_init(&c.loop, &c.notify, on_notify);
    c.notify.data = &c;
    if ((rc = setup(&c, config_path, &err)) < 0) {
        send_fatal(&c, &err);
        fprintf(stderr, "pyab: %s\n", err.text);
        fflush(NULL);
        /* As at the normal end: the interpreter is not finalised. */
        _exit(err.exit_code ? err.exit_code : PYAB_EXIT_INTERNAL);
    }
    c.sample_every = work_sample_every(&c);
    c.stride = 1;
    c.stride_max = 1;
    while (c.sample_every * c.stride_max * 2 * SAMPLES_MIN <= pyab_replay_planned(c.rp))
        c.stride_max *= 2;
    uv_async_init(&c.loop, &c.work_sample, on_flush);
    c.work_sample.data = &c;
    uv_mutex_init(&c.sample_lock);
    pyab_replay_sample_every(c.rp, c.sample_every, work_sample, &c);
    send_json(&c, PYAB_MSG_HELLO, hello(&c));
    /* No warm-up: every allocation of the run counts, from here. Not from
     * the end of setup: hello's own Python (mocks_served imported json)
     * then read as surviving allocations of the service's (QA). */
    if (c.cfg.warmup_requests == 0 && c.cfg.warmup_seconds == 0)
        pyab_where_warm();
    uv_signal_init(&c.loop, &c.sigint);
    uv_signal_init(&c.loop, &c.sigterm);
    uv_signal_init(&c.loop, &c.sigusr1);
    c.sigint.data = c.sigterm.data = c.sigusr1.data = &c;
    uv_signal_start(&c.sigint, on_signal, SIGINT);
    uv_signal_start(&c.sigterm, on_signal, SIGTERM);
    uv_signal_start(&c.sigusr1, on_signal, SIGUSR1);
    start_timers(&c);
    pyab_gcwatch_totals(&c.gc_base);
    c.cpu_start = cpu_seconds();
    c.cpu_start_ns = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    /* Its whole capacity up front: a buffer growing during the replay
     * would be pyab's own allocation on the native-heap curve. */
    pyab_buf_init(&c.pending);
    pyab_buf_reserve(&c.pending, 4 * PENDING_MAX);
    if (pyab_native_start(&c.cfg, c.rp, &err) < 0)
        send_line(&c, PYAB_MSG_WARNING, err.text, strlen(err.text));
    if ((rc = pyab_replay_start(c.rp)) < 0) {
        pyab_error_internal(&err, "cannot start worker threads: %s", uv_strerror(rc));
        send_fatal(&c, &err);
        return PYAB_EXIT_INTERNAL;
    }
    c.main_ts = PyEval_SaveThread();
    take_sample(&c, phase_now(&c));
    uv_run(&c.loop, UV_RUN_DEFAULT);
    /* The interpreter is not finalised: a service may hold threads or
     * handles that would hang Py_FinalizeEx, and the process ends here. */
    fflush(NULL);
    if (c.fd >= 0)
        close(c.fd);
    else
        /* No parent to clean up after the service: take its process group
         * (processes it forked) down with this process. */
        kill(-getpid(), SIGKILL);
    _exit(c.interrupted ? 130 : 0);
}

json_t *pyab_child_versions(void)
{
    return pyab_pyfacts_probe();
}
