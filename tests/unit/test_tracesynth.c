/*
 * Unit tests of `pyab trace synth`: reproducibility (same seed, same bytes),
 * the shapes of the spec (Poisson rate, cycle, bursts, batches, route mix,
 * sizes) within statistical tolerance, and errors naming the key path.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "trace.h"
#include "tracesynth.h"

/* Generates from a spec text; returns the JSONL (new) or NULL with err set. */
static char *synth(const char *spec_text, pyab_error *err, size_t *count)
{
    json_t *json = json_loads(spec_text, 0, NULL);
    pyab_synth_spec *spec;
    pyab_buf out;

    memset(err, 0, sizeof(*err));
    if (json == NULL) {
        pyab_error_set(err, "test spec is not JSON");
        return NULL;
    }
    spec = pyab_tracesynth_spec_parse("spec.json", json, err);
    json_decref(json);
    if (spec == NULL)
        return NULL;
    pyab_buf_init(&out);
    if (pyab_tracesynth_generate(spec, &out, count, err) < 0)
        pyab_buf_finish(&out);
    pyab_tracesynth_spec_destroy(spec);
    return out.data;
}

static pyab_trace *synth_load(const char *spec_text)
{
    pyab_error err;
    size_t count = 0;
    char *text = synth(spec_text, &err, &count);
    pyab_trace *tr;

    if (text == NULL) {
        fprintf(stderr, "synth failed: %s\n", err.text);
        return NULL;
    }
    tr = pyab_trace_load_mem("synth.jsonl", text, strlen(text), &err);
    if (tr == NULL)
        fprintf(stderr, "load failed: %s\n", err.text);
    else if (tr->count != count)
        fprintf(stderr, "count %zu != %zu\n", tr->count, count);
    free(text);
    return tr;
}

static size_t count_between(const pyab_trace *tr, double from, double to)
{
    size_t n = 0;
    for (size_t i = 0; i < tr->count; i++)
        n += tr->recs[i].t >= from && tr->recs[i].t < to;
    return n;
}

static void test_reproducible(void)
{
    const char *a = "{\"duration\": 30, \"rate\": 50, \"seed\": 3, \"routes\": [{\"route\": "
                    "\"/p\", \"size\": {\"dist\": \"lognormal\", \"median\": 100}}]}";
    const char *b = "{\"duration\": 30, \"rate\": 50, \"seed\": 4, \"routes\": [{\"route\": "
                    "\"/p\", \"size\": {\"dist\": \"lognormal\", \"median\": 100}}]}";
    pyab_error err;
    size_t n1, n2, n3;
    char *x = synth(a, &err, &n1), *y = synth(a, &err, &n2), *z = synth(b, &err, &n3);

    CHECK(x && y && z);
    if (x && y && z) {
        CHECK(n1 == n2 && strcmp(x, y) == 0);
        CHECK(strcmp(x, z) != 0);
    }
    free(x);
    free(y);
    free(z);
}

/* Poisson: the count over 1000 s at 20/s is 20000 +- 4 sigma (sigma = 141). */
static void test_rate(void)
{
    pyab_trace *tr = synth_load("{\"duration\": 1000, \"rate\": 20, \"routes\": ["
                                "{\"route\": \"/a\", \"weight\": 3, \"body\": \"none\"},"
                                "{\"route\": \"/b\", \"body\": \"none\"}]}");
    size_t a = 0;

    CHECK(tr != NULL);
    if (tr == NULL)
        return;
    CHECK_NEAR((double)tr->count, 20000, 4 * 141.5);
    for (size_t i = 0; i < tr->count; i++)
        a += strcmp(tr->routes[tr->recs[i].route], "/a") == 0;
    /* Binomial share 0.75: sigma of the count is sqrt(n 0.75 0.25) ~ 61. */
    CHECK_NEAR((double)a, 0.75 * (double)tr->count, 4 * 62.0);
    pyab_trace_destroy(tr);
}

