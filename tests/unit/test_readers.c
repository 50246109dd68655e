/*
 * Unit tests of the readers against the inputs of issue 13: those fuzzing
 * found to crash or hang pyab (a samples.csv with a column twice, a synth
 * spec with bursts past its end, /dev/zero as a file), and the smaller
 * faults a new user met (a key twice in a trace record, base64 HAR bodies,
 * a first log line with a bad date, column 0 in positions).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "series.h"
#include "trace.h"
#include "traceimport.h"
#include "tracesynth.h"
#include "util.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(text, 1, len, f) == len);
        fclose(f);
    }
}

static pyab_series *parse_csv(const char *name, const char *text, pyab_error *err)
{
    return pyab_series_parse(name, text, strlen(text), err);
}

/* The fuzzer's 28 bytes: the second "phase" was read as a number past the columns. */
static void test_series_duplicate_columns(void)
{
    static const char crash[] = "t_s,requests,phase,phase\n,,,";
    pyab_error err = {0};

    CHECK(sizeof(crash) - 1 == 28);
    CHECK(pyab_series_parse("s.csv", crash, sizeof(crash) - 1, &err) == NULL);
    CHECK_CONTAINS(err.text, "s.csv:1: column 'phase' appears twice");
    CHECK(parse_csv("d.csv", "t_s,requests,rss_bytes,phase,rss_bytes\n0,0,1,run,2\n", &err) == NULL);
    CHECK_CONTAINS(err.text, "d.csv:1: column 'rss_bytes' appears twice");
    CHECK(parse_csv("u.csv", "t_s,requests,phase,bogus\n0,0,run,1\n", &err) == NULL);
    CHECK_CONTAINS(err.text, "u.csv:1: unknown column 'bogus'");
    CHECK(parse_csv("e.csv", "t_s,,requests,phase\n0,,0,run\n", &err) == NULL);
    CHECK_CONTAINS(err.text, "e.csv:1: unknown column ''");
}

static void test_file_read_limits(void)
{
    char dir[] = "/tmp/pyab-test-readers-XXXXXX", *path, *data = NULL, *big;
    size_t len = 0, n = 3 * 1048576 / 2;
    pyab_error err = {0};
    json_t *j;

    CHECK(mkdtemp(dir) != NULL);
    CHECK(pyab_file_read("/dev/zero", &data, &len) == -ENODEV);
    CHECK_CONTAINS(pyab_file_strerror(-ENODEV), "not a regular file");
    CHECK(pyab_file_read(dir, &data, &len) == -EISDIR);
    path = pyab_path_join(dir, "big.txt");
    big = xmalloc(n);
    memset(big, 'x', n);
    write_file(path, big, n);
    setenv("PYAB_MAX_FILE_MB", "1", 1);
    CHECK(pyab_file_max_bytes() == 1048576);
    CHECK(pyab_file_read(path, &data, &len) == -EFBIG);
    CHECK_CONTAINS(pyab_file_strerror(-EFBIG), "larger than the 1 MiB");
    unsetenv("PYAB_MAX_FILE_MB");
    CHECK(pyab_file_max_bytes() == (size_t)4096 * 1048576);
    CHECK(pyab_file_read(path, &data, &len) == 0 && len == n);
    free(data);
    /* The trace loader and the JSON reader say it with the path. */
    CHECK(pyab_trace_load("/dev/zero", &err) == NULL);
    CHECK_CONTAINS(err.text, "/dev/zero: cannot read trace: not a regular file");
    CHECK((j = pyab_json_read("/dev/zero", 0, &err)) == NULL);
    CHECK_CONTAINS(err.text, "/dev/zero: cannot read: not a regular file");
    unlink(path);
    rmdir(dir);
    free(path);
    free(big);
}

