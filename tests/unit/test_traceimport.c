/*
 * Unit tests of `pyab trace import`: HAR and access-log fixtures under
 * data/traces/ (the tests run in tests/) against their expected JSONL, and
 * every malformed fixture against the exact message naming its place.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accesslog.h"
#include "check.h"
#include "trace.h"
#include "traceimport.h"

#define DATA "data/traces/"

static char *read_text(const char *path)
{
    char *s = NULL;

    if (pyab_file_read(path, &s, NULL) < 0)
        return NULL;
    return s;
}

/* Imports a fixture into a scratch file and compares with the expected text. */
static void check_fixture(const char *input, pyab_route_from rf, const char *expected,
                          pyab_import_format want_format, size_t want_requests)
{
    char out[] = "/tmp/pyab-test-import-XXXXXX";
    int fd = mkstemp(out);
    pyab_import_result res;
    pyab_error err = {0};
    char *got, *want = read_text(expected);
    pyab_trace *tr;

    CHECK(fd >= 0);
    close(fd);
    CHECK(pyab_traceimport_file(input, out, PYAB_IMPORT_AUTO, rf, &res, &err) == 0);
    CHECK(res.format == want_format);
    CHECK(res.requests == want_requests);
    got = read_text(out);
    CHECK(got != NULL && want != NULL && strcmp(got, want) == 0);
    /* What import writes, the loader must take as it is. */
    tr = pyab_trace_load(out, &err);
    CHECK(tr != NULL && tr->count == want_requests && tr->reordered == 0);
    pyab_trace_destroy(tr);
    free(got);
    free(want);
    unlink(out);
}

static void test_fixtures(void)
{
    check_fixture(DATA "small.har", PYAB_ROUTE_PATH, DATA "small.har.expected.jsonl",
                  PYAB_IMPORT_HAR, 4);
    check_fixture(DATA "small.log", PYAB_ROUTE_TEMPLATE,
                  DATA "small.log.template.expected.jsonl", PYAB_IMPORT_ACCESS_LOG, 5);
}

static void test_har_fields(void)
{
    const char *har =
        "{\"log\": {\"entries\": [{\"startedDateTime\": \"2024-01-01T00:00:00Z\", \"request\": "
        "{\"method\": \"PUT\", \"url\": \"http://h:8080?a=1\", \"headers\": ["
        "{\"name\": \"Cookie\", \"value\": \"a=1\"}, {\"name\": \"Cookie\", \"value\": \"b=2\"}],"
        "\"postData\": {\"mimeType\": \"application/x-www-form-urlencoded\", \"params\": ["
        "{\"name\": \"k\", \"value\": \"v\"}]}}}]}}";
    pyab_import_result res;
    pyab_error err = {0};
    pyab_buf out;

    pyab_buf_init(&out);
    CHECK(pyab_traceimport_mem("m.har", har, strlen(har), PYAB_IMPORT_AUTO, PYAB_ROUTE_PATH,
                               &out, &res, &err) == 0);
    CHECK(strcmp(out.data, "{\"t\":0.0,\"route\":\"/\",\"method\":\"PUT\",\"path\":\"/\","
                           "\"query\":\"a=1\",\"headers\":{\"Cookie\":\"a=1; b=2\"},"
                           "\"body\":{\"k\":\"v\"}}\n") == 0);
    pyab_buf_finish(&out);
}

/* Lines without a usable request are counted and skipped; a BOM is ignored. */
static void test_skips(void)
{
    const char *log = "1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] \"GET /\\xff HTTP/1.1\" 200 1\n"
                      "1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] \"-\" 400 0\n"
                      "1.2.3.4 - - [01/Jan/2024:00:00:01 +0000] \"GET /ok HTTP/1.1\" 200 1 "
                      "\"-\" \"\\xff\"\n";
    const char *har = "\xef\xbb\xbf{\"log\": {\"entries\": [{\"startedDateTime\": "
                      "\"2024-01-01T00:00:00Z\", \"request\": {\"method\": \"GET\", "
                      "\"url\": \"/x\"}}]}}";
    pyab_import_result res;
    pyab_error err = {0};
    pyab_buf out;

    pyab_buf_init(&out);
    CHECK(pyab_traceimport_mem("m.log", log, strlen(log), PYAB_IMPORT_AUTO, PYAB_ROUTE_PATH,
                               &out, &res, &err) == 0);
    CHECK(res.requests == 1 && res.skipped == 2);
    CHECK(strcmp(out.data, "{\"t\":0.0,\"route\":\"/ok\",\"method\":\"GET\",\"path\":\"/ok\"}\n")
          == 0);
    out.len = 0;
    CHECK(pyab_traceimport_mem("m.har", har, strlen(har), PYAB_IMPORT_AUTO, PYAB_ROUTE_PATH,
                               &out, &res, &err) == 0);
    CHECK(res.format == PYAB_IMPORT_HAR && res.requests == 1);
    pyab_buf_finish(&out);
}

