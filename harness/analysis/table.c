/*
 * table: the terminal tables of an analysed summary: the verdict table (one
 * row per arm and metric) and one comparison table per arm against the
 * control, columns as wide as their widest cell.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "wherearm.h"
#include "wherenative.h"
#include "table.h"
#include "util.h"
#include "verdict.h" /* PYAB_MIB */

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

/* "native-heap (98%)", or both sides with their shares: where the growth went. */
static void format_attribution(char *buf, size_t len, const char *attr, json_t *shares)
{
    double py = json_number_value(json_object_get(shares, "python-heap"));
    double native = json_number_value(json_object_get(shares, "native-heap"));

    if (attr == NULL) {
        snprintf(buf, len, "-");
    } else if (shares == NULL || strcmp(attr, "none") == 0) {
        snprintf(buf, len, "%s", attr);
    } else if (strcmp(attr, "python-heap+native-heap") == 0) {
        snprintf(buf, len, "python-heap %.0f%% + native-heap %.0f%%", 100 * py, 100 * native);
    } else if (strcmp(attr, "python-heap") == 0 || strcmp(attr, "native-heap") == 0) {
        snprintf(buf, len, "%s (%.0f%%)", attr, 100 * (attr[0] == 'p' ? py : native));
    } else {
        snprintf(buf, len, "%s", attr);
    }
}

/* The first line of a reason, at most max bytes: a faulthandler dump is in stderr.log. */
static void add_first_line(pyab_buf *b, const char *text, size_t max)
{
    size_t n = strcspn(text, "\n");

    pyab_buf_add(b, text, n < max ? n : max);
    if (n > max || text[n] == '\n')
        pyab_buf_adds(b, " ...");
}

/*
 * One line per rep that did not end ok, or that the analysis left out,
 * under its arm's row: "rep 2 crashed: killed by signal 11 (SIGSEGV) at
 * ...". An arm whose reps all failed reads "inconclusive"; this says why.
 * A rep killed at limits.rss_mb is a finding about memory and says so.
 */
/* Open-loop requests dropped (later than max_in_flight allows): the load
 * the verdict saw was lighter than the trace's. */
static void add_dropped_line(pyab_buf *b, json_t *reps)
{
    json_t *rep;
    size_t i, with = 0;
    double dropped = 0, total = 0;

    json_array_foreach(reps, i, rep) {
        json_t *d = json_object_get(rep, "dropped");
        if (!json_is_integer(d))
            continue;
        dropped += (double)json_integer_value(d);
        total += (double)json_integer_value(d) +
                 (double)json_integer_value(json_object_get(rep, "requests"));
        with += json_integer_value(d) > 0;
    }
    if (dropped > 0)
        pyab_buf_addf(b, "    %.0f of %.0f requests dropped in %zu rep%s: the service could not keep "
                      "up with the trace's rate (lower load.speed, or give it more capacity)\n",
                      dropped, total, with, with == 1 ? "" : "s");
}

