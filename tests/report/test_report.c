/*
 * test_report: the report's contract in C. Bad results folders fail with
 * the file (and line) named and exit code 2; a missing Chart.js is exit 3
 * naming the Debian package; data cannot close a <script> block; and the
 * downsampling keeps a one-sample spike and the requested point count.
 * The page itself is tested in a browser by browser_test.py.
 */
#include <errno.h>
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

    put("summary.json", summary);
    CHECK(write_report(&err) < 0);
    CHECK(err.exit_code == PYAB_EXIT_USAGE);
    CHECK_CONTAINS(err.text, "arms/a/rep-1/samples.csv: No such file");

    csv = rows(5, -1, 0);
    memcpy(strstr(csv, "\n0.02,") + 6, "x", 1); /* line 4 gets a bad requests field */
    put("arms/a/rep-1/samples.csv", csv);
    free(csv);
    CHECK(write_report(&err) < 0);
    CHECK(err.exit_code == PYAB_EXIT_USAGE);
    CHECK_CONTAINS(err.text, "samples.csv:4: requests is");

    put("arms/a/rep-1/samples.csv", "t_s,requests\n0,0\n");
    CHECK(write_report(&err) < 0);
    CHECK_CONTAINS(err.text, "samples.csv:1: header has no column \"rss_bytes\"");

    put("arms/a/rep-1/samples.csv", header);
    put("arms/a/rep-1/events.jsonl", "{\"gen\": 0, \"t_s\": 1, \"duration_s\": 0.001}\n[]\n");
    CHECK(write_report(&err) < 0);
    CHECK_CONTAINS(err.text, "events.jsonl:2:");
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

static const struct check_test tests[] = {
    CHECK_TEST(test_bad_folders),
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
