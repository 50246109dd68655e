/* Unit tests of `pyab trace info`: the figures of a known trace, worked out by hand. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "trace.h"
#include "traceinfo.h"

static double num(const json_t *obj, const char *key)
{
    return json_number_value(json_object_get(obj, key));
}

/*
 * data/traces/known.jsonl: 10 requests at 0, .5, 1, 1.5, 2, 2.5, 3, 4, 5, 9 s;
 * routes /a x6, /b x3, /c x1; bodies "x" .. "xxxxxxxxx" (3 to 11 bytes as JSON)
 * on all but the last request.
 */
static void test_known(void)
{
    static const int counts[] = {2, 2, 2, 1, 1, 1, 0, 0, 1};
    pyab_error err = {0};
    pyab_trace *tr = pyab_trace_load("data/traces/known.jsonl", &err);
    json_t *info, *rate, *routes, *body, *mem;

    CHECK(tr != NULL);
    if (tr == NULL)
        return;
    info = pyab_traceinfo_compute(tr);
    CHECK(num(info, "requests") == 10);
    CHECK_NEAR(num(info, "duration_s"), 9, 1e-12);
    CHECK_NEAR(num(info, "mean_rate_rps"), 10.0 / 9, 1e-12);
    rate = json_object_get(info, "rate");
    CHECK(num(rate, "bucket_s") == 1);
    CHECK(json_array_size(json_object_get(rate, "counts")) == PYAB_ARRAY_LEN(counts));
    for (size_t i = 0; i < PYAB_ARRAY_LEN(counts); i++)
        CHECK(json_integer_value(json_array_get(json_object_get(rate, "counts"), i)) == counts[i]);
    CHECK(num(rate, "min_rps") == 0 && num(rate, "median_rps") == 1 && num(rate, "max_rps") == 2);
    routes = json_object_get(info, "routes");
    CHECK(json_array_size(routes) == 3);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(routes, 0), "route")), "/a") == 0);
    CHECK(num(json_array_get(routes, 0), "count") == 6);
    CHECK_NEAR(num(json_array_get(routes, 1), "share"), 0.3, 1e-12);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(routes, 2), "route")), "/c") == 0);
    body = json_object_get(info, "body_bytes");
    CHECK(num(body, "requests") == 9);
    CHECK(num(body, "min") == 3 && num(body, "p50") == 7 && num(body, "p90") == 11);
    CHECK(num(body, "p99") == 11 && num(body, "max") == 11);
    CHECK_NEAR(num(body, "mean"), 7, 1e-12);
    mem = json_object_get(info, "memory");
    CHECK(num(mem, "file_bytes") == (double)tr->file_bytes && tr->file_bytes > 0);
    CHECK(num(mem, "loaded_bytes") == (double)pyab_trace_memory(tr));
    json_decref(info);
    pyab_trace_destroy(tr);
}

/* Buckets widen so a long trace gets at most 60; a zero-length trace has one. */
static void test_buckets(void)
{
    const char *one = "{\"t\": 5, \"route\": \"/a\"}\n";
    pyab_buf b;
    pyab_error err;
    pyab_trace *tr;
    json_t *info;

    pyab_buf_init(&b);
    for (int i = 0; i <= 3600; i += 10)
        pyab_buf_addf(&b, "{\"t\": %d, \"route\": \"/a\"}\n", i);
    tr = pyab_trace_load_mem("long.jsonl", b.data, b.len, &err);
    info = pyab_traceinfo_compute(tr);
    CHECK(num(json_object_get(info, "rate"), "bucket_s") == 60);
    CHECK(json_array_size(json_object_get(json_object_get(info, "rate"), "counts")) == 60);
    CHECK(json_is_null(json_object_get(info, "body_bytes")));
    json_decref(info);
    pyab_trace_destroy(tr);
    pyab_buf_finish(&b);

    tr = pyab_trace_load_mem("one.jsonl", one, strlen(one), &err);
    info = pyab_traceinfo_compute(tr);
    CHECK(json_array_size(json_object_get(json_object_get(info, "rate"), "counts")) == 1);
    CHECK(json_is_null(json_object_get(info, "mean_rate_rps")));
    json_decref(info);
    pyab_trace_destroy(tr);
}