static void add_rep_lines(pyab_buf *b, json_t *reps)
{
    json_t *rep;
    size_t i;

    json_array_foreach(reps, i, rep) {
        const char *outcome = json_string_value(json_object_get(rep, "outcome"));
        const char *reason = json_string_value(json_object_get(rep, "reason"));
        const char *skipped = json_string_value(json_object_get(rep, "analysis_skipped"));
        long long k = (long long)json_integer_value(json_object_get(rep, "rep"));

        if (outcome && strcmp(outcome, "ok") == 0) {
            if (skipped) {
                pyab_buf_addf(b, "    rep %lld left out of the analysis: ", k);
                add_first_line(b, skipped, 200);
                pyab_buf_adds(b, "\n");
            }
            continue;
        }
        pyab_buf_addf(b, "    rep %lld %s", k, outcome ? outcome : "(no outcome)");
        if (reason) {
            pyab_buf_adds(b, ": ");
            add_first_line(b, reason, 200);
        }
        if (outcome && strcmp(outcome, "over-limit") == 0)
            pyab_buf_adds(b, " (a finding about memory: the rep grew past its limit)");
        pyab_buf_adds(b, "\n");
    }
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
        snprintf(cell(&t, r, 3 + (size_t)m), CELL, "%s B/request [CI]", pyab_compare_slope_keys[m]);
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
        format_attribution(cell(&t, r, 2), CELL, attr, json_object_get(arm, "attribution_shares"));
        for (int m = 0; m < 3; m++)
            format_slope(cell(&t, r, 3 + (size_t)m), CELL,
                         json_object_get(slopes, pyab_compare_slope_keys[m]));
        if (r < PYAB_ARRAY_LEN(lines)) {
            pyab_buf b;
            pyab_buf_init(&b);
            if (json_is_string(why))
                pyab_buf_addf(&b, "    %s\n", json_string_value(why));
            if (json_is_string(next))
                pyab_buf_addf(&b, "    needs: %s\n", json_string_value(next));
            pyab_wherearm_text(&b, arm);
            pyab_wherenative_text(&b, arm);
            add_dropped_line(&b, json_object_get(arm, "reps"));
            add_rep_lines(&b, json_object_get(arm, "reps"));
            lines[r] = b.len ? b.data : NULL;
            if (!b.len)
                pyab_buf_finish(&b);
            t.under[r] = lines[r];
        }
    }
    print_table(f, &t, "", 1);
    fprintf(f, "  (* control; slopes are the median of the reps' slopes, in bytes per request)\n");
    for (size_t i = 0; i < PYAB_ARRAY_LEN(lines); i++)
        free(lines[i]);
}

/* What a comparison row says: significant, negligible (under the minimum effect), or neither. */
static const char *effect_word(json_t *fig, int tested)
{
    if (json_is_true(json_object_get(fig, "negligible")))
        return "negligible";
    if (json_is_true(json_object_get(fig, "significant")))
        return "significant";
    return tested ? "-" : "untested";
}

/* "diff [lo, hi]", or "diff (untested)" without an interval. */
static void format_diff(char *buf, size_t len, json_t *fig, const char *unit, int *tested)
{
    json_t *ci = json_object_get(fig, "ci");
    char d[32], lo[32], hi[32];

    fmt_figure(d, sizeof(d), json_number_value(json_object_get(fig, "diff")), unit, 1, 0);
    *tested = json_is_number(json_array_get(ci, 0)) && json_is_number(json_array_get(ci, 1));
    if (!*tested) {
        snprintf(buf, len, "%s (untested)", d);
        return;
    }
    fmt_figure(lo, sizeof(lo), json_number_value(json_array_get(ci, 0)), unit, 0, 1);
    fmt_figure(hi, sizeof(hi), json_number_value(json_array_get(ci, 1)), unit, 0, 1);
    snprintf(buf, len, "%s [%s, %s]", d, lo, hi);
}