/* The cycle moves the rate but keeps the mean over whole periods. */
static void test_cycle_and_burst(void)
{
    pyab_trace *tr = synth_load("{\"duration\": 1000, \"rate\": 20, \"cycle\": {\"period\": 200, "
                                "\"amplitude\": 0.8}, \"bursts\": [{\"start\": 1000, "
                                "\"duration\": 10}], \"routes\": [{\"body\": \"none\"}]}");
    CHECK(tr != NULL);
    if (tr == NULL)
        return;
    CHECK_NEAR((double)tr->count, 20000, 4 * 141.5);
    /* Each first half-period holds (1 + 2 0.8 / pi) / 2 of the period's requests. */
    size_t hi = 0, lo = 0;
    for (int k = 0; k < 5; k++) {
        hi += count_between(tr, k * 200.0, k * 200.0 + 100);
        lo += count_between(tr, k * 200.0 + 100, k * 200.0 + 200);
    }
    CHECK_NEAR((double)hi, 10000 * (1 + 1.6 / M_PI), 4 * 120.0);
    CHECK_NEAR((double)lo, 10000 * (1 - 1.6 / M_PI), 4 * 100.0);
    pyab_trace_destroy(tr);

    tr = synth_load("{\"duration\": 300, \"rate\": 10, \"bursts\": [{\"start\": 100, \"duration\": "
                    "100, \"multiplier\": 5}], \"routes\": [{\"body\": \"none\"}]}");
    CHECK(tr != NULL);
    if (tr == NULL)
        return;
    /* The trace's t starts at its first request, a fraction of a second after 0,
     * so the windows keep a second clear of the burst's edges. */
    CHECK_NEAR((double)count_between(tr, 101, 199), 5 * 10 * 98, 4 * 70.0);
    CHECK_NEAR((double)count_between(tr, 201, 299), 10 * 98, 4 * 32.0);
    pyab_trace_destroy(tr);
}

/* Batches alone (rate 0): every 30 s from 30, 10 requests over 1 s, sized 5000. */
static void test_batches(void)
{
    pyab_trace *tr = synth_load("{\"duration\": 100, \"rate\": 0, \"batches\": [{\"every\": 30, "
                                "\"count\": 10, \"route\": \"/batch\", \"size\": 5000, "
                                "\"body\": \"size\"}]}");
    json_t *rec;

    CHECK(tr != NULL);
    if (tr == NULL)
        return;
    CHECK(tr->count == 30 && tr->nroutes == 1);
    /* The trace's t starts at the first batch (30 s), so batches sit at 0, 30, 60. */
    for (int k = 0; k < 3; k++) {
        CHECK(count_between(tr, k * 30.0, k * 30.0 + 1) == 10);
        CHECK_NEAR(tr->recs[k * 10 + 9].t - tr->recs[k * 10].t, 0.9, 1e-6);
    }
    rec = pyab_trace_record_json(tr, 0);
    CHECK(json_integer_value(json_object_get(json_object_get(rec, "body"), "size")) == 5000);
    CHECK(strcmp(json_string_value(json_object_get(rec, "method")), "POST") == 0);
    json_decref(rec);
    pyab_trace_destroy(tr);
}

static void test_sizes_and_ids(void)
{
    pyab_trace *tr = synth_load("{\"duration\": 200, \"rate\": 10, \"routes\": [{\"route\": "
                                "\"/users/{id}/x\", \"ids\": 7, \"body\": \"filler\", \"size\": "
                                "{\"dist\": \"lognormal\", \"median\": 300, \"sigma\": 0.5}, "
                                "\"headers\": {\"X-Tenant\": \"t1\"}}]}");
    size_t below = 0;

    CHECK(tr != NULL);
    if (tr == NULL)
        return;
    for (size_t i = 0; i < tr->count; i++) {
        json_t *rec = pyab_trace_record_json(tr, i);
        const char *path = json_string_value(json_object_get(rec, "path"));
        json_t *filler = json_object_get(json_object_get(rec, "body"), "filler");
        long id = strtol(path + strlen("/users/"), NULL, 10);
        if (id < 1 || id > 7 || strcmp(strchr(path + 7, '/'), "/x") != 0)
            CHECK(!"path out of range");
        below += json_string_length(filler) < 300;
        if (i == 0)
            CHECK(strcmp(json_string_value(json_object_get(json_object_get(rec, "headers"),
                                                           "X-Tenant")), "t1") == 0);
        json_decref(rec);
    }
    CHECK(strcmp(tr->routes[0], "/users/{id}/x") == 0);
    /* Half the sizes fall below the median: binomial, sigma ~ 22 for 2000. */
    CHECK_NEAR((double)below, 0.5 * (double)tr->count, 4 * 23.0);
    pyab_trace_destroy(tr);
}

