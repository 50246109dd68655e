#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compare.h"
#include "curves.h"
#include "report_assets.h" /* report_*_js, report_css: generated from report_*.js, report.css */

extern char **environ;

/* Buckets per series and median grid points: enough for a wide screen, small enough to open fast. */
enum { DISPLAY_BUCKETS = 2000, MEDIAN_GRID = 800, CHROMIUM_TIMEOUT_S = 90 };

static const char *const chartjs_paths[] = {
    "/usr/share/javascript/chart.js/chart.min.js",
    "/usr/share/javascript/chart.js/chart.js",
};

/* Reads DIR/NAME as a JSON object into *out (new reference), or NULL when absent and optional. */
static int load_json(const char *dir, const char *name, int required, json_t **out,
                     pyab_error *err)
{
    char *path = pyab_path_join(dir, name);
    json_error_t jerr;
    int rc = 0;

    *out = json_load_file(path, 0, &jerr);
    if (*out == NULL) {
        if (access(path, F_OK) < 0 && errno == ENOENT)
            rc = required ? pyab_error_set(err, "%s: not found (is %s a results folder?)", path,
                                           dir)
                          : 0;
        else
            rc = pyab_error_set(err, "%s:%d:%d: %s", path, jerr.line, pyab_json_column(&jerr),
                                jerr.text);
    } else if (!json_is_object(*out)) {
        rc = pyab_error_set(err, "%s: expected a JSON object", path);
        json_decref(*out);
        *out = NULL;
    }
    free(path);
    return rc;
}

static int cmp_natural(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t lx = strlen(x), ly = strlen(y);

    /* rep-10 after rep-9: shorter names first among names of one prefix. */
    return lx != ly ? (lx > ly) - (lx < ly) : strcmp(x, y);
}

/* Names of the subfolders of path starting with prefix, sorted; a new NULL-terminated array. */
static char **list_dirs(const char *path, const char *prefix)
{
    DIR *d = opendir(path);
    char **names = xcalloc(1, sizeof(char *));
    size_t n = 0;
    struct dirent *e;

    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char *full = pyab_path_join(path, e->d_name);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            names = xrealloc(names, (n + 2) * sizeof(char *));
            names[n++] = xstrdup(e->d_name);
            names[n] = NULL;
        }
        free(full);
    }
    if (d)
        closedir(d);
    qsort(names, n, sizeof(char *), cmp_natural);
    return names;
}

static void free_list(char **names)
{
    for (char **p = names; p && *p; p++)
        free(*p);
    free(names);
}

static int listed(json_t *reps, json_int_t k)
{
    json_t *rep;
    size_t i;

    json_array_foreach(reps, i, rep)
        if (json_integer_value(json_object_get(rep, "rep")) == k)
            return 1;
    return 0;
}

/*
 * The reps of one arm: those summary.json lists, then any rep folder it does
 * not (the rep that was running when pyab stopped or was killed), marked
 * "unlisted". A new array.
 */
static json_t *arm_reps(json_t *arm, const char *armdir)
{
    json_t *reps = json_object_get(arm, "reps");
    json_t *out = json_is_array(reps) ? json_deep_copy(reps) : json_array();
    char **names = list_dirs(armdir, "rep-");

    for (char **p = names; *p; p++) {
        long k;
        if (pyab_parse_long(*p + 4, &k) == 0 && !listed(out, k))
            json_array_append_new(out, json_pack("{s:I,s:b}", "rep", (json_int_t)k, "unlisted", 1));
    }
    free_list(names);
    return out;
}

/*
 * Appends one rep's object to b. A rep whose files cannot be read (garbage
 * in samples.csv or events.jsonl, no samples.csv for an ok rep) is drawn as
 * nothing and listed with the reason ("skipped"), as `pyab compare` skips
 * it: the other reps still make a report. Only summary.json stops it.
 */
