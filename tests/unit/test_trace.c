/* Unit tests of trace loading: the compact form, ordering and every bad input. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "trace.h"

static pyab_trace *load(const char *text, pyab_error *err)
{
    memset(err, 0, sizeof(*err));
    return pyab_trace_load_mem("t.jsonl", text, strlen(text), err);
}

static void test_roundtrip(void)
{
    const char *text =
        "{\"t\": 0.5, \"route\": \"/a\", \"body\": {\"x\": [1, -2, 3.5, null, true, \"s\"]}}\n"
        "\n"
        "{\"t\": 1.5, \"route\": \"/b\", \"method\": \"POST\", \"headers\": {\"X\": \"y\"}}\n"
        "{\"t\": 2.5, \"path\": \"/c\", \"query\": \"q=1\"}\n";
    pyab_error err;
    pyab_trace *tr = load(text, &err);
    json_t *rec;
    char *s;

    CHECK(tr != NULL);
    if (tr == NULL)
        return;
    CHECK(tr->count == 3);
    CHECK(tr->nroutes == 3);
    CHECK_NEAR(tr->duration, 2.0, 1e-12);
    CHECK_NEAR(tr->recs[0].t, 0.0, 1e-12);
    CHECK(tr->recs[1].line == 3);
    rec = pyab_trace_record_json(tr, 0);
    s = json_dumps(rec, JSON_SORT_KEYS | JSON_COMPACT);
    CHECK(strcmp(s, "{\"body\":{\"x\":[1,-2,3.5,null,true,\"s\"]},\"route\":\"/a\",\"t\":0.0}") == 0);
    free(s);
    json_decref(rec);
    rec = pyab_trace_record_json(tr, 2);
    CHECK(strcmp(json_string_value(json_object_get(rec, "route")), "/c") == 0);
    json_decref(rec);
    pyab_trace_destroy(tr);
}

static void test_reorder(void)
{
    const char *text = "{\"t\": 2, \"route\": \"/late\"}\n"
                       "{\"t\": 1, \"route\": \"/early\"}\n"
                       "{\"t\": 1, \"route\": \"/early2\"}\n";
    pyab_error err;
    pyab_trace *tr = load(text, &err);

    CHECK(tr != NULL);
    if (tr == NULL)
        return;
    CHECK(tr->reordered == 1);
    CHECK(strcmp(tr->routes[tr->recs[0].route], "/early") == 0);
    CHECK(strcmp(tr->routes[tr->recs[1].route], "/early2") == 0);
    CHECK(strcmp(tr->routes[tr->recs[2].route], "/late") == 0);
    pyab_trace_destroy(tr);
}

static void test_compact(void)
{
    pyab_buf b;
    pyab_error err;
    pyab_trace *tr;

    pyab_buf_init(&b);
    for (int i = 0; i < 5000; i++)
        pyab_buf_addf(&b, "{\"t\": %.4f, \"route\": \"/predict\", \"body\": {\"user\": %d, "
                      "\"items\": [1, 2, 3], \"name\": \"abc\"}}\n", i * 0.001, i);
    tr = pyab_trace_load_mem("big.jsonl", b.data, b.len, &err);
    CHECK(tr != NULL);
    if (tr)
        CHECK(pyab_trace_memory(tr) < b.len);
    pyab_trace_destroy(tr);
    pyab_buf_finish(&b);
}

static const struct {
    const char *text, *message;
} bad[] = {
    {"{\"t\": 1, \"route\": \"/a\"}\n{\"t\": 2, \"route\": }\n", "t.jsonl:2:19:"},
    {"[1, 2]\n", "t.jsonl:1: a request must be a JSON object"},
    {"{\"route\": \"/a\"}\n", "t.jsonl:1: missing key \"t\""},
    {"{\"t\": -1, \"route\": \"/a\"}\n", "t.jsonl:1: key \"t\": must be a finite number >= 0"},
    {"{\"t\": \"0\", \"route\": \"/a\"}\n", "key \"t\""},
    {"{\"t\": 0}\n", "t.jsonl:1: missing key \"route\""},
    {"{\"t\": 0, \"route\": 5}\n", "key \"route\": must be a string"},
    {"{\"t\": 0, \"route\": \"/a\", \"colour\": 1}\n", "t.jsonl:1: unknown key \"colour\""},
    {"{\"t\": 0, \"route\": \"/a\", \"headers\": {\"A\": 1}}\n", "key \"headers.A\""},
    {"{\"t\": 0, \"route\": \"/a\", \"query\": 3}\n", "key \"query\""},
    {"\n\n", "t.jsonl: the trace has no requests"},
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pyab_error err;
        pyab_trace *tr = load(bad[i].text, &err);
        CHECK(tr == NULL);
        CHECK(err.exit_code == PYAB_EXIT_USAGE);
        CHECK_CONTAINS(err.text, bad[i].message);
        pyab_trace_destroy(tr);
    }
}

static void test_missing_file(void)
{
    pyab_error err;
    CHECK(pyab_trace_load("/nonexistent/trace.jsonl", &err) == NULL);
    CHECK_CONTAINS(err.text, "/nonexistent/trace.jsonl: cannot read trace");
}

static const struct check_test tests[] = {
    CHECK_TEST(test_roundtrip),
    CHECK_TEST(test_reorder),
    CHECK_TEST(test_compact),
    CHECK_TEST(test_bad),
    CHECK_TEST(test_missing_file),
};

int main(int argc, char **argv)
{
    return check_run("trace", tests, CHECK_COUNT(tests), argc, argv);
}
