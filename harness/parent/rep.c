#include "rep.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_config.h" /* PYAB_LIBEXECDIR */
#include "childenv.h"
#include "protocol.h"
#include "replog.h"
#include "leftovers.h"
#include "results.h"
#include "settle.h"

struct pyab_rep {
    pyab_rep_host *host;
    const pyab_config *arm;
    int rep;
    char *dir;
    FILE *samples, *events;
    pyab_buf inbuf;
    pyab_results_series series;
    json_t *hello, *final, *fatal, *warnings;
    json_t *where; /* the child's where report (where.json), or NULL */
    const char *outcome;
    char reason[4096]; /* room for the first traceback of a rep that failed by its errors */
    int killed_for; /* 0, or 't' timeout / 'r' over-limit / 'i' interrupted */
    int64_t exit_status;
    int term_signal;
    double started;
    uv_process_t proc;
    uv_pipe_t pipe;
    uv_timer_t deadline; /* limits.run_seconds; after the exit, the grace for the pipe */
    uv_timer_t watchdog; /* limits.stall_seconds: silence from the child */
    double last_word;    /* when the child last sent a line */
    int stall_aborted;   /* SIGABRT sent (stall or run_seconds); SIGKILL a second later */
    double aborted_at;
    int open_handles;
    int exited;
    pid_t pid; /* the child's, kept after its handle is closed */
    pyab_settle settle; /* load.until "settled": the looks at the samples so far */
    int settle_on, settle_sent;
    json_t *logs; /* stdout.log, stderr.log: bytes the service wrote and bytes cut */
};

/* How long the pipe may stay open after the child exited: a process the
 * service started (and that escaped its process group) may hold it. */
#define PIPE_GRACE_MS 500

static void handle_closed(uv_handle_t *h);

static void close_once(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, handle_closed);
}

char *pyab_rep_arm_child(const pyab_config *a)
{
    char *path, *debug;

    if (a->py_child)
        return xstrdup(a->py_child);
    path = pyab_rep_child_path();
    if (!a->py_debug)
        return path;
    debug = xasprintf("%s-debug", path);
    free(path);
    return debug;
}

/*
 * Kills the child's whole process group: the child is the leader of its
 * own group (UV_PROCESS_DETACHED), so processes the service forked die
 * with it instead of outliving the rep and holding its pipe open.
 */
static void kill_group(pyab_rep *r, int signum)
{
    if (r->proc.pid > 0)
        kill(-r->proc.pid, signum);
}

char *pyab_rep_child_path(void)
{
    char buf[PATH_MAX], *dir, *path;
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    const char *env = getenv("PYAB_CHILD"), *runtime = getenv("PYAB_RUNTIME");

    if (env && *env)
        return xstrdup(env);
    if (runtime && *runtime)
        return pyab_path_join(runtime, "pyab/pyab-child");
    if (n <= 0)
        return xstrdup(PYAB_LIBEXECDIR "/pyab-child");
    buf[n] = '\0';
    dir = pyab_path_dirname(buf);
    /* The build tree keeps both programs in one folder; an installed
     * prefix has bin/pyab and libexec/pyab/pyab-child. */
    path = pyab_path_join(dir, "pyab-child");
    if (access(path, X_OK) != 0) {
        free(path);
        path = xasprintf("%s/../libexec/pyab/pyab-child", dir);
        if (access(path, X_OK) != 0) {
            free(path);
            path = xstrdup(PYAB_LIBEXECDIR "/pyab-child");
        }
    }
    free(dir);
    return path;
}

/*
 * Until settled: at each look (doubling request counts) the samples so far
 * are analysed; once every memory metric is decided the child is told to
 * finish (SIGUSR1: a complete rep, not an interrupted one).
 */