static void add_rep(const char *armdir, json_t *rep, pyab_curves *c, pyab_buf *b)
{
    json_int_t k = json_integer_value(json_object_get(rep, "rep"));
    const char *outcome = json_string_value(json_object_get(rep, "outcome"));
    char *repdir = xasprintf("%s/rep-%lld", armdir, (long long)k);
    pyab_error err = {0};
    int rc = pyab_curves_load(c, repdir, &err);

    pyab_buf_addf(b, "{\"rep\":%lld,\"outcome\":", (long long)k);
    if (outcome)
        pyab_buf_add_json_string(b, outcome);
    else
        pyab_buf_adds(b, "null");
    if (json_is_true(json_object_get(rep, "unlisted")))
        pyab_buf_adds(b, ",\"unlisted\":true");
    if (rc == -ENOENT && outcome && strcmp(outcome, "ok") != 0) {
        /* A rep that failed before sampling: list it, draw nothing. */
        pyab_buf_adds(b, ",\"missing\":\"no samples.csv\"}");
    } else if (rc < 0) {
        pyab_curves_finish(c);
        pyab_buf_adds(b, ",\"skipped\":");
        pyab_buf_add_json_string(b, err.text);
        pyab_buf_adds(b, "}");
    } else {
        pyab_buf_adds(b, ",");
        pyab_curves_add_json(c, DISPLAY_BUCKETS, b);
        pyab_buf_adds(b, "}");
    }
    free(repdir);
}

static void add_arm(const char *dir, const char *name, json_t *arm, pyab_buf *b)
{
    char *armdir = xasprintf("%s/arms/%s", dir, name);
    json_t *reps = arm_reps(arm, armdir);
    size_t n = json_array_size(reps), i;
    pyab_curves *curves = xcalloc(n ? n : 1, sizeof(*curves));

    pyab_buf_adds(b, "{\"name\":");
    pyab_buf_add_json_string(b, name);
    pyab_buf_adds(b, ",\"reps\":[");
    for (i = 0; i < n; i++) {
        pyab_curves_init(&curves[i]);
        pyab_buf_adds(b, i ? "," : "");
        add_rep(armdir, json_array_get(reps, i), &curves[i], b);
    }
    pyab_buf_adds(b, "],\"median\":");
    pyab_curves_add_median_json(curves, n, MEDIAN_GRID, b);
    pyab_buf_adds(b, ",\"pause_hist\":");
    pyab_curves_add_pause_histogram_json(curves, n, b);
    pyab_buf_adds(b, "}");
    for (size_t j = 0; j < n; j++)
        pyab_curves_finish(&curves[j]);
    free(curves);
    json_decref(reps);
    free(armdir);
}

/* The page's series data: {"arms": [...]}, arms in summary.json's order. */
static void build_series(const char *dir, json_t *summary, pyab_buf *b)
{
    json_t *arms = json_object_get(summary, "arms"), *arm;
    const char *name;
    int first = 1;

    pyab_buf_adds(b, "{\"arms\":[");
    if (json_is_object(arms) && json_object_size(arms) > 0) {
        json_object_foreach(arms, name, arm) {
            pyab_buf_adds(b, first ? "" : ",");
            first = 0;
            add_arm(dir, name, arm, b);
        }
    } else {
        char *armsdir = pyab_path_join(dir, "arms");
        char **names = list_dirs(armsdir, "");
        for (char **p = names; *p; p++) {
            pyab_buf_adds(b, p == names ? "" : ",");
            add_arm(dir, *p, NULL, b);
        }
        free_list(names);
        free(armsdir);
    }
    pyab_buf_adds(b, "]}");
}

/*
 * JSON text made safe inside <script>: '<', '>' and '&' occur only inside
 * strings, where \u003c and friends mean the same characters, so no
 * "</script>" or "<!--" from the data can end or bend the block.
 */
static void add_script_json(pyab_buf *b, const char *id, const char *json)
{
    pyab_buf_addf(b, "<script type=\"application/json\" id=\"%s\">", id);
    for (const char *p = json; *p; p++) {
        if (*p == '<')
            pyab_buf_adds(b, "\\u003c");
        else if (*p == '>')
            pyab_buf_adds(b, "\\u003e");
        else if (*p == '&')
            pyab_buf_adds(b, "\\u0026");
        else
            pyab_buf_add(b, p, 1);
    }
    pyab_buf_adds(b, "</script>\n");
}

static void add_script_json_value(pyab_buf *b, const char *id, json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;

    add_script_json(b, id, text ? text : "null");
    free(text);
}

/* Inline code: "</" becomes "<\/", the same in any JS string or regex, so it cannot close the tag. */
static void add_escaped(pyab_buf *b, const char *code, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (code[i] == '<' && i + 1 < len && code[i + 1] == '/')
            pyab_buf_adds(b, "<\\/");
        else
            pyab_buf_add(b, &code[i], 1);
        if (code[i] == '<' && i + 1 < len && code[i + 1] == '/')
            i++;
    }
}

