#include "experiment.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "child.h"
#include "cmds.h"
#include "analyze.h"
#include "progress.h"
#include "report.h"
#include "results.h"
#include "trace.h"
#include "transform.h"
#include "version.h"

extern char **environ;

typedef struct rep_run {
    struct experiment *ex;
    const pyab_config *arm;
    int rep;
    char *dir;
    FILE *samples, *events;
    pyab_buf inbuf;
    pyab_rep_series series;
    json_t *hello, *final, *fatal, *warnings;
    const char *outcome;
    char reason[1024];
    int killed_for; /* 0, or 't' timeout / 'r' over-limit / 'i' interrupted */
    int64_t exit_status;
    int term_signal;
    double started;
    uv_process_t proc;
    uv_pipe_t pipe;
    uv_timer_t deadline;
    int open_handles;
} rep_run;

typedef struct experiment {
    pyab_scenario *sc;
    const pyab_run_opts *opts;
    char *dir;
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    rep_run *current;
    int interrupted;
    int bad_input;
    json_t *reps_by_arm; /* arm name -> array of rep records */
    json_t *readback;    /* arm name -> first rep's readback */
    pyab_progress progress;
    size_t runs_done, runs_total;
} experiment;

static char *self_exe(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return xstrdup(buf);
}

static int write_json(const char *path, json_t *j, pyab_error *err)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    int rc = pyab_file_write_atomic(path, s, strlen(s));

    free(s);
    if (rc < 0)
        return pyab_error_internal(err, "%s: cannot write: %s", path, strerror(-rc));
    return 0;
}