static void look_if_due(pyab_rep *r)
{
    double done = r->series.requests[r->series.n - 1];
    char *part;

    /* Every sample row passes here: only a due look builds a path and reads the file. */
    if (!r->settle_on || r->settle_sent || done < r->settle.next)
        return;
    part = xasprintf("%s/samples.csv.part", r->dir);
    if (pyab_settle_look(&r->settle, part, done)) {
        r->settle_sent = 1;
        if (r->proc.pid > 0 && !r->exited)
            kill(r->proc.pid, SIGUSR1);
        pyab_progress_log(&r->host->progress, "%s rep %d: settled (%s)", r->arm->arm, r->rep,
                          r->settle.why);
    }
    free(part);
}

static void on_line(pyab_rep *r, char *line)
{
    r->last_word = pyab_now_s();
    pyab_rep_host *h = r->host;
    json_t *j;

    if (line[0] == '\0' || line[1] != ' ')
        return;
    switch ((pyab_msg)line[0]) {
    case PYAB_MSG_SAMPLE:
        fprintf(r->samples, "%s\n", line + 2);
        fflush(r->samples);
        if (pyab_results_series_add_row(&r->series, line + 2) == 0) {
            double rss = r->series.rss[r->series.n - 1];
            /* Every row is checked against limits.rss_mb as it is parsed, the
             * work-driven ones too: they arrive in batches, and the child
             * sends one past the limit at once (child.c, work_sample). */
            look_if_due(r);
            pyab_progress_update(&h->progress, r->arm->arm, r->rep, r->series.requests[r->series.n - 1],
                                 r->series.t[r->series.n - 1], rss, r->series.pyheap[r->series.n - 1]);
            if (r->arm->limit_rss_mb > 0 && rss > r->arm->limit_rss_mb * 1048576.0 &&
                !r->killed_for) {
                r->killed_for = 'r';
                snprintf(r->reason, sizeof(r->reason), "RSS %.1f MB passed limits.rss_mb %.0f",
                         rss / 1048576.0, r->arm->limit_rss_mb);
                kill_group(r, SIGKILL);
            }
        }
        break;
    case PYAB_MSG_GC:
        fprintf(r->events, "%s\n", line + 2);
        if ((j = json_loads(line + 2, 0, NULL)) != NULL) {
            pyab_results_series_add_event(&r->series, j);
            json_decref(j);
        }
        break;
    case PYAB_MSG_WARNING:
        json_array_append_new(r->warnings, json_string(line + 2));
        pyab_progress_log(&h->progress, "%s rep %d: %s", r->arm->arm, r->rep, line + 2);
        break;
    case PYAB_MSG_HELLO:
        json_decref(r->hello);
        r->hello = json_loads(line + 2, 0, NULL);
        h->progress.planned = (double)json_integer_value(json_object_get(r->hello, "planned"));
        if (r->arm->until_settled && r->hello) {
            r->settle_on = 1;
            pyab_settle_plan(&r->settle, h->progress.planned,
                             (double)json_integer_value(json_object_get(r->hello, "max_requests")),
                             h->analysis);
            h->progress.planned = r->settle.cap;
        }
        if (json_object_get(h->readback, r->arm->arm) == NULL && r->hello)
            json_object_set_new(h->readback, r->arm->arm,
                                json_deep_copy(json_object_get(r->hello, "readback")));
        break;
    case PYAB_MSG_FINAL:
        json_decref(r->final);
        r->final = json_loads(line + 2, 0, NULL);
        /* The first rep's GC state at its end (freeze count after warm-up). */
        j = json_object_get(h->readback, r->arm->arm);
        if (r->final && j && json_object_get(j, "gc_at_end") == NULL)
            json_object_set(j, "gc_at_end", json_object_get(r->final, "gc_readback"));
        break;
    case PYAB_MSG_WHERE:
        json_decref(r->where);
        r->where = json_loads(line + 2, 0, NULL);
        break;
    case PYAB_MSG_FATAL:
        json_decref(r->fatal);
        r->fatal = json_loads(line + 2, 0, NULL);
        break;
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char chunk[65536];
    buf->base = chunk;
    buf->len = sizeof(chunk);
}

static void handle_closed(uv_handle_t *h)
{
    pyab_rep *r = h->data;
    r->open_handles--;
}

static void on_grace(uv_timer_t *t)
{
    pyab_rep *r = t->data;
    const char *msg = "the result pipe stayed open after the child exited (a process the "
                      "service started holds it); pyab stopped reading";

    json_array_append_new(r->warnings, json_string(msg));
    pyab_progress_log(&r->host->progress, "%s rep %d: %s", r->arm->arm, r->rep, msg);
    uv_read_stop((uv_stream_t *)&r->pipe);
    close_once((uv_handle_t *)&r->pipe);
    close_once((uv_handle_t *)t);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    pyab_rep *r = s->data;
    char *start, *nl;

    if (n < 0) {
        close_once((uv_handle_t *)s);
        if (r->exited)
            close_once((uv_handle_t *)&r->deadline);
        return;
    }
    pyab_buf_add(&r->inbuf, buf->base, (size_t)n);
    start = r->inbuf.data;
    while ((nl = memchr(start, '\n', r->inbuf.len - (size_t)(start - r->inbuf.data))) != NULL) {
        *nl = '\0';
        on_line(r, start);
        start = nl + 1;
    }
    size_t rest = r->inbuf.len - (size_t)(start - r->inbuf.data);
    memmove(r->inbuf.data, start, rest);
    r->inbuf.len = rest;
    r->inbuf.data[rest] = '\0';
}

/*
 * Stops what the service left behind once its child has exited: members
 * of the child's process group, and processes that escaped the group
 * (setsid daemons) and, pyab being a subreaper, became pyab's own
 * children. Returns how many it found; their pids go into `pids`.
 */
/* Stops what the service left behind (leftovers.h) and says so on the rep and the terminal. */
static void reap_leftovers(pyab_rep *r, pid_t child)
{
    pyab_buf pids;

    pyab_buf_init(&pids);
    if (pyab_leftovers_stop(child, r->host->current ? r->host->current->proc.pid : 0, &pids) > 0) {
        char *msg = xasprintf("the service left processes running after the child exited "
                              "(%s); pyab killed them", pids.data);
        json_array_append_new(r->warnings, json_string(msg));
        pyab_progress_log(&r->host->progress, "%s rep %d: %s", r->arm->arm, r->rep, msg);
        free(msg);
    }
    pyab_buf_finish(&pids);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    pyab_rep *r = p->data;

    r->exit_status = status;
    r->term_signal = sig;
    r->exited = 1;
    r->pid = p->pid;
    reap_leftovers(r, p->pid);
    close_once((uv_handle_t *)p);
    close_once((uv_handle_t *)&r->watchdog);
    uv_timer_stop(&r->deadline);
    if (uv_is_closing((uv_handle_t *)&r->pipe))
        close_once((uv_handle_t *)&r->deadline);
    else
        uv_timer_start(&r->deadline, on_grace, PIPE_GRACE_MS, 0);
}

static void on_deadline(uv_timer_t *t)
{
    pyab_rep *r = t->data;

    if (r->killed_for)
        return;
    r->killed_for = 't';
    snprintf(r->reason, sizeof(r->reason), "still running after limits.run_seconds %.1f s",
             r->arm->limit_run_seconds);
    /* As for a stall: the stacks first (faulthandler), the group a second later. */
    r->stall_aborted = 1;
    r->aborted_at = pyab_now_s();
    uv_process_kill(&r->proc, SIGABRT);
}

/*
 * Ends a rep whose child went silent: native code that holds the GIL stops
 * even the sampler, and without limits.run_seconds nothing else would end
 * it. Before the child's hello (importing the service, which may load a
 * model) it gets five times as long.
 */
static void on_watchdog(uv_timer_t *t)
{
    pyab_rep *r = t->data;
    double limit = r->arm->limit_stall_seconds * (r->hello ? 1 : 5);

    if (r->exited)
        return;
    if (r->stall_aborted) {
        /* Once the stack dump has had its second, the whole group goes. */
        if (pyab_now_s() - r->aborted_at >= 1.0)
            kill_group(r, SIGKILL);
        return;
    }
    if (r->killed_for || pyab_now_s() - r->last_word < limit)
        return;
    r->killed_for = 't';
    snprintf(r->reason, sizeof(r->reason),
             "no word from the child for %.0f s (limits.stall_seconds%s): stuck, likely in "
             "native code that holds the GIL", limit, r->hello ? "" : " x5 while starting");
    /* SIGABRT first: faulthandler dumps every thread's stack into
     * stderr.log without needing the GIL, so the reason can say where. */
    r->stall_aborted = 1;
    r->aborted_at = pyab_now_s();
    uv_process_kill(&r->proc, SIGABRT);
}

static const char *signal_name(int sig)
{
    const char *s = sigabbrev_np(sig);
    return s ? s : "?";
}

/*
 * limits.max_error_share: a rep whose handler raised on more than this
 * share of its requests measured the service's error path, not its normal
 * work, so it is "failed", not a curve to judge. The reason gives the
 * share, the routes where every request raised and the run's first
 * traceback (its end, which names the exception, when it is long). 1 when
 * the rep failed so.
 */
static int failed_by_errors(pyab_rep *r)
{
    double requests = (double)json_integer_value(json_object_get(r->final, "requests"));
    double errors = (double)json_integer_value(json_object_get(r->final, "errors"));
    json_t *first = json_object_get(r->final, "first_error"), *rs;
    const char *route, *tb = json_string_value(json_object_get(first, "traceback"));
    pyab_buf msg, names;
    size_t all = 0;

    if (!(requests > 0) || !(errors > r->arm->limit_error_share * requests))
        return 0;
    pyab_buf_init(&msg);
    pyab_buf_addf(&msg, "%.0f of %.0f request%s raised (%.0f%%, more than limits.max_error_share "
                  "%g): the measurement does not describe the service's normal work",
                  errors, requests, requests == 1 ? "" : "s", 100 * errors / requests,
                  r->arm->limit_error_share);
    pyab_buf_init(&names);
    json_object_foreach(json_object_get(r->final, "routes"), route, rs) {
        json_int_t n = json_integer_value(json_object_get(rs, "requests"));
        if (n > 0 && json_integer_value(json_object_get(rs, "errors")) == n)
            pyab_buf_addf(&names, "%s%s", all++ ? ", " : "", route);
    }
    if (all)
        pyab_buf_addf(&msg, "; every request failed on route%s %s", all == 1 ? "" : "s",
                      names.data);
    pyab_buf_finish(&names);
    if (tb && *tb) {
        size_t room = msg.len + 512 < sizeof(r->reason) ? sizeof(r->reason) - msg.len - 64 : 448;
        size_t len = strlen(tb);
        const char *from = tb;
        if (len > room) {
            /* Its end names the exception: keep that, from a whole line. */
            from = tb + len - room;
            from = strchr(from, '\n') ? strchr(from, '\n') + 1 : from;
        }
        pyab_buf_addf(&msg, "; the first, on %s:\n%s%s",
                      json_string_value(json_object_get(first, "route")) ?: "?",
                      from != tb ? "...\n" : "", from);
    }
    snprintf(r->reason, sizeof(r->reason), "%s", msg.data);
    /* A traceback ends with a newline: the terminal line and rep.json need none. */
    for (size_t n = strlen(r->reason); n > 0 && r->reason[n - 1] == '\n'; n--)
        r->reason[n - 1] = '\0';
    pyab_buf_finish(&msg);
    r->outcome = "failed";
    return 1;
}

static void decide_outcome(pyab_rep *r)
{
    if (r->killed_for == 't')
        r->outcome = "timeout";
    else if (r->killed_for == 'r')
        r->outcome = "over-limit";
    else if (r->fatal) {
        r->outcome = "failed";
        snprintf(r->reason, sizeof(r->reason), "%s",
                 json_string_value(json_object_get(r->fatal, "message")) ?: "child failed");
    } else if (r->final && json_is_true(json_object_get(r->final, "interrupted"))) {
        r->outcome = "interrupted";
        snprintf(r->reason, sizeof(r->reason), "stopped by a signal");
    } else if (r->final && r->exit_status == 0 && r->term_signal == 0) {
        if (!failed_by_errors(r))
            r->outcome = "ok";
    } else if (r->term_signal) {
        r->outcome = r->host->interrupted ? "interrupted" : "crashed";
        snprintf(r->reason, sizeof(r->reason), "killed by signal %d (SIG%s)%s", r->term_signal,
                 signal_name(r->term_signal), r->final ? " after its final report" : "");
    } else {
        r->outcome = "crashed";
        snprintf(r->reason, sizeof(r->reason), "exited with status %lld without a final report",
                 (long long)r->exit_status);
    }
}

static int finish_files(pyab_rep *r, pyab_error *err)
{
    static const char *const names[] = {"samples.csv", "events.jsonl"};
    FILE *files[] = {r->samples, r->events};
    int rc = 0;

    for (int i = 0; i < 2; i++) {
        char *part = xasprintf("%s/%s.part", r->dir, names[i]);
        char *final = xasprintf("%s/%s", r->dir, names[i]);
        if (fflush(files[i]) != 0 || fsync(fileno(files[i])) != 0 || fclose(files[i]) != 0 ||
            rename(part, final) != 0)
            rc = pyab_error_internal(err, "%s: cannot write: %s", final, strerror(errno));
        free(part);
        free(final);
    }
    return rc;
}

/* The last bytes of the rep's stderr.log (a crashed service's stack dump). New string or NULL. */
static char *stderr_tail(const pyab_rep *r, size_t max)
{
    char *path = pyab_path_join(r->dir, "stderr.log"), *data = NULL, *tail = NULL;
    size_t len = 0;

    if (pyab_file_read(path, &data, &len) == 0 && len > 0) {
        const char *start = len > max ? data + len - max : data;
        if (start != data && strchr(start, '\n'))
            start = strchr(start, '\n') + 1; /* from a whole line */
        tail = xstrdup(start);
    }
    free(data);
    free(path);
    return tail;
}

static json_t *rep_record(pyab_rep *r)
{
    json_t *rec = r->final ? json_deep_copy(r->final) : json_object();

    if (r->settle_on)
        json_object_set_new(rec, "settle", pyab_settle_json(&r->settle));

    json_object_set_new(rec, "rep", json_integer(r->rep));
    json_object_set_new(rec, "outcome", json_string(r->outcome));
    json_object_set_new(rec, "reason", r->reason[0] ? json_string(r->reason) : json_null());
    if (json_object_get(rec, "requests") == NULL) {
        size_t n = r->series.n;
        json_object_set_new(rec, "requests",
                            json_integer(n ? (json_int_t)r->series.requests[n - 1] : 0));
        json_object_set_new(rec, "duration_s", json_real(n ? r->series.t[n - 1] : 0));
    }
    json_object_set_new(rec, "warnings", json_incref(r->warnings));
    json_object_set(rec, "logs", r->logs);
    if (strcmp(r->outcome, "ok") != 0) {
        char *tail = stderr_tail(r, 4096);
        /* A crash: the crashing thread's innermost frame. A stall: SIGABRT
         * lands on the sampler's thread, so the first frame of any thread
         * (the worker stuck in the handler). */
        const char *cur = tail && r->stall_aborted ? strstr(tail, "Thread") : NULL;
        /* Before the workers start (a hang while importing) only the main thread is there. */
        if (cur == NULL && tail)
            cur = strstr(tail, "Current thread");
        const char *file = cur ? strstr(cur, "  File \"") : NULL;
        /* faulthandler's dump names the crashing thread's innermost frame. */
        if (file && (strcmp(r->outcome, "crashed") == 0 || r->stall_aborted)) {
            size_t n = strcspn(file + 2, "\n"), used = strlen(r->reason);
            snprintf(r->reason + used, sizeof(r->reason) - used, " at %.*s", (int)n, file + 2);
            json_object_set_new(rec, "reason", json_string(r->reason));
        }
        if (tail)
            json_object_set_new(rec, "stderr_tail", json_string(tail));
        free(tail);
    }
    if (r->hello)
        json_object_set(rec, "trace", json_object_get(r->hello, "trace"));
    pyab_results_derive(&r->series, rec);
    return rec;
}

static int spawn_rep(pyab_rep_host *h, pyab_rep *r, pyab_error *err)
{
    char *exe = pyab_rep_arm_child(r->arm), *config = pyab_path_join(r->dir, "config.json");
    char *out = pyab_path_join(r->dir, "stdout.log"), *errp = pyab_path_join(r->dir, "stderr.log");
    int fd_out = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    int fd_err = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    char *args[] = {exe, config, NULL};
    char **env = pyab_childenv_create(r->arm);
    uv_stdio_container_t stdio[4];
    uv_process_options_t po = {0};
    int rc;

    uv_pipe_init(&h->loop, &r->pipe, 0);
    r->pipe.data = r->proc.data = r->deadline.data = r->watchdog.data = r;
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fd_out;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = fd_err;
    stdio[3].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[3].data.stream = (uv_stream_t *)&r->pipe;
    po.file = exe;
    po.args = args;
    po.env = env;
    po.stdio = stdio;
    po.stdio_count = 4;
    po.exit_cb = on_exit_cb;
    po.flags = UV_PROCESS_DETACHED; /* its own process group: see kill_group */
    r->open_handles = 4; /* pipe, process, deadline and watchdog timers */
    rc = exe && fd_out >= 0 && fd_err >= 0 ? uv_spawn(&h->loop, &r->proc, &po) : -EIO;
    if (rc < 0) {
        pyab_error_internal(err, "cannot start the child for arm %s rep %d (%s): %s",
                            r->arm->arm, r->rep, exe ? exe : "pyab-child not found",
                            uv_strerror(rc));
        /* The handles live in the caller's frame: finish closing them here.
         * libuv initialises the process handle even when the spawn fails. */
        r->open_handles = exe && fd_out >= 0 && fd_err >= 0 ? 2 : 1;
        uv_close((uv_handle_t *)&r->pipe, handle_closed);
        if (r->open_handles == 2)
            uv_close((uv_handle_t *)&r->proc, handle_closed);
        while (r->open_handles > 0)
            uv_run(&h->loop, UV_RUN_ONCE);
    } else {
        uv_read_start((uv_stream_t *)&r->pipe, alloc_cb, on_read);
        r->last_word = pyab_now_s();
        uv_timer_init(&h->loop, &r->watchdog);
        uv_timer_start(&r->watchdog, on_watchdog, 1000, 1000);
        uv_timer_init(&h->loop, &r->deadline);
        if (r->arm->limit_run_seconds > 0)
            uv_timer_start(&r->deadline, on_deadline,
                           (uint64_t)(r->arm->limit_run_seconds * 1000), 0);
    }
    if (fd_out >= 0)
        close(fd_out);
    if (fd_err >= 0)
        close(fd_err);
    pyab_childenv_destroy(env);
    free(exe);
    free(config);
    free(out);
    free(errp);
    return rc;
}

static int prepare_rep(pyab_rep_host *h, pyab_rep *r, pyab_error *err)
{
    char *config, *part;
    json_t *doc;
    int rc;

    r->dir = xasprintf("%s/arms/%s/rep-%d", h->dir, r->arm->arm, r->rep);
    if ((rc = pyab_mkdirs(r->dir)) < 0)
        return pyab_error_internal(err, "%s: cannot create: %s", r->dir, strerror(-rc));
    config = pyab_path_join(r->dir, "config.json");
    doc = json_pack("{s:s,s:i,s:O,s:o}", "arm", r->arm->arm, "rep", r->rep, "settings",
                    r->arm->json, "effective", pyab_config_effective(r->arm));
    rc = pyab_json_write_atomic(config, doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10), err);
    json_decref(doc);
    free(config);
    if (rc < 0)
        return rc;
    part = xasprintf("%s/samples.csv.part", r->dir);
    r->samples = fopen(part, "we");
    free(part);
    part = xasprintf("%s/events.jsonl.part", r->dir);
    r->events = fopen(part, "we");
    free(part);
    if (r->samples == NULL || r->events == NULL)
        return pyab_error_internal(err, "%s: cannot create files: %s", r->dir, strerror(errno));
    fprintf(r->samples, "%s\n", pyab_results_csv_header);
    pyab_buf_init(&r->inbuf);
    pyab_results_series_init(&r->series);
    r->warnings = json_array();
    return 0;
}

