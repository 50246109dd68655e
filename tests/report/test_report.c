/*
 * test_report: the report's contract in C. A bad summary.json fails with
 * the file (and line) named and exit code 2, while a rep whose files cannot
 * be read is listed with the reason and the rest drawn; a killed run's
 * .part files are read to their last whole line; a missing Chart.js is exit 3
 * naming the Debian package; data cannot close a <script> block; and the
 * downsampling keeps a one-sample spike and the requested point count.
 * The page itself is tested in a browser by browser_test.py.
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit/check.h"
#include "curves.h"
#include "report.h"

static char root[] = "/tmp/pyab-test-report-XXXXXX";

static const char header[] =
    "t_s,requests,rss_bytes,pyheap_bytes,pymalloc_arena_bytes,native_heap_bytes,"
    "native_free_bytes,gc_count0,gc_count1,gc_count2,gc_collections,gc_pause_s,errors,"
    "latency_p50_ms,latency_p99_ms,phase\n";

static const char summary[] =
    "{\"scenario\": \"</script><script>window.bad=1</script>\", \"status\": \"complete\","
    " \"arms\": {\"a\": {\"reps\": [{\"rep\": 1, \"outcome\": \"ok\"}]}}}";

static void put(const char *rel, const char *text)
{
    char *path = pyab_path_join(root, rel), *dir = pyab_path_dirname(path);
    CHECK(pyab_mkdirs(dir) == 0);
    CHECK(pyab_file_write_atomic(path, text, strlen(text)) == 0);
    free(dir);
    free(path);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void clear(void)
{
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(root, 0700);
}

static char *rows(int n, int spike_at, int cut_last)
{
    pyab_buf b;

    pyab_buf_init(&b);
    pyab_buf_adds(&b, header);
    for (int i = 0; i < n; i++)
        pyab_buf_addf(&b, "%.2f,%d,%d,100,80,300,20,0,0,0,0,0.0,0,1.5,%s,%s\n", i * 0.01, i * 2,
                      i == spike_at ? 999999 : 1000 + i % 7, i ? "9.5" : "",
                      i == 10 ? "warmup_end" : i < 10 ? "warmup" : "run");
    pyab_buf_adds(&b, "7.00,40,900,90,70,250,30,0,0,0,0,0.0,0,,,quiesce\n");
    if (cut_last)
        pyab_buf_adds(&b, "7.01,4");
    return b.data;
}

static int write_report(pyab_error *err)
{
    memset(err, 0, sizeof(*err));
    return pyab_report_write(root, 0, err);
}

/* report.html holds text (the JSON blocks as written, '<' escaped). */
#define CHECK_HTML(text)                                                       \
    do {                                                                       \
        char *html_ = NULL, *path_ = pyab_path_join(root, "report.html");      \
        CHECK(pyab_file_read(path_, &html_, NULL) == 0);                       \
        CHECK_CONTAINS(html_ ? html_ : "", text);                              \
        free(html_);                                                           \
        free(path_);                                                           \
    } while (0)

static void test_bad_folders(void)
{
    pyab_error err;
    char *csv;

    clear();
    CHECK(write_report(&err) < 0);
    CHECK(err.exit_code == PYAB_EXIT_USAGE);
    CHECK_CONTAINS(err.text, "summary.json: not found");

    put("summary.json", "{\n  \"arms\": [\n");
    CHECK(write_report(&err) < 0);
    CHECK(err.exit_code == PYAB_EXIT_USAGE);
    CHECK_CONTAINS(err.text, "summary.json:3:");

    /* Unreadable reps are drawn as nothing and listed with the reason, as compare skips them. */
    put("summary.json", summary);
    CHECK(write_report(&err) == 0);
    CHECK_HTML("\"skipped\":\"");
    CHECK_HTML("arms/a/rep-1/samples.csv: No such file");

    csv = rows(5, -1, 0);
    memcpy(strstr(csv, "\n0.02,") + 6, "x", 1); /* line 4 gets a bad requests field */
    put("arms/a/rep-1/samples.csv", csv);
    free(csv);
    CHECK(write_report(&err) == 0);
    CHECK_HTML("samples.csv:4: requests is");

    put("arms/a/rep-1/samples.csv", "t_s,requests\n0,0\n");
    CHECK(write_report(&err) == 0);
    CHECK_HTML("samples.csv:1: header has no column \\\"rss_bytes\\\"");

    put("arms/a/rep-1/samples.csv", header);
    put("arms/a/rep-1/events.jsonl", "{\"gen\": 0, \"t_s\": 1, \"duration_s\": 0.001}\n[]\n");
    CHECK(write_report(&err) == 0);
    CHECK_HTML("events.jsonl:2:");
}