static const struct {
    const char *spec, *message;
} bad[] = {
    {"{\"rates\": 1}", "spec.json: rates: unknown key (known: duration, rate, seed, routes, "
                       "cycle, bursts, batches)"},
    {"{\"routes\": [{\"route\": \"/a\"}, {\"route\": \"/b\", \"wieght\": 2}]}",
     "spec.json: routes[1].wieght: unknown key"},
    {"{\"routes\": [{\"route\": \"/a\", \"weight\": 0}]}",
     "spec.json: routes[0].weight: must be a number > 0"},
    {"{\"routes\": [{\"route\": \"/a\", \"size\": {\"dist\": \"normal\"}}]}",
     "spec.json: routes[0].size.dist: must be"},
    {"{\"routes\": [{\"route\": \"/a\", \"size\": {\"median\": 1, \"sigm\": 1}}]}",
     "spec.json: routes[0].size.sigm: unknown key"},
    {"{\"routes\": [{\"route\": \"a\"}]}", "spec.json: routes[0].route: must start with '/'"},
    {"{\"routes\": []}", "spec.json: routes: must not be empty"},
    {"{\"cycle\": {\"perod\": 10}}", "spec.json: cycle.perod: unknown key"},
    {"{\"cycle\": {\"period\": 10, \"amplitude\": 2}}",
     "spec.json: cycle.amplitude: must be a number >= 0 and <= 1"},
    {"{\"bursts\": [{\"start\": 1, \"multiplier\": -1}]}",
     "spec.json: bursts[0].multiplier: must be a number >= 0"},
    {"{\"batches\": [{\"every\": 10, \"route\": \"/b\"}]}", "spec.json: batches[0].count: missing"},
    {"{\"batches\": [{\"every\": 10, \"count\": 1}]}", "spec.json: batches[0].route: missing"},
    {"{\"batches\": [{\"every\": 10, \"count\": 1, \"route\": \"/b\", \"weight\": 1}]}",
     "spec.json: batches[0].weight: unknown key"},
    {"{\"seed\": 1.5}", "spec.json: seed: must be an integer >= 0"},
    {"{\"rate\": 0}", "the spec gives no requests"},
    {"{\"routes\": [{\"headers\": {\"A\": 1}}]}", "spec.json: routes[0].headers.A: must be a string"},
};

static void test_bad(void)
{
    for (size_t i = 0; i < PYAB_ARRAY_LEN(bad); i++) {
        pyab_error err;
        size_t count;
        char *text = synth(bad[i].spec, &err, &count);
        CHECK(text == NULL);
        CHECK(err.exit_code == PYAB_EXIT_USAGE);
        CHECK_CONTAINS(err.text, bad[i].message);
        free(text);
    }
}

static const struct check_test tests[] = {
    CHECK_TEST(test_reproducible),
    CHECK_TEST(test_rate),
    CHECK_TEST(test_cycle_and_burst),
    CHECK_TEST(test_batches),
    CHECK_TEST(test_sizes_and_ids),
    CHECK_TEST(test_bad),
};

int main(int argc, char **argv)
{
    return check_run("tracesynth", tests, CHECK_COUNT(tests), argc, argv);
}