/* jansson says column 0 at the start of a line; pyab's columns start at 1. */
static void test_json_columns(void)
{
    static const struct {
        const char *text, *where;
    } cases[] = {{"", "e.json:1:1:"}, {"{\n", "e.json:2:1:"}, {"{\"a\": 1,\n", "e.json:2:1:"}};
    static const char trace[] = "{\"t\": 0, \"route\": \"/a\"}\n{\"t\": 1,\n";
    char dir[] = "/tmp/pyab-test-readers-XXXXXX", *path;
    pyab_error err = {0};

    CHECK(mkdtemp(dir) != NULL);
    path = pyab_path_join(dir, "e.json");
    for (size_t i = 0; i < PYAB_ARRAY_LEN(cases); i++) {
        write_file(path, cases[i].text, strlen(cases[i].text));
        CHECK(pyab_json_read(path, 0, &err) == NULL);
        CHECK_CONTAINS(err.text, cases[i].where);
    }
    unlink(path);
    rmdir(dir);
    free(path);
    CHECK(pyab_trace_load_mem("t.jsonl", trace, sizeof(trace) - 1, &err) == NULL);
    CHECK(strstr(err.text, ":0:") == NULL);
}

static void test_trace_duplicate_keys(void)
{
    static const char text[] = "{\"t\": 0, \"route\": \"/a\"}\n{\"t\": 1, \"route\": \"/b\", \"t\": 2}\n";
    static const char nested[] = "{\"t\": 0, \"route\": \"/a\", \"body\": {\"x\": 1, \"x\": 2}}\n";
    pyab_error err = {0};

    CHECK(pyab_trace_load_mem("dup.jsonl", text, sizeof(text) - 1, &err) == NULL);
    CHECK_CONTAINS(err.text, "dup.jsonl:2:");
    CHECK_CONTAINS(err.text, "duplicate object key");
    CHECK(pyab_trace_load_mem("n.jsonl", nested, sizeof(nested) - 1, &err) == NULL);
    CHECK_CONTAINS(err.text, "n.jsonl:1:");
}

/* A one-entry HAR whose postData is `post` (JSON text); the import's output or its error. */
static int import_post(const char *post, pyab_buf *out, pyab_error *err)
{
    pyab_import_result res;
    char *har = xasprintf("{\"log\": {\"entries\": [{\"startedDateTime\": "
                          "\"2024-01-01T00:00:00Z\", \"request\": {\"method\": \"POST\", "
                          "\"url\": \"http://h/api\", \"headers\": [], \"postData\": %s}}]}}",
                          post);
    int rc;

    pyab_buf_init(out);
    rc = pyab_traceimport_mem("b.har", har, strlen(har), PYAB_IMPORT_AUTO, PYAB_ROUTE_PATH, out,
                              &res, err);
    free(har);
    return rc;
}

static void test_har_base64(void)
{
    pyab_error err = {0};
    pyab_buf out;

    /* {"item": 42} and "hi there", base64. */
    CHECK(import_post("{\"mimeType\": \"application/json\", \"encoding\": \"base64\", "
                      "\"text\": \"eyJpdGVtIjogNDJ9\"}", &out, &err) == 0);
    CHECK_CONTAINS(out.data, "\"body\":{\"item\":42}");
    pyab_buf_finish(&out);
    CHECK(import_post("{\"mimeType\": \"text/plain\", \"encoding\": \"base64\", "
                      "\"text\": \"aGkgdGhlcmU=\"}", &out, &err) == 0);
    CHECK_CONTAINS(out.data, "\"body\":\"hi there\"");
    pyab_buf_finish(&out);
    /* Without "encoding" the text is the body, as before. */
    CHECK(import_post("{\"mimeType\": \"text/plain\", \"text\": \"aGkgdGhlcmU=\"}", &out,
                      &err) == 0);
    CHECK_CONTAINS(out.data, "\"body\":\"aGkgdGhlcmU=\"");
    pyab_buf_finish(&out);
    CHECK(import_post("{\"mimeType\": \"text/plain\", \"encoding\": \"base64\", "
                      "\"text\": \"a$b=\"}", &out, &err) < 0);
    CHECK_CONTAINS(err.text, "b.har: log.entries[0].request.postData.text:");
    pyab_buf_finish(&out);
    /* 0xff 0xfe: bytes, not text. */
    CHECK(import_post("{\"mimeType\": \"application/octet-stream\", \"encoding\": \"base64\", "
                      "\"text\": \"//4=\"}", &out, &err) < 0);
    CHECK_CONTAINS(err.text, "not UTF-8");
    pyab_buf_finish(&out);
}