/*
 * pyab killed mid-run: summary.json says "running" and lists rep 1; rep 2
 * has only .part files, the last line cut short. Both are drawn, rep 2 up
 * to its last whole line, and once nothing has been written for a while the
 * page calls the run cut off.
 */
static void test_killed_run(void)
{
    static const char running[] =
        "{\"status\": \"running\", \"arms\": {\"a\": {\"reps\": [{\"rep\": 1, \"outcome\": \"ok\"}]}}}";
    char *csv = rows(30, -1, 0), *cut = xasprintf("%s7.01,41,9", csv);
    char *sum = pyab_path_join(root, "summary.json"), *part = pyab_path_join(root, "arms/a/rep-2/samples.csv.part");
    struct timespec old[2] = {{time(NULL) - 120, 0}, {time(NULL) - 120, 0}};
    pyab_error err;

    clear();
    put("summary.json", running);
    put("arms/a/rep-1/samples.csv", csv);
    put("arms/a/rep-2/samples.csv.part", cut);
    put("arms/a/rep-2/events.jsonl.part", "{\"gen\": 0, \"t_s\": 1, \"duration_s\": 0.001}\n{\"gen\": 1, \"t_");
    CHECK(write_report(&err) == 0);
    CHECK_HTML("{\"rep\":2,\"outcome\":null,\"unlisted\":true,\"samples\":30,\"points\":30,\"partial\":true");
    CHECK_HTML("\"gc\":{\"n\":1,");
    CHECK_HTML("\"status\":\"running\""); /* written seconds ago: it may still be running */
    CHECK(utimensat(AT_FDCWD, sum, old, 0) == 0 && utimensat(AT_FDCWD, part, old, 0) == 0);
    char *p1 = pyab_path_join(root, "arms/a/rep-1/samples.csv"), *p2 = pyab_path_join(root, "arms/a/rep-2/events.jsonl.part");
    CHECK(utimensat(AT_FDCWD, p1, old, 0) == 0 && utimensat(AT_FDCWD, p2, old, 0) == 0);
    CHECK(write_report(&err) == 0);
    CHECK_HTML("\"status\":\"cut-off\"");
    CHECK_HTML("the run was cut off");
    free(p1);
    free(p2);
    free(part);
    free(sum);
    free(cut);
    free(csv);
}

static void test_good_folder(void)
{
    pyab_error err;
    char *csv = rows(50, -1, 1), *html = NULL, *path = pyab_path_join(root, "report.html");

    clear();
    put("summary.json", summary);
    put("arms/a/rep-1/samples.csv", csv);
    free(csv);
    CHECK(write_report(&err) == 0); /* the last line, cut short, is skipped */
    CHECK(pyab_file_read(path, &html, NULL) == 0);
    CHECK(html && strstr(html, "</script><script>window.bad") == NULL);
    CHECK_CONTAINS(html, "\\u003c/script\\u003e\\u003cscript\\u003ewindow.bad=1");
    CHECK_CONTAINS(html, "\"samples\":50,");
    free(html);

    setenv("PYAB_CHARTJS", "/nonexistent/chart.min.js", 1);
    CHECK(write_report(&err) < 0);
    CHECK(err.exit_code == PYAB_EXIT_INTERNAL);
    CHECK_CONTAINS(err.text, "apt-get install libjs-chart.js");
    unsetenv("PYAB_CHARTJS");
    free(path);
}

