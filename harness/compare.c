/*
 * compare: each arm against the control, the terminal table, and the
 * `pyab compare` verb. Works on a summary that analyze.c has filled in, so
 * a comparison always uses the same per-rep figures as the verdicts.
 *
 * The observations are the per-rep figures, never the samples (those are
 * autocorrelated within a rep). A difference is significant when its
 * interval excludes zero: Welch's t interval over the per-rep values, and
 * for slopes the wider of that and the two arms' pooled intervals combined,
 * which is all there is when an arm has one rep. The exact Mann–Whitney
 * p-value is reported beside it as the distribution-free check, with a
 * warning when the rep counts cannot reach p < ALPHA at all.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "cmds.h"
#include "stats.h"
#include "verdict.h"

#define ALPHA 0.05

/* What is compared, and where each rep entry of summary.json holds it. */
static const struct figure {
    const char *name, *path, *unit;
    int slope; /* index into the arm's "slopes", or -1 */
} figures[] = {
    {"rss_slope", "slopes.rss.bytes_per_request", "B/req", 0},
    {"pyheap_slope", "slopes.pyheap.bytes_per_request", "B/req", 1},
    {"native_slope", "slopes.native.bytes_per_request", "B/req", 2},
    {"native_free_slope", "slopes.native_free.bytes_per_request", "B/req", 3},
    {"peak_rss_bytes", "peak_rss_bytes", "B", -1},
    {"throughput_rps", "throughput_rps", "req/s", -1},
    {"latency_p99_ms", "latency_ms.p99", "ms", -1},
    {"gc_pause_p99_ms", "analysis.gc_pause_p99_ms", "ms", -1},
    {"gc_time_share", "analysis.gc_time_share", "", -1},
};
static const char *const slope_keys[] = {"rss", "pyheap", "native", "native_free"};

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
    json_t *ci = get_path(json_object_get(arm, "slopes"), slope_keys[slope]);
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

static json_t *compare_figure(json_t *ctl, json_t *arm, const struct figure *f, double conf)
{
    double a[256], b[256], ma, mb, diff, hw = INFINITY, p = NAN;
    size_t na = rep_values(ctl, f->path, a, 256), nb = rep_values(arm, f->path, b, 256);
    int significant;

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
    return json_pack("{so so so so so so sb s[II]}", "control_mean", jnum(ma), "arm_mean",
                     jnum(mb), "diff", jnum(diff), "ratio", jnum(ma != 0 ? mb / ma : NAN), "ci",
                     json_pack("[oo]", jnum(diff - hw), jnum(diff + hw)), "p", jnum(p),
                     "significant", significant, "reps", (json_int_t)na, (json_int_t)nb);
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
        for (size_t i = 0; i < PYAB_ARRAY_LEN(figures); i++)
            if ((c = compare_figure(ctl, arm, &figures[i], conf)) != NULL)
                json_object_set_new(figs, figures[i].name, c);
        json_array_append_new(out, json_pack("{ss ss s[II] so so}", "arm", name, "control",
                                             control, "reps", (json_int_t)ok_reps(ctl),
                                             (json_int_t)ok_reps(arm), "statement",
                                             statement(ok_reps(ctl), ok_reps(arm), conf),
                                             "figures", figs));
    }
    return out;
}

/* ---- the terminal tables ------------------------------------------------ */

#define MAX_COLS 8
#define CELL 128

/* Rows of text cells, printed with every column as wide as its widest cell. */
typedef struct text_table {
    size_t ncols, nrows, cap;
    char (*cells)[MAX_COLS][CELL];
    const char *under[256]; /* a line printed under row i, or NULL */
} text_table;

static char *cell(text_table *t, size_t row, size_t col)
{
    return t->cells[row][col];
}

static size_t add_row(text_table *t)
{
    if (t->nrows == t->cap)
        t->cells = xrealloc(t->cells, (t->cap = t->cap ? 2 * t->cap : 8) * sizeof(*t->cells));
    memset(t->cells[t->nrows], 0, sizeof(*t->cells));
    if (t->nrows < PYAB_ARRAY_LEN(t->under))
        t->under[t->nrows] = NULL;
    return t->nrows++;
}

/* Column 0 left-aligned, the rest left-aligned too when `left`, else right-aligned. */
static void print_table(FILE *f, text_table *t, const char *indent, int left)
{
    size_t w[MAX_COLS] = {0};

    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++)
            if (strlen(cell(t, r, c)) > w[c])
                w[c] = strlen(cell(t, r, c));
    for (size_t r = 0; r < t->nrows; r++) {
        fputs(indent, f);
        for (size_t c = 0; c < t->ncols; c++) {
            int width = (int)w[c];
            if (c + 1 == t->ncols && (c == 0 || left))
                width = 0; /* no trailing blanks */
            if (c == 0 || left)
                fprintf(f, "%-*s", width, cell(t, r, c));
            else
                fprintf(f, "%*s", width, cell(t, r, c));
            if (c + 1 < t->ncols)
                fputs("  ", f);
        }
        fputc('\n', f);
        if (r < PYAB_ARRAY_LEN(t->under) && t->under[r])
            fprintf(f, "%s", t->under[r]);
    }
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

