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

void pyab_progress_update(pyab_progress *p, const char *arm, int rep, double requests, double t_s,
                          double rss, double pyheap)
{
    double now = pyab_now_s();

    if (p->quiet || now - p->last_print < (p->tty ? LIVE_EVERY_S : PLAIN_EVERY_S))
        return;
    p->last_print = now;
    if (p->tty) {
        fprintf(stderr, "\r\033[K  %s%s%s rep %d: %.0f requests  %.1f s  RSS %.1f MB  pyheap %.1f MB",
                label, label_sep, arm, rep, requests, t_s, rss / 1048576.0, pyheap / 1048576.0);
        p->live = 1;
    } else {
        fprintf(stderr, "pyab:   %s%s%s rep %d: %.0f requests, %.1f s, RSS %.1f MB, pyheap %.1f MB\n",
                label, label_sep, arm, rep, requests, t_s, rss / 1048576.0, pyheap / 1048576.0);
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