static void test_downsampling(void)
{
    pyab_curves c[2];
    pyab_error err;
    pyab_buf b;
    char *csv = rows(10000, 5123, 0), *dir = pyab_path_join(root, "rep");

    clear();
    put("rep/samples.csv", csv);
    free(csv);
    for (int i = 0; i < 2; i++) {
        pyab_curves_init(&c[i]);
        CHECK(pyab_curves_load(&c[i], dir, &err) == 0);
    }
    CHECK(c[0].rows.n == 10000 && c[0].quiesce.n == 1);
    CHECK_NEAR(c[0].warmup_t, 0.10, 1e-9);
    CHECK_NEAR(c[0].warmup_requests, 20, 1e-9);
    pyab_buf_init(&b);
    pyab_curves_add_json(&c[0], 100, &b);
    CHECK_CONTAINS(b.data, "\"points\":200,");
    CHECK_CONTAINS(b.data, ",999999,"); /* the spike survives 50:1 */
    CHECK_CONTAINS(b.data, "\"quiesce\":{\"t\":[7],\"r\":[40],\"rss\":[900]");
    pyab_buf_finish(&b);

    pyab_buf_init(&b);
    pyab_curves_add_median_json(c, 2, 3, &b); /* identical reps: median = the rep */
    CHECK_CONTAINS(b.data, "{\"time\":{\"x\":[0,49.995,99.99],\"rss\":[1000,");
    pyab_buf_finish(&b);

    pyab_buf_init(&b);
    pyab_curves_add_pause_histogram_json(c, 2, &b);
    CHECK_CONTAINS(b.data, "\"total\":0,");
    pyab_buf_finish(&b);
    for (int i = 0; i < 2; i++)
        pyab_curves_finish(&c[i]);
    free(dir);
}

/* The native curve is what the verdict judges: native_other_bytes when recorded. */
static void test_native_column(void)
{
    pyab_curves c;
    pyab_error err;
    pyab_buf b;
    char *dir = pyab_path_join(root, "rep");
    static const char csv[] =
        "t_s,requests,rss_bytes,pyheap_bytes,native_heap_bytes,native_free_bytes,"
        "latency_p50_ms,latency_p99_ms,phase,native_other_bytes,pyheap_malloc_bytes\n"
        "0,0,1000,100,5000,20,,,run,3000,2000\n"
        "1,10,1000,100,6000,20,1,2,run,3100,2900\n";

    clear();
    put("rep/samples.csv", csv);
    pyab_curves_init(&c);
    CHECK(pyab_curves_load(&c, dir, &err) == 0);
    pyab_buf_init(&b);
    pyab_curves_add_json(&c, 100, &b);
    CHECK_CONTAINS(b.data, "\"native_column\":\"native_other_bytes\"");
    CHECK_CONTAINS(b.data, "\"native\":[3000,3100]");
    pyab_buf_finish(&b);
    pyab_curves_finish(&c);

    put("rep/samples.csv", header); /* an older folder: native_heap_bytes only */
    pyab_curves_init(&c);
    CHECK(pyab_curves_load(&c, dir, &err) == 0);
    pyab_buf_init(&b);
    pyab_curves_add_json(&c, 100, &b);
    CHECK_CONTAINS(b.data, "\"native_column\":\"native_heap_bytes\"");
    pyab_buf_finish(&b);
    pyab_curves_finish(&c);
    free(dir);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_native_column),
    CHECK_TEST(test_bad_folders),
    CHECK_TEST(test_killed_run),
    CHECK_TEST(test_good_folder),
    CHECK_TEST(test_downsampling),
};

int main(int argc, char **argv)
{
    int rc;

    if (mkdtemp(root) == NULL) {
        perror(root);
        return 1;
    }
    rc = check_run("report", tests, CHECK_COUNT(tests), argc, argv);
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
