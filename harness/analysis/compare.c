/*
 * compare: each arm against the control. Works on a summary that
 * analyze.c has filled in, so a comparison always uses the same per-rep
 * figures as the verdicts.
 *
 * The observations are the per-rep figures, never the samples (those are
 * autocorrelated within a rep). A difference is significant when its
 * interval excludes zero: Welch's t interval over the per-rep values, and
 * for slopes the wider of that and the two arms' pooled intervals combined,
 * which is all there is when an arm has one rep. The exact Mann–Whitney
 * p-value is reported beside it as the distribution-free check, with a
 * warning when the rep counts cannot reach p < ALPHA at all.
 *
 * Significance is not size: at a fixed open-loop rate two arms' throughput
 * can differ by 0.003 req/s with an interval that excludes zero. So every
 * figure has a minimum effect (the table below: the larger of a share of
 * the control's mean and a floor), and a difference under it is
 * "negligible", never significant, whatever its p.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compare.h"

#include "wherearm.h"
#include "stats.h"
#include "util.h"

#define ALPHA 0.05

/* The minimum effects are the README's ("Comparisons"): change both together. */
const pyab_compare_figure pyab_compare_figures[] = {
    {"rss_slope", "slopes.rss.bytes_per_request", "B/req", 0, 0.01, 1},
    {"pyheap_slope", "slopes.pyheap.bytes_per_request", "B/req", 1, 0.01, 1},
    {"native_slope", "slopes.native.bytes_per_request", "B/req", 2, 0.01, 1},
    {"native_free_slope", "slopes.native_free.bytes_per_request", "B/req", 3, 0.01, 1},
    {"peak_rss_bytes", "peak_rss_bytes", "B", -1, 0.01, 1048576},
    {"throughput_rps", "throughput_rps", "req/s", -1, 0.01, 0},
    {"latency_p99_ms", "latency_ms.p99", "ms", -1, 0.05, 0.1, "latency_ms.p99"},
    {"gc_pause_p99_ms", "analysis.gc_pause_p99_ms", "ms", -1, 0.05, 0.1},
    {"gc_time_share", "analysis.gc_time_share", "", -1, 0.05, 0.001},
};
const size_t pyab_compare_nfigures = PYAB_ARRAY_LEN(pyab_compare_figures);
const char *const pyab_compare_slope_keys[4] = {"rss", "pyheap", "native", "native_free"};

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Follows a dotted path of object keys; NULL when any step is missing. */
static json_t *get_path(json_t *j, const char *path)
{
    char key[64];
    while (j && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        j = json_object_get(j, key);
        path += n + (path[n] == '.');
    }
    return j;
}

/* The figure of every ok rep of an arm that has it; returns the count. */
static size_t rep_values(json_t *arm, const char *path, double *out, size_t max)
{
    json_t *reps = json_object_get(arm, "reps"), *rep, *v;
    size_t i, n = 0;
    json_array_foreach(reps, i, rep) {
        const char *outcome = json_string_value(json_object_get(rep, "outcome"));
        /* An ok rep the analysis had to skip (analysis_skipped) is left out here too. */
        if (outcome && strcmp(outcome, "ok") == 0 && n < max &&
            json_object_get(rep, "analysis_skipped") == NULL &&
            json_is_number(v = get_path(rep, path)) && isfinite(json_number_value(v)))
            out[n++] = json_number_value(v);
    }
    return n;
}

/* Half-width of an arm's pooled slope interval; infinite when it has no bound. */
static double pooled_half_width(json_t *arm, int slope)
{
    json_t *ci = get_path(json_object_get(arm, "slopes"), pyab_compare_slope_keys[slope]);
    json_t *lo = json_array_get(json_object_get(ci, "ci"), 0);
    json_t *hi = json_array_get(json_object_get(ci, "ci"), 1);
    if (!json_is_number(lo) || !json_is_number(hi))
        return INFINITY;
    return (json_number_value(hi) - json_number_value(lo)) / 2;
}