static const struct {
    const char *file, *message;
} bad_files[] = {
    {"bad_json.har", DATA "bad_json.har:4:50: string or '}' expected near ','"},
    {"missing_url.har", DATA "missing_url.har: log.entries[3].request.url: missing"},
    {"bad_date.har", DATA "bad_date.har: log.entries[2].startedDateTime: not an ISO-8601 "
                     "date-time (YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM]): \"2024-03-01 sometime\""},
    {"truncated.log", DATA "truncated.log:3:55: unterminated quoted field (truncated line?)"},
    {"bad_date.log", DATA "bad_date.log:2:19: bad date: unknown month name"},
    {"nonexistent.har", DATA "nonexistent.har: cannot read: No such file or directory"},
};

/* A failed import names the place and leaves an existing output untouched. */
static void test_bad_files(void)
{
    char out[] = "/tmp/pyab-test-import-XXXXXX";
    int fd = mkstemp(out);

    CHECK(fd >= 0 && write(fd, "old\n", 4) == 4);
    close(fd);
    for (size_t i = 0; i < PYAB_ARRAY_LEN(bad_files); i++) {
        char *in = xasprintf(DATA "%s", bad_files[i].file), *after;
        pyab_import_result res;
        pyab_error err = {0};
        CHECK(pyab_traceimport_file(in, out, PYAB_IMPORT_AUTO, PYAB_ROUTE_PATH, &res, &err) < 0);
        CHECK(err.exit_code == PYAB_EXIT_USAGE);
        CHECK_CONTAINS(err.text, bad_files[i].message);
        after = read_text(out);
        CHECK(after && strcmp(after, "old\n") == 0);
        free(after);
        free(in);
    }
    unlink(out);
}