static void add_inline(pyab_buf *b, const char *tag, const char *code, size_t len)
{
    pyab_buf_addf(b, "<%s>", tag);
    add_escaped(b, code, len);
    pyab_buf_addf(b, "</%s>\n", tag);
}

/*
 * The page script: report_base.js, report_charts.js and report_page.js
 * concatenated in that order inside one strict-mode function, as one
 * <script>. One closure rather than a shared namespace object (pyab.el,
 * pyab.fmtNum, pyab.state.xMode ...): the files call each other's helpers
 * by plain name, the page state (charts, xMode, drawn) stays ordinary
 * variables that the charts and the toolbar both change, and nothing but
 * Chart.js lands on window. Order matters for the top-level consts (the
 * data blocks are read in report_base.js); main() runs at the end of
 * report_page.js. The newline after each file keeps a '<' ending one file
 * and a '/' starting the next from slipping past add_escaped.
 */
static void add_page_script(pyab_buf *b)
{
    static const struct {
        const unsigned char *code;
        size_t len;
    } files[] = {
        {report_base_js, sizeof(report_base_js) - 1},
        {report_charts_js, sizeof(report_charts_js) - 1},
        {report_page_js, sizeof(report_page_js) - 1},
    };

    pyab_buf_adds(b, "<script>(function () {\n'use strict';\n");
    for (size_t i = 0; i < PYAB_ARRAY_LEN(files); i++) {
        add_escaped(b, (const char *)files[i].code, files[i].len);
        pyab_buf_adds(b, "\n");
    }
    pyab_buf_adds(b, "})();</script>\n");
}

/* Chart.js from PYAB_CHARTJS when set (tests), else where Debian's libjs-chart.js puts it. */
static int load_chartjs(char **js, size_t *len, pyab_error *err)
{
    const char *env = getenv("PYAB_CHARTJS");
    const char *const *paths = chartjs_paths;
    size_t n = PYAB_ARRAY_LEN(chartjs_paths);

    if (env && *env) {
        paths = &env;
        n = 1;
    }
    for (size_t i = 0; i < n; i++)
        if (pyab_file_read(paths[i], js, len) == 0)
            return 0;
    return pyab_error_internal(err,
                               "Chart.js not found at %s; the report inlines it from Debian's "
                               "libjs-chart.js: apt-get install libjs-chart.js",
                               paths[0]);
}

static void add_page(pyab_buf *b, const char *dir, json_t *summary, json_t *manifest,
                     const char *series, const char *chartjs, size_t chartjs_len)
{
    char stamp[64];
    time_t now = time(NULL);
    json_t *meta;

    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    meta = json_pack("{s:s,s:s,s:i,s:b}", "dir", dir, "generated_utc", stamp, "buckets",
                     DISPLAY_BUCKETS, "has_manifest", manifest != NULL);
    pyab_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
                     "'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                     "img-src data:\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>pyab report</title>\n");
    add_inline(b, "style", (const char *)report_css, sizeof(report_css) - 1);
    pyab_buf_adds(b, "</head>\n<body>\n<noscript>This report draws its charts and tables with "
                     "JavaScript; summary.json beside it holds the same figures.</noscript>\n"
                     "<main id=\"app\"></main>\n");
    add_script_json_value(b, "pyab-meta", meta);
    add_script_json_value(b, "pyab-summary", summary);
    add_script_json_value(b, "pyab-manifest", manifest);
    add_script_json(b, "pyab-series", series);
    add_inline(b, "script", chartjs, chartjs_len);
    add_page_script(b);
    pyab_buf_adds(b, "</body>\n</html>\n");
    json_decref(meta);
}

static int write_html(const char *dir, pyab_error *err)
{
    json_t *summary = NULL, *manifest = NULL;
    char *chartjs = NULL, *path = NULL;
    size_t chartjs_len = 0;
    pyab_buf series, page;
    int rc;

    pyab_buf_init(&series);
    pyab_buf_init(&page);
    if ((rc = load_json(dir, "summary.json", 1, &summary, err)) < 0 ||
        (rc = load_json(dir, "manifest.json", 0, &manifest, err)) < 0 ||
        (rc = load_chartjs(&chartjs, &chartjs_len, err)) < 0)
        goto out;
    /* The page says "cut-off" for a killed run; summary.json is `pyab compare`'s to rewrite. */
    pyab_compare_mark_cut_off(dir, summary);
    build_series(dir, summary, &series);
    add_page(&page, dir, summary, manifest, series.data, chartjs, chartjs_len);
    path = pyab_path_join(dir, "report.html");
    if ((rc = pyab_file_write_atomic(path, page.data, page.len)) < 0)
        pyab_error_internal(err, "%s: %s", path, strerror(-rc));
out:
    free(path);
    free(chartjs);
    json_decref(summary);
    json_decref(manifest);
    pyab_buf_finish(&series);
    pyab_buf_finish(&page);
    return rc;
}