static double welch_half_width(const double *a, size_t na, const double *b, size_t nb,
                               double conf)
{
    double va = pow(pyab_stats_sd(a, na), 2) / (double)na;
    double vb = pow(pyab_stats_sd(b, nb), 2) / (double)nb, df;

    if (va + vb == 0)
        return 0;
    df = (va + vb) * (va + vb) / (va * va / (double)(na - 1) + vb * vb / (double)(nb - 1));
    return pyab_stats_t_quantile(0.5 + conf / 2, df) * sqrt(va + vb);
}

static json_t *compare_figure(json_t *ctl, json_t *arm, const pyab_compare_figure *f, double conf)
{
    double a[256], b[256], ma, mb, diff, hw = INFINITY, p = NAN, min_effect;
    size_t na = rep_values(ctl, f->path, a, 256), nb = rep_values(arm, f->path, b, 256);
    int significant, negligible;

    if (na == 0 || nb == 0)
        return NULL;
    ma = pyab_stats_mean(a, na);
    mb = pyab_stats_mean(b, nb);
    diff = mb - ma;
    if (na >= 2 && nb >= 2) {
        hw = welch_half_width(a, na, b, nb, conf);
        p = pyab_stats_mann_whitney(a, na, b, nb, NULL);
    }
    if (f->slope >= 0) {
        double ha = pooled_half_width(ctl, f->slope), hb = pooled_half_width(arm, f->slope);
        double comb = sqrt(ha * ha + hb * hb);
        hw = isfinite(hw) ? fmax(hw, comb) : comb;
    }
    significant = isfinite(hw) && (diff - hw > 0 || diff + hw < 0);
    /* When the rank test can decide, it must agree: a Welch interval of zero-variance reps is not evidence. */
    if (isfinite(p) && pyab_stats_mann_whitney_min_p(na, nb) < ALPHA)
        significant = significant && p < ALPHA;
    min_effect = fmax(f->min_rel * fabs(ma), f->min_abs);
    negligible = fabs(diff) < min_effect;
    json_t *out = json_pack("{so so so so so so sb so sb s[II]}", "control_mean", jnum(ma),
                            "arm_mean", jnum(mb), "diff", jnum(diff), "ratio",
                            jnum(ma != 0 ? mb / ma : NAN), "ci",
                            json_pack("[oo]", jnum(diff - hw), jnum(diff + hw)), "p", jnum(p),
                            "significant", significant && !negligible, "min_effect",
                            jnum(min_effect), "negligible", negligible, "reps", (json_int_t)na,
                            (json_int_t)nb);
    if (f->arm_path) {
        json_t *c = get_path(ctl, f->arm_path), *x = get_path(arm, f->arm_path);
        /* The arms' own figures beside the means of their reps' values. */
        json_object_set_new(out, "control_pooled",
                            jnum(json_is_number(c) ? json_number_value(c) : NAN));
        json_object_set_new(out, "arm_pooled", jnum(json_is_number(x) ? json_number_value(x) : NAN));
    }
    return out;
}

static size_t ok_reps(json_t *arm)
{
    double v[256];
    return rep_values(arm, "rep", v, 256);
}

static json_t *statement(size_t na, size_t nb, double conf)
{
    double min_p = pyab_stats_mann_whitney_min_p(na, nb);
    if (na < 2 || nb < 2)
        return json_sprintf("%zu vs %zu ok reps: with one rep in an arm only the slopes can be "
                            "judged, on within-run intervals; other differences are shown "
                            "untested. Run at least 4 reps per arm.", na, nb);
    if (min_p >= ALPHA)
        return json_sprintf("%zu vs %zu ok reps: differences are judged on per-rep values "
                            "(%.0f%% Welch interval); the rank test cannot reach p < %.2f with "
                            "so few reps (smallest p %.2f), so treat significance as tentative "
                            "and run at least 4 reps per arm.", na, nb, 100 * conf, ALPHA, min_p);
    return json_sprintf("%zu vs %zu ok reps: differences are judged on per-rep values (%.0f%% "
                        "Welch interval), with the exact rank test's p beside them.", na, nb,
                        100 * conf);
}