static const struct {
    const char *text;
    pyab_import_format format;
    const char *message;
} bad_mem[] = {
    {"hello world\n", PYAB_IMPORT_AUTO, "m: cannot tell the format"},
    {"{\"x\": 1}", PYAB_IMPORT_AUTO, "m: log: missing (not a HAR file)"},
    {"{\"log\": {}}", PYAB_IMPORT_AUTO, "m: log.entries: missing"},
    {"{\"log\": {\"entries\": []}}", PYAB_IMPORT_AUTO, "m: no requests found"},
    {"{\"log\": {\"entries\": [1]}}", PYAB_IMPORT_AUTO, "m: log.entries[0]: must be an object"},
    {"{\"log\": {\"entries\": [{\"startedDateTime\": \"2024-01-01T00:00:00Z\"}]}}",
     PYAB_IMPORT_AUTO, "m: log.entries[0].request: missing"},
    {"{\"log\": {\"entries\": [{\"startedDateTime\": \"2024-01-01T00:00:00Z\", \"request\": "
     "{\"url\": \"/\"}}]}}", PYAB_IMPORT_AUTO, "m: log.entries[0].request.method: missing"},
    {"{\"log\": {\"entries\": [{\"request\": {}}]}}", PYAB_IMPORT_AUTO,
     "m: log.entries[0].startedDateTime: missing"},
    {"{\"log\": {\"entries\": [{\"startedDateTime\": \"2024-01-01T00:00:00Z\", \"request\": "
     "{\"method\": \"GET\", \"url\": \"ftp:x\"}}]}}", PYAB_IMPORT_AUTO,
     "m: log.entries[0].request.url: not an absolute URL or a path: ftp:x"},
    {"{\"log\": {\"entries\": [{\"startedDateTime\": \"2024-01-01T00:00:00Z\", \"request\": "
     "{\"method\": \"GET\", \"url\": \"/\", \"headers\": [{\"name\": \"A\"}]}}]}}",
     PYAB_IMPORT_AUTO, "m: log.entries[0].request.headers[0]: must be an object"},
    {"1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] \"GET / HTTP/1.1\" 2x0 1\n",
     PYAB_IMPORT_ACCESS_LOG, "m:1:59: expected a 3-digit status"},
    {"1.2.3.4 - - 01/Jan/2024:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n",
     PYAB_IMPORT_ACCESS_LOG, "m:1:13: expected '[' before the date"},
    {"{\"log\": 1}", PYAB_IMPORT_ACCESS_LOG, "m:1:11: expected the user field"},
    /* Dates that look right but are not on the calendar: the entry or line, column and field. */
#define HAR_AT(date) "{\"log\": {\"entries\": [{\"startedDateTime\": \"2023-01-01T00:00:00Z\", " \
    "\"request\": {\"method\": \"GET\", \"url\": \"/\"}}, {\"startedDateTime\": \"" date "\", " \
    "\"request\": {\"method\": \"GET\", \"url\": \"/\"}}]}}"
    {HAR_AT("2023-02-30T10:00:00Z"), PYAB_IMPORT_AUTO, "m: log.entries[1].startedDateTime: day "
     "out of range for its month: \"2023-02-30T10:00:00Z\""},
    {HAR_AT("2023-02-29T10:00:00Z"), PYAB_IMPORT_AUTO, "m: log.entries[1].startedDateTime: day "
     "out of range: 29 February in a year that is not a leap year"},
    {HAR_AT("2023-04-31T10:00:00Z"), PYAB_IMPORT_AUTO, "day out of range for its month"},
    {HAR_AT("2023-04-30T24:00:00Z"), PYAB_IMPORT_AUTO, "entries[1].startedDateTime: hour out of"},
    {HAR_AT("2023-04-30T10:60:00Z"), PYAB_IMPORT_AUTO, "entries[1].startedDateTime: minute out"},
    {HAR_AT("2023-04-30T10:00:60Z"), PYAB_IMPORT_AUTO, "entries[1].startedDateTime: second out"},
    {HAR_AT("2023-04-30T10:00:00+14:01"), PYAB_IMPORT_AUTO, "UTC offset out of range (at most "
     "14:00 either way): \"2023-04-30T10:00:00+14:01\""},
    {HAR_AT("2023-04-30T10:00:00-99:00"), PYAB_IMPORT_AUTO, "UTC offset out of range"},
    {HAR_AT("2023-04-30T10:00:00+05:60"), PYAB_IMPORT_AUTO, "UTC offset minutes out of range"},
#define LOG_AT(date) "1.2.3.4 - - [01/Jan/2023:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n" \
    "1.2.3.4 - - [" date "] \"GET / HTTP/1.1\" 200 1\n"
    {LOG_AT("29/Feb/2023:00:00:00 +0000"), PYAB_IMPORT_ACCESS_LOG,
     "m:2:14: bad date: 29 Feb in a year that is not a leap year"},
    {LOG_AT("31/Jun/2023:00:00:00 +0000"), PYAB_IMPORT_ACCESS_LOG,
     "m:2:14: bad date: day out of range for its month"},
    {LOG_AT("30/Jun/2023:24:00:00 +0000"), PYAB_IMPORT_ACCESS_LOG,
     "m:2:26: bad date: hour out of range"},
    {LOG_AT("30/Jun/2023:23:60:00 +0000"), PYAB_IMPORT_ACCESS_LOG,
     "m:2:29: bad date: minute out of range"},
    {LOG_AT("30/Jun/2023:23:00:60 +0000"), PYAB_IMPORT_ACCESS_LOG,
     "m:2:32: bad date: second out of range"},
    {LOG_AT("30/Jun/2023:23:00:00 +9900"), PYAB_IMPORT_ACCESS_LOG,
     "m:2:35: bad date: UTC offset out of range"},
    {LOG_AT("30/Jun/2023:23:00:00 -1401"), PYAB_IMPORT_ACCESS_LOG,
     "m:2:35: bad date: UTC offset out of range"},
};

static void test_bad_mem(void)
{
    for (size_t i = 0; i < PYAB_ARRAY_LEN(bad_mem); i++) {
        pyab_import_result res;
        pyab_error err = {0};
        pyab_buf out;
        pyab_buf_init(&out);
        CHECK(pyab_traceimport_mem("m", bad_mem[i].text, strlen(bad_mem[i].text),
                                   bad_mem[i].format, PYAB_ROUTE_PATH, &out, &res, &err) < 0);
        CHECK(err.exit_code == PYAB_EXIT_USAGE);
        CHECK_CONTAINS(err.text, bad_mem[i].message);
        pyab_buf_finish(&out);
    }
}

static void test_route_template(void)
{
    static const char *const cases[][2] = {
        {"/", "/"},
        {"/users/123/orders", "/users/{id}/orders"},
        {"/u/550e8400-e29b-41d4-a716-446655440000", "/u/{id}"},
        {"/obj/5f2b1c9e8d7a6b5c4d3e2f10/x/", "/obj/{id}/x/"},
        {"/cafe/deadbeef/facadefacade", "/cafe/deadbeef/facadefacade"},
        {"/v1/items", "/v1/items"},
        {"//a//1", "//a//{id}"},
    };
    for (size_t i = 0; i < PYAB_ARRAY_LEN(cases); i++) {
        char *r = pyab_traceimport_route(cases[i][0], PYAB_ROUTE_TEMPLATE);
        CHECK_CONTAINS(r, cases[i][1]);
        CHECK(strcmp(r, cases[i][1]) == 0);
        free(r);
    }
}