static char *git_revision(const char *dir)
{
    char *cmd = xasprintf("git -C '%s' rev-parse HEAD 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    char line[128] = "";

    free(cmd);
    if (p == NULL)
        return NULL;
    if (fgets(line, sizeof(line), p) == NULL)
        line[0] = '\0';
    pclose(p);
    line[strcspn(line, "\n")] = '\0';
    return line[0] ? xstrdup(line) : NULL;
}

static int write_manifest(experiment *ex, pyab_error *err)
{
    json_t *m = json_object(), *arms = json_object();
    char host[256] = "";
    char *rev = git_revision(ex->sc->dir);
    char *path = pyab_path_join(ex->dir, "manifest.json");
    time_t now = time(NULL);
    char stamp[64];
    int rc;

    gethostname(host, sizeof(host) - 1);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    for (size_t i = 0; i < ex->sc->narms; i++) {
        const pyab_config *a = &ex->sc->arms[i];
        json_object_set_new(arms, a->arm, json_pack("{s:O,s:O?}", "settings", a->json,
                                                    "readback",
                                                    json_object_get(ex->readback, a->arm)));
    }
    json_object_set_new(m, "versions", pyab_version_json());
    json_object_set_new(m, "scenario_path", json_string(ex->sc->path));
    json_object_set_new(m, "scenario", json_incref(ex->sc->root));
    json_object_set_new(m, "arms", arms);
    json_object_set_new(m, "reps", json_integer(ex->sc->reps));
    json_object_set_new(m, "order", json_string(ex->sc->shuffle ? "shuffled" : "interleaved"));
    json_object_set_new(m, "host", json_pack("{s:i,s:s}", "cpus", (int)sysconf(_SC_NPROCESSORS_ONLN),
                                             "hostname", host));
    json_object_set_new(m, "git_revision", rev ? json_string(rev) : json_null());
    json_object_set_new(m, "started_utc", json_string(stamp));
    rc = write_json(path, m, err);
    free(rev);
    free(path);
    json_decref(m);
    return rc;
}

static int write_summary(experiment *ex, const char *status, pyab_error *err)
{
    json_t *s = json_object(), *arms = json_object();
    char *path = pyab_path_join(ex->dir, "summary.json");
    int rc;

    for (size_t i = 0; i < ex->sc->narms; i++) {
        const char *name = ex->sc->arms[i].arm;
        json_object_set_new(arms, name,
                            pyab_results_aggregate(json_object_get(ex->reps_by_arm, name)));
    }
    json_object_set_new(s, "scenario", json_string(ex->sc->name));
    json_object_set_new(s, "status", json_string(status));
    json_object_set_new(s, "control", json_string(ex->sc->arms[0].arm));
    json_object_set_new(s, "arms", arms);
    rc = write_json(path, s, err);
    free(path);
    json_decref(s);
    return rc;
}

/* ---- one rep ---------------------------------------------------------- */

static void on_line(rep_run *r, char *line)
{
    experiment *ex = r->ex;
    json_t *j;

    if (line[0] == '\0' || line[1] != ' ')
        return;
    switch (line[0]) {
    case 'S':
        fprintf(r->samples, "%s\n", line + 2);
        fflush(r->samples);
        if (pyab_rep_series_add_row(&r->series, line + 2) == 0) {
            double rss = r->series.rss[r->series.n - 1];
            pyab_progress_update(&ex->progress, r->arm->arm, r->rep, r->series.requests[r->series.n - 1],
                                 r->series.t[r->series.n - 1], rss, r->series.pyheap[r->series.n - 1]);
            if (r->arm->limit_rss_mb > 0 && rss > r->arm->limit_rss_mb * 1048576.0 &&
                !r->killed_for) {
                r->killed_for = 'r';
                snprintf(r->reason, sizeof(r->reason), "RSS %.1f MB passed limits.rss_mb %.0f",
                         rss / 1048576.0, r->arm->limit_rss_mb);
                uv_process_kill(&r->proc, SIGKILL);
            }
        }
        break;
    case 'E':
        fprintf(r->events, "%s\n", line + 2);
        if ((j = json_loads(line + 2, 0, NULL)) != NULL) {
            pyab_rep_series_add_event(&r->series, j);
            json_decref(j);
        }
        break;
    case 'W':
        json_array_append_new(r->warnings, json_string(line + 2));
        pyab_progress_log(&ex->progress, "%s rep %d: %s", r->arm->arm, r->rep, line + 2);
        break;
    case 'H':
        json_decref(r->hello);
        r->hello = json_loads(line + 2, 0, NULL);
        if (json_object_get(ex->readback, r->arm->arm) == NULL && r->hello)
            json_object_set_new(ex->readback, r->arm->arm,
                                json_deep_copy(json_object_get(r->hello, "readback")));
        break;
    case 'F':
        json_decref(r->final);
        r->final = json_loads(line + 2, 0, NULL);
        /* The first rep's GC state at its end (freeze count after warm-up). */
        j = json_object_get(ex->readback, r->arm->arm);
        if (r->final && j && json_object_get(j, "gc_at_end") == NULL)
            json_object_set(j, "gc_at_end", json_object_get(r->final, "gc_readback"));
        break;
    case 'X':
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
    rep_run *r = h->data;
    r->open_handles--;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    rep_run *r = s->data;
    char *start, *nl;

    if (n < 0) {
        uv_close((uv_handle_t *)s, handle_closed);
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

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    rep_run *r = p->data;

    r->exit_status = status;
    r->term_signal = sig;
    uv_close((uv_handle_t *)p, handle_closed);
    uv_timer_stop(&r->deadline);
    uv_close((uv_handle_t *)&r->deadline, handle_closed);
}

static void on_deadline(uv_timer_t *t)
{
    rep_run *r = t->data;

    if (r->killed_for)
        return;
    r->killed_for = 't';
    snprintf(r->reason, sizeof(r->reason), "still running after limits.run_seconds %.1f s",
             r->arm->limit_run_seconds);
    uv_process_kill(&r->proc, SIGKILL);
}

static void add_env(char ***env, size_t *n, const char *fmt, ...) PYAB_PRINTF(3, 4);

static void add_env(char ***env, size_t *n, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    *env = xrealloc(*env, (*n + 2) * sizeof(char *));
    (*env)[(*n)++] = s;
    (*env)[*n] = NULL;
}

/* The child's environment: ours, less what pyab sets, plus the arm's knobs. */
static char **child_env(const pyab_config *a)
{
    static const char *const drop[] = {"PYTHONMALLOC=", "LD_PRELOAD=", "MALLOC_ARENA_MAX=",
                                       "MALLOC_MMAP_THRESHOLD_=", "MALLOC_TRIM_THRESHOLD_=",
                                       PYAB_PROTOCOL_FD_ENV "=", "PYTHONHASHSEED="};
    char **env = NULL;
    size_t n = 0;
    const char *key;
    json_t *v;

    for (char **e = environ; *e; e++) {
        int skip = 0;
        for (size_t i = 0; i < PYAB_ARRAY_LEN(drop); i++)
            skip |= strncmp(*e, drop[i], strlen(drop[i])) == 0;
        if (a->env)
            json_object_foreach(a->env, key, v)
                skip |= strncmp(*e, key, strlen(key)) == 0 && (*e)[strlen(key)] == '=';
        if (!skip)
            add_env(&env, &n, "%s", *e);
    }
    add_env(&env, &n, "%s=3", PYAB_PROTOCOL_FD_ENV);
    if (a->malloc_arena_max)
        add_env(&env, &n, "MALLOC_ARENA_MAX=%ld", a->malloc_arena_max);
    if (a->mmap_threshold >= 0)
        add_env(&env, &n, "MALLOC_MMAP_THRESHOLD_=%ld", a->mmap_threshold);
    if (a->trim_threshold >= 0)
        add_env(&env, &n, "MALLOC_TRIM_THRESHOLD_=%ld", a->trim_threshold);
    if (a->preload)
        add_env(&env, &n, "LD_PRELOAD=%s", a->preload);
    if (a->env)
        json_object_foreach(a->env, key, v)
            add_env(&env, &n, "%s=%s", key, json_string_value(v));
    return env;
}

static void free_env(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}

static const char *signal_name(int sig)
{
    const char *s = sigabbrev_np(sig);
    return s ? s : "?";
}

static void decide_outcome(rep_run *r)
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
        r->outcome = "ok";
    } else if (r->term_signal) {
        r->outcome = r->ex->interrupted ? "interrupted" : "crashed";
        snprintf(r->reason, sizeof(r->reason), "killed by signal %d (SIG%s)%s", r->term_signal,
                 signal_name(r->term_signal), r->final ? " after its final report" : "");
    } else {
        r->outcome = "crashed";
        snprintf(r->reason, sizeof(r->reason), "exited with status %lld without a final report",
                 (long long)r->exit_status);
    }
}

static int finish_files(rep_run *r, pyab_error *err)
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

static json_t *rep_record(rep_run *r)
{
    json_t *rec = r->final ? json_deep_copy(r->final) : json_object();

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
    if (r->hello)
        json_object_set(rec, "trace", json_object_get(r->hello, "trace"));
    pyab_results_derive(&r->series, rec);
    return rec;
}

static int spawn_rep(experiment *ex, rep_run *r, pyab_error *err)
{
    char *exe = self_exe(), *config = pyab_path_join(r->dir, "config.json");
    char *out = pyab_path_join(r->dir, "stdout.log"), *errp = pyab_path_join(r->dir, "stderr.log");
    int fd_out = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    int fd_err = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    char *args[] = {exe, (char *)"__child", config, NULL};
    char **env = child_env(r->arm);
    uv_stdio_container_t stdio[4];
    uv_process_options_t po = {0};
    int rc;

    uv_pipe_init(&ex->loop, &r->pipe, 0);
    r->pipe.data = r->proc.data = r->deadline.data = r;
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
    r->open_handles = 3; /* pipe, process, deadline timer */
    rc = exe && fd_out >= 0 && fd_err >= 0 ? uv_spawn(&ex->loop, &r->proc, &po) : -EIO;
    if (rc < 0) {
        pyab_error_internal(err, "cannot start the child for arm %s rep %d: %s", r->arm->arm,
                            r->rep, uv_strerror(rc));
        uv_close((uv_handle_t *)&r->pipe, NULL);
        r->open_handles = 0;
    } else {
        uv_read_start((uv_stream_t *)&r->pipe, alloc_cb, on_read);
        uv_timer_init(&ex->loop, &r->deadline);
        if (r->arm->limit_run_seconds > 0)
            uv_timer_start(&r->deadline, on_deadline,
                           (uint64_t)(r->arm->limit_run_seconds * 1000), 0);
    }
    if (fd_out >= 0)
        close(fd_out);
    if (fd_err >= 0)
        close(fd_err);
    free_env(env);
    free(exe);
    free(config);
    free(out);
    free(errp);
    return rc;
}

static int prepare_rep(experiment *ex, rep_run *r, pyab_error *err)
{
    char *config, *part;
    json_t *doc;
    int rc;

    r->dir = xasprintf("%s/arms/%s/rep-%d", ex->dir, r->arm->arm, r->rep);
    if ((rc = pyab_mkdirs(r->dir)) < 0)
        return pyab_error_internal(err, "%s: cannot create: %s", r->dir, strerror(-rc));
    config = pyab_path_join(r->dir, "config.json");
    doc = json_pack("{s:s,s:i,s:O}", "arm", r->arm->arm, "rep", r->rep, "settings", r->arm->json);
    rc = write_json(config, doc, err);
    json_decref(doc);
    free(config);
    if (rc < 0)
        return rc;
    part = xasprintf("%s/samples.csv.part", r->dir);
    r->samples = fopen(part, "w");
    free(part);
    part = xasprintf("%s/events.jsonl.part", r->dir);
    r->events = fopen(part, "w");
    free(part);
    if (r->samples == NULL || r->events == NULL)
        return pyab_error_internal(err, "%s: cannot create files: %s", r->dir, strerror(errno));
    fprintf(r->samples, "%s\n", pyab_results_csv_header);
    pyab_buf_init(&r->inbuf);
    pyab_rep_series_init(&r->series);
    r->warnings = json_array();
    return 0;
}

static int run_rep(experiment *ex, const pyab_config *arm, int rep, pyab_error *err)
{
    rep_run r = {.ex = ex, .arm = arm, .rep = rep};
    json_t *rec;
    char *path;
    int rc;

    if ((rc = prepare_rep(ex, &r, err)) < 0)
        goto out;
    ex->current = &r;
    r.started = pyab_now_s();
    pyab_progress_start(&ex->progress, arm->arm, rep, ex->runs_done, ex->runs_total);
    if ((rc = spawn_rep(ex, &r, err)) < 0)
        goto out;
    while (r.open_handles > 0)
        uv_run(&ex->loop, UV_RUN_ONCE);
    ex->current = NULL;
    decide_outcome(&r);
    if ((rc = finish_files(&r, err)) < 0)
        goto out;
    rec = rep_record(&r);
    path = pyab_path_join(r.dir, "rep.json");
    rc = write_json(path, rec, err);
    free(path);
    json_array_append_new(json_object_get(ex->reps_by_arm, arm->arm), rec);
    pyab_progress_done(&ex->progress, arm->arm, rep, r.outcome, r.reason);
    if (r.fatal && json_integer_value(json_object_get(r.fatal, "exit_code")) == PYAB_EXIT_USAGE) {
        ex->bad_input = 1;
        pyab_error_set(err, "arm %s: %s", arm->arm,
                       json_string_value(json_object_get(r.fatal, "message")) ?: r.reason);
    }
out:
    ex->current = NULL;
    pyab_buf_finish(&r.inbuf);
    pyab_rep_series_finish(&r.series);
    json_decref(r.hello);
    json_decref(r.final);
    json_decref(r.fatal);
    json_decref(r.warnings);
    free(r.dir);
    return rc;
}

static void on_signal(uv_signal_t *s, int signum)
{
    experiment *ex = s->data;

    /* The first signal stops after the running rep has written what it
     * measured; a second one kills it. */
    if (ex->current)
        uv_process_kill(&ex->current->proc, ex->interrupted ? SIGKILL : SIGTERM);
    if (!ex->interrupted)
        pyab_progress_log(&ex->progress, "interrupted: finishing the running rep "
                          "(again to kill it)");
    ex->interrupted = 1;
}

/* The run order: rep by rep, arms in order (interleaved) or shuffled with the seed. */
static size_t *run_order(const pyab_scenario *sc, size_t *count)
{
    size_t n = sc->narms * (size_t)sc->reps, *order = xmalloc(n * sizeof(*order));
    uint64_t x = sc->arms[0].seed * 0x9E3779B97F4A7C15ull + 1;

    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; sc->shuffle && i > 1; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    *count = n;
    return order;
}

static int validate_traces(pyab_scenario *sc, pyab_error *err)
{
    for (size_t i = 0; i < sc->narms; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            seen |= strcmp(sc->arms[j].trace_path, sc->arms[i].trace_path) == 0;
        if (seen)
            continue;
        pyab_trace *tr = pyab_trace_load(sc->arms[i].trace_path, err);
        if (tr == NULL)
            return -EINVAL;
        if (tr->reordered)
            pyab_log("%s: %zu line(s) had a timestamp below the previous line's; replaying in "
                     "time order", tr->path, tr->reordered);
        /* Each arm's load.routes / exclude_routes / sample must keep something of it. */
        for (size_t j = i; j < sc->narms; j++) {
            uint32_t *keep;
            size_t n;
            if (strcmp(sc->arms[j].trace_path, sc->arms[i].trace_path) != 0)
                continue;
            char *where = sc->narms > 1 ? xasprintf("%s (arm %s)", sc->path, sc->arms[j].arm)
                                        : xstrdup(sc->path);
            int rc = pyab_transform_select(&sc->arms[j], tr, where, &keep, &n, err);
            free(where);
            if (rc < 0) {
                pyab_trace_destroy(tr);
                return rc;
            }
            free(keep);
        }
        pyab_trace_destroy(tr);
    }
    return 0;
}

static char *default_dir(const pyab_scenario *sc)
{
    char stamp[32];
    time_t now = time(NULL);

    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime(&now));
    return xasprintf("results/%s-%s", sc->name, stamp);
}