json_t *pyab_compare_arms(json_t *summary, const char *control, double conf)
{
    json_t *arms = json_object_get(summary, "arms"), *ctl = json_object_get(arms, control);
    json_t *out = json_array(), *arm;
    const char *name;

    json_object_foreach(arms, name, arm) {
        json_t *figs, *c;
        if (strcmp(name, control) == 0)
            continue;
        figs = json_object();
        for (size_t i = 0; i < pyab_compare_nfigures; i++)
            if ((c = compare_figure(ctl, arm, &pyab_compare_figures[i], conf)) != NULL)
                json_object_set_new(figs, pyab_compare_figures[i].name, c);
        json_array_append_new(out, json_pack("{ss ss s[II] so so so}", "arm", name, "control",
                                             control, "reps", (json_int_t)ok_reps(ctl),
                                             (json_int_t)ok_reps(arm), "statement",
                                             statement(ok_reps(ctl), ok_reps(arm), conf),
                                             "figures", figs, "where",
                                             pyab_wherearm_diff(json_object_get(ctl, "where"),
                                                                json_object_get(arm, "where"))));
    }
    return out;
}

/* The newest modification time of DIR/summary.json and DIR/arms/<arm>/rep-<k>/<file>. */
static time_t newest_write(const char *dir)
{
    char *path = pyab_path_join(dir, "summary.json"), *arms = pyab_path_join(dir, "arms");
    struct stat st;
    time_t newest = stat(path, &st) == 0 ? st.st_mtime : 0;
    DIR *a = opendir(arms), *r, *f;
    struct dirent *ea, *er, *ef;

    while (a && (ea = readdir(a)) != NULL) {
        char *armdir = ea->d_name[0] == '.' ? NULL : pyab_path_join(arms, ea->d_name);
        for (r = armdir ? opendir(armdir) : NULL; r && (er = readdir(r)) != NULL;) {
            char *repdir = er->d_name[0] == '.' ? NULL : pyab_path_join(armdir, er->d_name);
            for (f = repdir ? opendir(repdir) : NULL; f && (ef = readdir(f)) != NULL;) {
                char *file = pyab_path_join(repdir, ef->d_name);
                if (ef->d_name[0] != '.' && stat(file, &st) == 0 && st.st_mtime > newest)
                    newest = st.st_mtime;
                free(file);
            }
            if (f)
                closedir(f);
            free(repdir);
        }
        if (r)
            closedir(r);
        free(armdir);
    }
    if (a)
        closedir(a);
    free(arms);
    free(path);
    return newest;
}

/* Whether any process we may look at has a file under the folder `abs` open (a live run). */
static int held_open(const char *abs)
{
    DIR *proc = opendir("/proc");
    struct dirent *p;
    size_t n = strlen(abs);
    int found = 0;

    while (!found && proc && (p = readdir(proc)) != NULL) {
        if (p->d_name[0] < '0' || p->d_name[0] > '9')
            continue;
        char *fddir = xasprintf("/proc/%s/fd", p->d_name);
        DIR *fds = opendir(fddir);
        struct dirent *e;
        while (!found && fds && (e = readdir(fds)) != NULL) {
            char *link = pyab_path_join(fddir, e->d_name), target[PATH_MAX];
            ssize_t len = readlink(link, target, sizeof(target) - 1);
            if (len > (ssize_t)n && strncmp(target, abs, n) == 0 && target[n] == '/')
                found = 1;
            free(link);
        }
        if (fds)
            closedir(fds);
        free(fddir);
    }
    if (proc)
        closedir(proc);
    return found;
}

int pyab_compare_mark_cut_off(const char *dir, json_t *summary)
{
    const char *status = json_string_value(json_object_get(summary, "status"));
    char *abs;
    double quiet;
    int cut;

    if (status == NULL || strcmp(status, "running") != 0)
        return 0;
    abs = realpath(dir, NULL);
    quiet = difftime(time(NULL), newest_write(dir));
    cut = quiet >= PYAB_COMPARE_QUIET_S && !(abs && held_open(abs));
    free(abs);
    if (!cut)
        return 0;
    json_object_set_new(summary, "status", json_string("cut-off"));
    json_object_set_new(summary, "status_note",
                        json_sprintf("the run was cut off: summary.json still said \"running\", "
                                     "but no process has the folder open and nothing in it was "
                                     "written for %.0f s (pyab was killed?). The reps listed "
                                     "finished; one that was running left only its .part files.",
                                     quiet));
    return 1;
}