/* A number short enough for a table cell: whole bytes when large, 3 digits when small. */
static void cell_number(char *buf, size_t len, double v)
{
    snprintf(buf, len, fabs(v) >= 100 && fabs(v) < 1e7 ? "%.0f" : "%.3g", v);
}

/*
 * A figure in its unit: bytes as MB / KB (binary, as the verdict reasons
 * say them) or whole bytes, B/request as in the verdict table, shares in
 * percent, the rest to 4 significant digits. sign: a leading + on positives;
 * bare: without the unit (inside an interval, when it cannot change).
 */
static void fmt_figure(char *buf, size_t len, double v, const char *unit, int sign, int bare)
{
    const char *plus = sign && v > 0 ? "+" : "";
    double a = fabs(v);

    if (!isfinite(v))
        snprintf(buf, len, "-");
    else if (strcmp(unit, "B") == 0)
        snprintf(buf, len, a >= PYAB_MIB ? "%s%.2f MB" : a >= 1024 ? "%s%.1f KB" : "%s%.0f B",
                 plus, a >= PYAB_MIB ? v / PYAB_MIB : a >= 1024 ? v / 1024 : v);
    else if (strcmp(unit, "B/req") == 0) {
        snprintf(buf, len, "%s", plus);
        cell_number(buf + strlen(buf), len - strlen(buf), v);
    } else if (unit[0] == '\0')
        snprintf(buf, len, "%s%.3g%%", plus, 100 * v);
    else
        snprintf(buf, len, a >= 1e4 ? "%s%.0f%s%s" : "%s%.4g%s%s", plus, v, bare ? "" : " ",
                 bare ? "" : unit);
}

/* "12.3 [-1.0, 25.6]", with "?" for an unbounded end. */
static void format_slope(char *buf, size_t len, json_t *slope)
{
    json_t *ci = json_object_get(slope, "ci");
    json_t *v = json_object_get(slope, "bytes_per_request");
    char lo[32] = "?", hi[32] = "?", mid[32];

    if (!json_is_number(v)) {
        snprintf(buf, len, "-");
        return;
    }
    if (json_is_number(json_array_get(ci, 0)))
        cell_number(lo, sizeof(lo), json_number_value(json_array_get(ci, 0)));
    if (json_is_number(json_array_get(ci, 1)))
        cell_number(hi, sizeof(hi), json_number_value(json_array_get(ci, 1)));
    cell_number(mid, sizeof(mid), json_number_value(v));
    snprintf(buf, len, "%s [%s, %s]", mid, lo, hi);
}

static void print_verdicts(FILE *f, json_t *summary)
{
    json_t *arms = json_object_get(summary, "arms"), *arm;
    const char *name, *control = json_string_value(json_object_get(summary, "control"));
    text_table t = {.ncols = 6};
    char *lines[256] = {0};
    size_t r;

    r = add_row(&t);
    snprintf(cell(&t, r, 0), CELL, "arm");
    snprintf(cell(&t, r, 1), CELL, "verdict");
    snprintf(cell(&t, r, 2), CELL, "attribution");
    for (int m = 0; m < 3; m++)
        snprintf(cell(&t, r, 3 + (size_t)m), CELL, "%s B/request [CI]", slope_keys[m]);
    json_object_foreach(arms, name, arm) {
        json_t *slopes = json_object_get(arm, "slopes"), *ev = json_object_get(arm, "evidence");
        json_t *why = json_array_get(json_object_get(ev, "reasons"), 0);
        json_t *next = json_object_get(ev, "next");
        const char *verdict = json_string_value(json_object_get(arm, "verdict"));
        const char *attr = json_string_value(json_object_get(arm, "attribution"));

        r = add_row(&t);
        snprintf(cell(&t, r, 0), CELL, "%s%s", name,
                 control && strcmp(name, control) == 0 ? " *" : "");
        snprintf(cell(&t, r, 1), CELL, "%s", verdict ? verdict : "-");
        snprintf(cell(&t, r, 2), CELL, "%s", attr ? attr : "-");
        for (int m = 0; m < 3; m++)
            format_slope(cell(&t, r, 3 + (size_t)m), CELL,
                         json_object_get(slopes, slope_keys[m]));
        if (r < PYAB_ARRAY_LEN(lines) && (json_is_string(why) || json_is_string(next))) {
            lines[r] = xasprintf("%s%s%s%s%s%s", json_is_string(why) ? "    " : "",
                                 json_is_string(why) ? json_string_value(why) : "",
                                 json_is_string(why) ? "\n" : "",
                                 json_is_string(next) ? "    needs: " : "",
                                 json_is_string(next) ? json_string_value(next) : "",
                                 json_is_string(next) ? "\n" : "");
            t.under[r] = lines[r];
        }
    }
    print_table(f, &t, "", 1);
    fprintf(f, "  (* control; slopes are the median of the reps' slopes, in bytes per request)\n");
    for (size_t i = 0; i < PYAB_ARRAY_LEN(lines); i++)
        free(lines[i]);
}