int pyab_rep_run(pyab_rep_host *h, const pyab_config *arm, int rep, json_t **record,
                 int *bad_input, pyab_error *err)
{
    pyab_rep r = {.host = h, .arm = arm, .rep = rep};
    json_t *rec;
    char *path;
    int rc;

    *record = NULL;
    *bad_input = 0;
    if ((rc = prepare_rep(h, &r, err)) < 0)
        goto out;
    h->current = &r;
    r.started = pyab_now_s();
    pyab_progress_start(&h->progress, arm->arm, rep, h->runs_done, h->runs_total);
    if ((rc = spawn_rep(h, &r, err)) < 0)
        goto out;
    while (r.open_handles > 0)
        uv_run(&h->loop, UV_RUN_ONCE);
    /* Once more, for a process that was still being daemonised (its
     * intermediate parent alive) when the child exited. */
    if (r.exited)
        reap_leftovers(&r, r.pid);
    h->current = NULL;
    decide_outcome(&r);
    r.logs = json_object();
    pyab_replog_cap(r.dir, r.logs, &h->progress, "stdout.log");
    pyab_replog_cap(r.dir, r.logs, &h->progress, "stderr.log");
    if ((rc = finish_files(&r, err)) < 0)
        goto out;
    if (r.where) {
        path = pyab_path_join(r.dir, "where.json");
        rc = pyab_json_write_atomic(path, r.where, JSON_INDENT(1) | JSON_REAL_PRECISION(10), err);
        free(path);
        if (rc < 0)
            goto out;
    }
    rec = rep_record(&r);
    path = pyab_path_join(r.dir, "rep.json");
    rc = pyab_json_write_atomic(path, rec, JSON_INDENT(2) | JSON_REAL_PRECISION(10), err);
    free(path);
    if (rc == 0)
        *record = rec;
    else
        json_decref(rec);
    /* A failed child's message (a traceback) is printed once, by the caller. */
    pyab_progress_done(&h->progress, arm->arm, rep, r.outcome,
                       r.fatal ? "the service could not be started" : r.reason);
    if (r.fatal && json_integer_value(json_object_get(r.fatal, "exit_code")) == PYAB_EXIT_USAGE) {
        *bad_input = 1;
        pyab_error_set(err, "arm %s: %s", arm->arm,
                       json_string_value(json_object_get(r.fatal, "message")) ?: r.reason);
    }
out:
    h->current = NULL;
    pyab_buf_finish(&r.inbuf);
    pyab_results_series_finish(&r.series);
    json_decref(r.hello);
    json_decref(r.final);
    json_decref(r.fatal);
    json_decref(r.where);
    json_decref(r.warnings);
    json_decref(r.logs);
    free(r.dir);
    return rc;
}

void pyab_rep_kill(pyab_rep *r, int signum)
{
    /* A kill (a second Ctrl-C): the stacks first, as for a stall, so the
     * reason says where the service was; the watchdog kills the group a
     * second later. Once that is under way, at once. */
    if (signum == SIGKILL && !r->exited && !r->stall_aborted) {
        r->stall_aborted = 1;
        r->aborted_at = pyab_now_s();
        uv_process_kill(&r->proc, SIGABRT);
    } else if (signum == SIGKILL)
        kill_group(r, signum);
    else if (!r->exited)
        uv_process_kill(&r->proc, signum);
}