int pyab_experiment_run(pyab_scenario *sc, const pyab_run_opts *opts, char **dir_out,
                        pyab_error *err)
{
    experiment ex = {.sc = sc, .opts = opts};
    size_t *order, n;
    int rc;

    if ((rc = validate_traces(sc, err)) < 0)
        return PYAB_EXIT_USAGE;
    ex.dir = opts->out_dir ? xstrdup(opts->out_dir) : default_dir(sc);
    *dir_out = xstrdup(ex.dir);
    if ((rc = pyab_mkdirs(ex.dir)) < 0) {
        pyab_error_set(err, "%s: cannot create the results folder: %s", ex.dir, strerror(-rc));
        free(ex.dir);
        return PYAB_EXIT_USAGE;
    }
    ex.reps_by_arm = json_object();
    ex.readback = json_object();
    for (size_t i = 0; i < sc->narms; i++)
        json_object_set_new(ex.reps_by_arm, sc->arms[i].arm, json_array());
    uv_loop_init(&ex.loop);
    uv_signal_init(&ex.loop, &ex.sigint);
    uv_signal_init(&ex.loop, &ex.sigterm);
    ex.sigint.data = ex.sigterm.data = &ex;
    uv_signal_start(&ex.sigint, on_signal, SIGINT);
    uv_signal_start(&ex.sigterm, on_signal, SIGTERM);
    pyab_progress_init(&ex.progress, opts->quiet);
    order = run_order(sc, &n);
    ex.runs_total = n;
    rc = write_manifest(&ex, err);
    for (size_t k = 0; rc == 0 && k < n && !ex.interrupted && !ex.bad_input; k++) {
        const pyab_config *arm = &sc->arms[order[k] % sc->narms];
        rc = run_rep(&ex, arm, (int)(order[k] / sc->narms) + 1, err);
        ex.runs_done++;
        if (rc == 0)
            rc = write_summary(&ex, ex.interrupted ? "interrupted" : "running", err);
    }
    if (rc == 0)
        rc = write_manifest(&ex, err);
    if (rc == 0)
        rc = write_summary(&ex, ex.interrupted ? "interrupted" : ex.bad_input ? "failed" : "complete",
                           err);
    free(order);
    uv_close((uv_handle_t *)&ex.sigint, NULL);
    uv_close((uv_handle_t *)&ex.sigterm, NULL);
    uv_run(&ex.loop, UV_RUN_DEFAULT);
    uv_loop_close(&ex.loop);
    json_decref(ex.reps_by_arm);
    json_decref(ex.readback);
    free(ex.dir);
    if (rc < 0)
        return err->exit_code ? err->exit_code : PYAB_EXIT_INTERNAL;
    if (ex.bad_input)
        return PYAB_EXIT_USAGE;
    return ex.interrupted ? 130 : PYAB_EXIT_OK;
}