static void print_comparison(FILE *f, json_t *c)
{
    json_t *figs = json_object_get(c, "figures"), *fig;
    text_table t = {.ncols = 5};
    size_t r;

    fprintf(f, "\n%s vs %s (control)\n", json_string_value(json_object_get(c, "arm")),
            json_string_value(json_object_get(c, "control")));
    r = add_row(&t);
    snprintf(cell(&t, r, 0), CELL, "figure");
    snprintf(cell(&t, r, 1), CELL, "control");
    snprintf(cell(&t, r, 2), CELL, "arm");
    snprintf(cell(&t, r, 3), CELL, "diff [CI]");
    snprintf(cell(&t, r, 4), CELL, "p");
    for (size_t i = 0; i < PYAB_ARRAY_LEN(figures); i++) {
        const char *unit = figures[i].unit;
        char d[32], lo[32], hi[32];
        json_t *ci;
        if ((fig = json_object_get(figs, figures[i].name)) == NULL)
            continue;
        r = add_row(&t);
        ci = json_object_get(fig, "ci");
        snprintf(cell(&t, r, 0), CELL, "%s", figures[i].name);
        fmt_figure(cell(&t, r, 1), CELL, json_number_value(json_object_get(fig, "control_mean")),
                   unit, 0, 0);
        fmt_figure(cell(&t, r, 2), CELL, json_number_value(json_object_get(fig, "arm_mean")),
                   unit, 0, 0);
        fmt_figure(d, sizeof(d), json_number_value(json_object_get(fig, "diff")), unit, 1, 0);
        if (json_is_number(json_array_get(ci, 0)) && json_is_number(json_array_get(ci, 1))) {
            fmt_figure(lo, sizeof(lo), json_number_value(json_array_get(ci, 0)), unit, 0, 1);
            fmt_figure(hi, sizeof(hi), json_number_value(json_array_get(ci, 1)), unit, 0, 1);
            snprintf(cell(&t, r, 3), CELL, "%s [%s, %s]%s", d, lo, hi,
                     json_is_true(json_object_get(fig, "significant")) ? " *" : "  ");
        } else {
            snprintf(cell(&t, r, 3), CELL, "%s (untested)  ", d);
        }
        if (json_is_number(json_object_get(fig, "p")))
            snprintf(cell(&t, r, 4), CELL, "%.3g", json_number_value(json_object_get(fig, "p")));
        else
            snprintf(cell(&t, r, 4), CELL, "-");
    }
    print_table(f, &t, "  ", 0);
    fprintf(f, "  (* significant; means over the ok reps) %s\n",
            json_string_value(json_object_get(c, "statement")));
}

void pyab_analyze_print(FILE *f, json_t *summary)
{
    json_t *cmps = json_object_get(summary, "comparisons"), *c;
    size_t i;

    print_verdicts(f, summary);
    json_array_foreach(cmps, i, c)
        print_comparison(f, c);
}

int pyab_cmd_compare(int argc, char **argv)
{
    pyab_error err = {0};
    json_t *summary;
    char *text, *path;
    int rc;

    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: pyab compare RESULTS_DIR\n");
        return PYAB_EXIT_USAGE;
    }
    summary = pyab_analyze_summary(argv[1], &err);
    if (summary == NULL) {
        fprintf(stderr, "pyab: %s\n", err.text);
        return err.exit_code ? err.exit_code : PYAB_EXIT_INTERNAL;
    }
    text = json_dumps(summary, JSON_INDENT(2));
    path = pyab_path_join(argv[1], "summary.json");
    rc = text ? pyab_file_write_atomic(path, text, strlen(text)) : -ENOMEM;
    if (rc == 0)
        pyab_analyze_print(stdout, summary);
    else
        fprintf(stderr, "pyab: %s: cannot write: %s\n", path, strerror(-rc));
    free(path);
    free(text);
    json_decref(summary);
    return rc == 0 ? PYAB_EXIT_OK : PYAB_EXIT_INTERNAL;
}