/* Chromium: PYAB_CHROMIUM, else the first of the usual names on PATH; a new string or NULL. */
static char *find_chromium(void)
{
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome"};
    const char *env = getenv("PYAB_CHROMIUM"), *path = getenv("PATH");

    if (env && *env)
        return access(env, X_OK) == 0 ? xstrdup(env) : NULL;
    for (size_t i = 0; i < PYAB_ARRAY_LEN(names); i++) {
        char *dirs = xstrdup(path ? path : "/usr/bin:/bin"), *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            char *full = pyab_path_join(d, names[i]);
            if (access(full, X_OK) == 0) {
                free(dirs);
                return full;
            }
            free(full);
        }
        free(dirs);
    }
    return NULL;
}

/* file:// URL of an absolute path, percent-encoding all but unreserved bytes and '/'. */
static char *file_url(const char *path, const char *fragment)
{
    pyab_buf b;

    pyab_buf_init(&b);
    pyab_buf_adds(&b, "file://");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p))
            pyab_buf_add(&b, p, 1);
        else
            pyab_buf_addf(&b, "%%%02X", *p);
    }
    pyab_buf_adds(&b, fragment);
    return b.data;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

/* Runs argv with output to log; 0 when it exits 0 within the timeout. */
static int run_waiting(const char **argv, const char *log, pyab_error *err)
{
    posix_spawn_file_actions_t fa;
    int status = 0, rc;
    pid_t pid;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return pyab_error_internal(err, "%s: %s", argv[0], strerror(rc));
    for (int waited_ms = 0;; waited_ms += 50) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (waited_ms >= CHROMIUM_TIMEOUT_S * 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return pyab_error_internal(err, "%s took over %d s; killed (its output: %s)",
                                       argv[0], CHROMIUM_TIMEOUT_S, log);
        }
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return pyab_error_internal(err, "%s failed (status %d)", argv[0], status);
    return 0;
}

static int write_png(const char *dir, pyab_error *err)
{
    char *chromium = find_chromium(), *abs = pyab_path_absolute(dir);
    char tmpl[] = "/tmp/pyab-report-XXXXXX", *tmp;
    char *html = NULL, *url = NULL, *shot = NULL, *log = NULL, *profile = NULL, *out = NULL;
    char *png = NULL;
    size_t len;
    int rc;

    if (chromium == NULL) {
        rc = pyab_error_internal(err, "--png draws the page with headless Chromium, which was "
                                      "not found: apt-get install chromium (or set "
                                      "PYAB_CHROMIUM)");
        goto out;
    }
    if ((tmp = mkdtemp(tmpl)) == NULL) {
        rc = pyab_error_internal(err, "mkdtemp %s: %s", tmpl, strerror(errno));
        goto out;
    }
    html = pyab_path_join(abs, "report.html");
    url = file_url(html, "#png");
    shot = pyab_path_join(tmp, "shot.png");
    log = pyab_path_join(tmp, "chromium.log");
    profile = xasprintf("--user-data-dir=%s/profile", tmp);
    out = xasprintf("--screenshot=%s", shot);
    const char *argv[] = {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                    "--window-size=1600,1000", profile, out, url, NULL};
    rc = run_waiting(argv, log, err);
    if (rc == 0 && (rc = pyab_file_read(shot, &png, &len)) < 0)
        pyab_error_internal(err, "Chromium wrote no screenshot (%s)", strerror(-rc));
    if (rc == 0) {
        char *dest = pyab_path_join(dir, "report.png");
        if ((rc = pyab_file_write_atomic(dest, png, len)) < 0)
            pyab_error_internal(err, "%s: %s", dest, strerror(-rc));
        free(dest);
    }
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
out:
    free(png);
    free(out);
    free(profile);
    free(log);
    free(shot);
    free(url);
    free(html);
    free(abs);
    free(chromium);
    return rc;
}

int pyab_report_write(const char *dir, int png, pyab_error *err)
{
    int rc = write_html(dir, err);

    if (rc == 0 && png)
        rc = write_png(dir, err);
    return rc;
}