/* Verdicts, the terminal table and the report, over the files just written. */
static int analyse_and_report(const char *dir, const pyab_run_opts *opts)
{
    pyab_error err = {0};
    char *path = pyab_path_join(dir, "summary.json");
    json_t *summary;
    int rc = 0;

    if (access(path, F_OK) != 0) {
        free(path);
        return 0;
    }
    if (pyab_analyze_dir(dir, &err) < 0) {
        fprintf(stderr, "pyab: analysis: %s\n", err.text);
        rc = -EIO;
    } else if (opts->after_analysis && opts->after_analysis(dir, opts->data, &err) < 0) {
        fprintf(stderr, "pyab: %s\n", err.text);
        rc = -EIO;
    }
    summary = json_load_file(path, 0, NULL);
    if (summary && !opts->quiet) {
        pyab_results_print(stdout, summary);
        pyab_analyze_print(stdout, summary);
    }
    json_decref(summary);
    if (opts->report && pyab_report_write(dir, 0, &err) < 0) {
        fprintf(stderr, "pyab: report: %s\n", err.text);
        rc = -EIO;
    }
    printf("\nresults: %s%s\n", dir, opts->report ? " (report.html)" : "");
    free(path);
    return rc;
}

static int run_usage(void)
{
    fprintf(stderr, "usage: pyab run SCENARIO [--out DIR] [--quiet] [--no-report]\n");
    return PYAB_EXIT_USAGE;
}