static void test_access_log_first_line(void)
{
    static const char log[] =
        "127.0.0.1 - - [10/Foo/2024:13:55:36 +0000] \"GET /a HTTP/1.1\" 200 5 \"-\" \"ua\"\n";
    static const char junk[] = "hello world\n";
    pyab_import_result res;
    pyab_error err = {0};
    pyab_buf out;

    pyab_buf_init(&out);
    CHECK(pyab_traceimport_mem("a.log", log, sizeof(log) - 1, PYAB_IMPORT_AUTO, PYAB_ROUTE_PATH,
                               &out, &res, &err) < 0);
    CHECK_CONTAINS(err.text, "a.log:1:19: bad date: unknown month name");
    /* What is no log at all still asks for --format. */
    CHECK(pyab_traceimport_mem("j.txt", junk, sizeof(junk) - 1, PYAB_IMPORT_AUTO,
                               PYAB_ROUTE_PATH, &out, &res, &err) < 0);
    CHECK_CONTAINS(err.text, "j.txt: cannot tell the format");
    pyab_buf_finish(&out);
}

/* Generates a spec's trace; 0 or the generator's error, the text in *out (caller frees). */
static int synth(const char *spec_json, pyab_buf *out, size_t *count, double *took,
                 pyab_error *err)
{
    json_t *j = json_loads(spec_json, 0, NULL);
    pyab_synth_spec *spec = pyab_tracesynth_spec_parse("spec.json", j, err);
    double t0 = now();
    int rc = -EINVAL;

    pyab_buf_init(out);
    CHECK(spec != NULL);
    if (spec)
        rc = pyab_tracesynth_generate(spec, out, count, err);
    *took = now() - t0;
    pyab_tracesynth_spec_destroy(spec);
    json_decref(j);
    return rc;
}

static void test_synth_bursts(void)
{
    pyab_error err = {0};
    pyab_buf plain, late;
    size_t n1 = 0, n2 = 0;
    double took;
    char *many;

    CHECK(synth("{}", &plain, &n1, &took, &err) == 0);
    /* Bursts after the end change nothing: the same trace, and no minutes of thinning. */
    CHECK(synth("{\"bursts\": [{\"start\": 100, \"multiplier\": 1e6}, {\"start\": 200, "
                "\"multiplier\": 1e6}]}", &late, &n2, &took, &err) == 0);
    CHECK(took < 1.0);
    CHECK(n1 == n2 && plain.len == late.len && memcmp(plain.data, late.data, plain.len) == 0);
    pyab_buf_finish(&late);
    /* Inside the trace, a bound too large to thin is refused up front. */
    CHECK(synth("{\"bursts\": [{\"start\": 0, \"duration\": 60, \"multiplier\": 1e6}, "
                "{\"start\": 30, \"duration\": 1, \"multiplier\": 1e6}]}", &late, &n2, &took,
                &err) < 0);
    CHECK(took < 1.0);
    CHECK_CONTAINS(err.text, "candidate arrivals");
    pyab_buf_finish(&late);
    /* 52 overlapping bursts of 1e6 pass DBL_MAX: the bound is infinite. */
    pyab_buf_init(&late);
    pyab_buf_adds(&late, "{\"bursts\": [");
    for (int i = 0; i < 60; i++)
        pyab_buf_addf(&late, "%s{\"start\": 0, \"duration\": 60, \"multiplier\": 1e6}",
                      i ? ", " : "");
    pyab_buf_adds(&late, "]}");
    many = xstrdup(late.data);
    pyab_buf_finish(&late);
    CHECK(synth(many, &late, &n2, &took, &err) < 0);
    CHECK(took < 1.0);
    CHECK_CONTAINS(err.text, "bursts: the multipliers");
    pyab_buf_finish(&late);
    pyab_buf_finish(&plain);
    free(many);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_series_duplicate_columns),
    CHECK_TEST(test_file_read_limits),
    CHECK_TEST(test_json_columns),
    CHECK_TEST(test_trace_duplicate_keys),
    CHECK_TEST(test_har_base64),
    CHECK_TEST(test_access_log_first_line),
    CHECK_TEST(test_synth_bursts),
};

int main(int argc, char **argv)
{
    return check_run("readers", tests, CHECK_COUNT(tests), argc, argv);
}
