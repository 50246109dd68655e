#include "progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#define PLAIN_EVERY_S 5.0
#define LIVE_EVERY_S 0.2

/* Borrowed; set by `pyab check`, which runs several scenarios in one log. */
static const char *label = "";
static const char *label_sep = "";

void pyab_progress_set_label(const char *name)
{
    label = name ? name : "";
    label_sep = name ? ": " : "";
}

void pyab_progress_init(pyab_progress *p, int quiet)
{
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    p->live = 0;
    p->last_print = 0;
}

static void clear_live(pyab_progress *p)
{
    if (p->live) {
        fprintf(stderr, "\r\033[K");
        p->live = 0;
    }
}

void pyab_progress_start(pyab_progress *p, const char *arm, int rep, size_t run, size_t runs)
{
    p->rep_started = pyab_now_s();
    p->run = run;
    p->runs = runs;
    p->last_print = 0;
    if (p->quiet)
        return;
    clear_live(p);
    fprintf(stderr, "pyab: [%zu/%zu] %s%sarm %s rep %d\n", run + 1, runs, label, label_sep, arm,
            rep);
}

/* "1234/40000 requests, 3.2 s, ETA 2.1 s" (the ETA from the rate so far). */
static void describe(const pyab_progress *p, double requests, double t_s, char *buf, size_t len)
{
    if (p->planned > 0 && requests > 0 && t_s > 0) {
        double eta = t_s * (p->planned - requests) / requests;
        snprintf(buf, len, "%.0f/%.0f request%s, %.1f s, ETA %.1f s", requests, p->planned,
                 p->planned == 1 ? "" : "s", t_s,
                 eta > 0 ? eta : 0);
    } else {
        snprintf(buf, len, "%.0f request%s, %.1f s", requests, requests == 1 ? "" : "s", t_s);
    }
}

void pyab_progress_update(pyab_progress *p, const char *arm, int rep, double requests, double t_s,
                          double rss, double pyheap)
{
    double now = pyab_now_s();
    char what[128];

    /* The first sample comes before any request finished: nothing to say yet. */
    if (p->quiet || requests <= 0 ||
        now - p->last_print < (p->tty ? LIVE_EVERY_S : PLAIN_EVERY_S))
        return;
    p->last_print = now;
    describe(p, requests, t_s, what, sizeof(what));
    if (p->tty) {
        fprintf(stderr, "\r\033[K  %s%s%s rep %d: %s  RSS %.1f MB  pyheap %.1f MB", label,
                label_sep, arm, rep, what, rss / 1048576.0, pyheap / 1048576.0);
        p->live = 1;
    } else {
        fprintf(stderr, "pyab:   %s%s%s rep %d: %s, RSS %.1f MB, pyheap %.1f MB\n", label,
                label_sep, arm, rep, what, rss / 1048576.0, pyheap / 1048576.0);
    }
}

void pyab_progress_done(pyab_progress *p, const char *arm, int rep, const char *outcome,
                        const char *reason)
{
    if (p->quiet)
        return;
    clear_live(p);
    fprintf(stderr, "pyab:   %s%s%s rep %d: %s%s%s (%.1f s)\n", label, label_sep, arm, rep, outcome,
            reason && reason[0] ? ": " : "", reason ? reason : "", pyab_now_s() - p->rep_started);
}

void pyab_progress_log(pyab_progress *p, const char *fmt, ...)
{
    va_list ap;

    clear_live(p);
    fprintf(stderr, "pyab: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}