static void print_comparison(FILE *f, json_t *c)
{
    static const char *const heads[] = {"figure", "control", "arm", "diff [CI]", "p",
                                        "min effect", "effect"};
    json_t *figs = json_object_get(c, "figures"), *fig;
    text_table t = {.ncols = PYAB_ARRAY_LEN(heads)};
    char pooled[256];
    size_t r;

    fprintf(f, "\n%s vs %s (control)\n", json_string_value(json_object_get(c, "arm")),
            json_string_value(json_object_get(c, "control")));
    if (json_is_string(json_object_get(c, "interpreter_note")))
        fprintf(f, "  note: %s\n", json_string_value(json_object_get(c, "interpreter_note")));
    r = add_row(&t);
    for (size_t k = 0; k < PYAB_ARRAY_LEN(heads); k++)
        snprintf(cell(&t, r, k), CELL, "%s", heads[k]);
    for (size_t i = 0; i < pyab_compare_nfigures; i++) {
        const char *unit = pyab_compare_figures[i].unit;
        json_t *p, *min;
        int tested;
        if ((fig = json_object_get(figs, pyab_compare_figures[i].name)) == NULL)
            continue;
        r = add_row(&t);
        /* The arm's own p99 is one merged histogram; these columns are means of the reps' p99s. */
        snprintf(cell(&t, r, 0), CELL, "%s%s", pyab_compare_figures[i].name,
                 pyab_compare_figures[i].arm_path ? " (mean of reps)" : "");
        json_t *a = json_object_get(fig, "control_pooled"), *b = json_object_get(fig, "arm_pooled");
        if (pyab_compare_figures[i].arm_path && (a || b) && r < PYAB_ARRAY_LEN(t.under)) {
            char ca[32] = "-", cb[32] = "-";
            /* "%.3f", as the run table prints the same figure. */
            if (json_is_number(a))
                snprintf(ca, sizeof(ca), "%.3f %s", json_number_value(a), unit);
            if (json_is_number(b))
                snprintf(cb, sizeof(cb), "%.3f %s", json_number_value(b), unit);
            snprintf(pooled, sizeof(pooled), "    arm p99 (all ok reps' requests in one histogram, "
                     "as in the run table): control %s, arm %s\n", ca, cb);
            t.under[r] = pooled;
        }
        fmt_figure(cell(&t, r, 1), CELL, json_number_value(json_object_get(fig, "control_mean")),
                   unit, 0, 0);
        fmt_figure(cell(&t, r, 2), CELL, json_number_value(json_object_get(fig, "arm_mean")),
                   unit, 0, 0);
        format_diff(cell(&t, r, 3), CELL, fig, unit, &tested);
        p = json_object_get(fig, "p");
        if (json_is_number(p))
            snprintf(cell(&t, r, 4), CELL, "%.3g", json_number_value(p));
        else
            snprintf(cell(&t, r, 4), CELL, "-");
        /* Folders analysed before the minimum effect existed have none. */
        min = json_object_get(fig, "min_effect");
        if (json_is_number(min))
            fmt_figure(cell(&t, r, 5), CELL, json_number_value(min), unit, 0, 0);
        else
            snprintf(cell(&t, r, 5), CELL, "-");
        snprintf(cell(&t, r, 6), CELL, "%s", effect_word(fig, tested));
    }
    print_table(f, &t, "  ", 0);
    pyab_buf sites;
    pyab_buf_init(&sites);
    pyab_wherearm_diff_text(&sites, json_object_get(c, "where"));
    if (sites.len)
        fputs(sites.data, f);
    pyab_buf_finish(&sites);
    fprintf(f, "  (means over the ok reps; significant: the interval excludes zero, the rank test "
            "agrees and the difference reaches the minimum effect; negligible: under the "
            "minimum effect, whatever p) %s\n",
            json_string_value(json_object_get(c, "statement")));
}

/* When the arms run different interpreters: which, side by side, and the note. */
static void print_interpreters(FILE *f, json_t *summary)
{
    json_t *all = json_object_get(summary, "interpreters"), *it, *th;
    const char *note = json_string_value(json_object_get(summary, "interpreter_note"));
    const char *arm;

    if (note == NULL)
        return;
    fprintf(f, "%-15s %-8s %-8s %-16s %s\n", "arm", "python", "build", "GC thresholds", "glibc");
    json_object_foreach(all, arm, it) {
        char t[64] = "?";
        th = json_object_get(it, "gc_threshold_default");
        if (json_array_size(th) == 3)
            snprintf(t, sizeof(t), "%lld/%lld/%lld",
                     (long long)json_integer_value(json_array_get(th, 0)),
                     (long long)json_integer_value(json_array_get(th, 1)),
                     (long long)json_integer_value(json_array_get(th, 2)));
        fprintf(f, "%-15s %-8s %-8s %-16s %s\n", arm,
                json_string_value(json_object_get(it, "python_short")) ?: "?",
                json_string_value(json_object_get(it, "python_build")) ?: "?", t,
                json_string_value(json_object_get(it, "glibc")) ?: "?");
    }
    fprintf(f, "note: %s\n\n", note);
}

void pyab_table_print(FILE *f, json_t *summary)
{
    json_t *cmps = json_object_get(summary, "comparisons"), *c;
    size_t i;

    if (json_is_string(json_object_get(summary, "status_note")))
        fprintf(f, "%s\n\n", json_string_value(json_object_get(summary, "status_note")));
    print_interpreters(f, summary);
    print_verdicts(f, summary);
    json_array_foreach(cmps, i, c)
        print_comparison(f, c);
}