/* A trace of n requests, one every `step` seconds from 0, and its rate figures (new). */
static json_t *rate_of(size_t n, double step, double *width)
{
    pyab_buf b;
    pyab_error err = {0};
    pyab_trace *tr;
    json_t *info, *rate;

    pyab_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        pyab_buf_addf(&b, "{\"t\": %.6f, \"route\": \"/a\"}\n", (double)i * step);
    tr = pyab_trace_load_mem("even.jsonl", b.data, b.len, &err);
    pyab_buf_finish(&b);
    if (tr == NULL)
        return json_object();
    info = pyab_traceinfo_compute(tr);
    rate = json_incref(json_object_get(info, "rate"));
    *width = num(rate, "bucket_s");
    json_decref(info);
    pyab_trace_destroy(tr);
    return rate;
}

/*
 * The last bucket is rated over the time it covers: 2000 req/s for 5.03 s
 * is 2000 req/s in every bucket, not 60 req/s in the last (the default
 * trace's "min 65" of the QA report). A last bucket under half a width is
 * left out of min/median/max; one over half is in, at its true rate.
 */
static void test_partial_last_bucket(void)
{
    double w;
    json_t *r = rate_of(10061, 0.0005, &w); /* 0 .. 5.03 s */
    json_t *counts = json_object_get(r, "counts"), *rps = json_object_get(r, "rates_rps");

    CHECK(w == 1 && json_array_size(counts) == 6 && json_array_size(rps) == 6);
    CHECK_NEAR(num(r, "last_bucket_s"), 0.03, 1e-9);
    CHECK(json_integer_value(json_array_get(counts, 5)) == 61);
    CHECK_NEAR(json_number_value(json_array_get(rps, 5)), 61 / 0.03, 1e-6);
    CHECK_NEAR(num(r, "min_rps"), 2000, 0.5);
    CHECK_NEAR(num(r, "max_rps"), 2000, 0.5);
    json_decref(r);

    r = rate_of(57, 0.1, &w); /* 0 .. 5.6 s at 10 req/s: the last bucket covers 0.6 s */
    CHECK(w == 1 && json_array_size(json_object_get(r, "counts")) == 6);
    CHECK_NEAR(num(r, "last_bucket_s"), 0.6, 1e-9);
    CHECK_NEAR(json_number_value(json_array_get(json_object_get(r, "rates_rps"), 5)), 7 / 0.6,
               1e-9); /* 5.0 .. 5.6 inclusive of the edge request */
    CHECK_NEAR(num(r, "min_rps"), 10, 1e-9);
    json_decref(r);
}

/* Bucket widths come from the documented list, then whole days; never "per 658053 s". */
static void test_width_list(void)
{
    static const struct {
        double duration, width;
    } cases[] = {
        {59, 1},          {61, 2},          {3000, 60},       {3601, 120},   {7 * 3600, 600}, {45000, 900},
        {40 * 3600, 3600}, {100 * 3600, 7200}, {10 * 86400, 21600}, {20 * 86400, 43200},
        {60 * 86400, 86400}, {100 * 86400, 2 * 86400}, {457 * 86400, 8 * 86400},
    };
    double w;

    for (size_t i = 0; i < PYAB_ARRAY_LEN(cases); i++) {
        json_t *r = rate_of(2, cases[i].duration, &w);
        CHECK(w == cases[i].width);
        if (w != cases[i].width)
            fprintf(stderr, "  duration %g: width %g, expected %g\n", cases[i].duration, w,
                    cases[i].width);
        CHECK(json_array_size(json_object_get(r, "counts")) <= 60);
        json_decref(r);
    }
}

static const struct check_test tests[] = {
    CHECK_TEST(test_known),
    CHECK_TEST(test_buckets),
    CHECK_TEST(test_partial_last_bucket),
    CHECK_TEST(test_width_list),
};

int main(int argc, char **argv)
{
    return check_run("traceinfo", tests, CHECK_COUNT(tests), argc, argv);
}