int pyab_cmd_run(int argc, char **argv)
{
    pyab_run_opts opts = {.report = 1};
    const char *path = NULL;
    pyab_error err = {0};
    pyab_scenario *sc;
    char *dir = NULL;
    int code;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            opts.out_dir = argv[++i];
        else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0)
            opts.quiet = 1;
        else if (strcmp(argv[i], "--no-report") == 0)
            opts.report = 0;
        else if (argv[i][0] == '-' || path)
            return run_usage();
        else
            path = argv[i];
    }
    if (path == NULL)
        return run_usage();
    if ((sc = pyab_scenario_load(path, &err)) == NULL) {
        fprintf(stderr, "pyab: %s\n", err.text);
        return err.exit_code;
    }
    code = pyab_experiment_run_all(sc, &opts, &dir);
    free(dir);
    pyab_scenario_destroy(sc);
    return code;
}

int pyab_experiment_run_all(pyab_scenario *sc, const pyab_run_opts *opts, char **dir_out)
{
    pyab_error err = {0};
    int code;

    *dir_out = NULL;
    code = pyab_experiment_run(sc, opts, dir_out, &err);
    if (code == PYAB_EXIT_USAGE || code == PYAB_EXIT_INTERNAL)
        fprintf(stderr, "pyab: %s\n", err.text);
    if (*dir_out && code != PYAB_EXIT_INTERNAL && analyse_and_report(*dir_out, opts) < 0)
        code = PYAB_EXIT_INTERNAL;
    return code;
}