static void test_iso8601(void)
{
    int64_t sec;
    double frac;
    const char *why = NULL;

    CHECK(pyab_traceimport_iso8601("1970-01-01T00:00:00Z", &sec, &frac, NULL) == 0 && sec == 0);
    /* Leap days and seconds, and the widest offsets, are real. */
    CHECK(pyab_traceimport_iso8601("2024-02-29T00:00:00Z", &sec, &frac, NULL) == 0);
    CHECK(sec == 1709164800);
    CHECK(pyab_traceimport_iso8601("2000-02-29T00:00:00Z", &sec, &frac, NULL) == 0);
    CHECK(pyab_traceimport_iso8601("1900-02-29T00:00:00Z", &sec, &frac, &why) < 0);
    CHECK_CONTAINS(why, "29 February in a year that is not a leap year");
    CHECK(pyab_traceimport_iso8601("2016-12-31T23:59:60Z", &sec, &frac, NULL) == 0);
    CHECK(pyab_traceimport_iso8601("2016-12-31T23:58:60Z", &sec, &frac, NULL) < 0);
    CHECK(pyab_traceimport_iso8601("2024-01-01T14:00:00+14:00", &sec, &frac, NULL) == 0);
    CHECK(sec == 1704067200);
    CHECK(pyab_traceimport_iso8601("2024-01-01T00:00:00-14:00", &sec, &frac, NULL) == 0);
    CHECK(pyab_traceimport_iso8601("2024-01-01T00:00:00-1430", &sec, &frac, &why) < 0);
    CHECK_CONTAINS(why, "UTC offset out of range");
    CHECK(pyab_traceimport_iso8601("2024-01-00T00:00:00Z", &sec, &frac, &why) < 0);
    CHECK_CONTAINS(why, "day out of range");
    CHECK(pyab_traceimport_iso8601("2000-10-10T13:55:36.25-07:00", &sec, &frac, NULL) == 0);
    CHECK(sec == 971211336 && frac == 0.25);
    CHECK(pyab_traceimport_iso8601("2000-10-10T22:25:36+0200", &sec, &frac, NULL) == 0);
    CHECK(sec == 971209536);
    CHECK(pyab_traceimport_iso8601("2000-10-10T20:55:36", &sec, &frac, NULL) == 0 && sec == 971211336);
    CHECK(pyab_traceimport_iso8601("2000-13-10T20:55:36Z", &sec, &frac, NULL) < 0);
    CHECK(pyab_traceimport_iso8601("2000-10-10T20:55", &sec, &frac, NULL) < 0);
    CHECK(pyab_traceimport_iso8601("2000-10-10T20:55:36.Z", &sec, &frac, NULL) < 0);
    CHECK(pyab_traceimport_iso8601("2000-10-10T20:55:36Z junk", &sec, &frac, NULL) < 0);
}

static void test_access_line(void)
{
    const char *nginx = "::1 - - [10/Oct/2000:13:55:36 -0700] \"GET /q?s=\\x22a\\x22 HTTP/2.0\" "
                        "200 5 \"-\" \"ua \\\"x\\\"\" \"extra\"";
    const char *tls = "1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"\\x16\\x03\\x01\" 400 157 "
                      "\"-\" \"-\"";
    pyab_accesslog_entry e;
    const char *problem = NULL;
    int column = 0;

    CHECK(pyab_accesslog_parse(nginx, strlen(nginx), &e, &column, &problem) == 0);
    CHECK(e.epoch == 971211336 && e.status == 200);
    CHECK(e.method && strcmp(e.method, "GET") == 0);
    CHECK(e.target && strcmp(e.target, "/q?s=\"a\"") == 0);
    CHECK(e.referer == NULL && e.user_agent && strcmp(e.user_agent, "ua \"x\"") == 0);
    pyab_accesslog_entry_finish(&e);
    CHECK(pyab_accesslog_parse(tls, strlen(tls), &e, &column, &problem) == 0);
    CHECK(e.method == NULL && e.status == 400);
    pyab_accesslog_entry_finish(&e);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_fixtures),
    CHECK_TEST(test_har_fields),
    CHECK_TEST(test_skips),
    CHECK_TEST(test_bad_files),
    CHECK_TEST(test_bad_mem),
    CHECK_TEST(test_route_template),
    CHECK_TEST(test_iso8601),
    CHECK_TEST(test_access_line),
};

int main(int argc, char **argv)
{
    return check_run("traceimport", tests, CHECK_COUNT(tests), argc, argv);
}
