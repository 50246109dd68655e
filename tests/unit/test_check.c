/*
 * Unit tests of the nightly check's pieces: budget validation (directly and
 * through the scenario parser, with key paths), the budget rules on
 * synthetic arms, the regression rule, history change points, JUnit
 * escaping and structure.
 */
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "check.h"
#include "experiment.h"
#include "changes.h"
#include "history.h"
#include "junit.h"
#include "regress.h"
#include "scenario.h"

#define BASE "\"name\": \"s\", \"app\": {\"path\": \"svc.py\"}, \"trace\": \"t.jsonl\""

static const char *parse_error(const char *text)
{
    static pyab_error err;
    json_t *root = json_loads(text, 0, NULL);
    pyab_scenario *sc;

    memset(&err, 0, sizeof(err));
    sc = pyab_scenario_from_json("scenario.json", root, &err);
    json_decref(root);
    if (sc && pyab_experiment_validate_sections(sc, &err) < 0) {
        pyab_scenario_destroy(sc);
        sc = NULL;
    }
    if (sc) {
        pyab_scenario_destroy(sc);
        return NULL;
    }
    return err.text;
}

static void test_validate(void)
{
    CHECK(parse_error("{" BASE ", \"budgets\": {\"rss_slope_bytes_per_request\": 64, "
                      "\"peak_rss_mb\": 512, \"throughput_min_rps\": 5000}}") == NULL);
    CHECK_CONTAINS(parse_error("{" BASE ", \"budgets\": {\"rss_slope_bytes_per_reqest\": 64}}"),
                   "scenario.json: key \"budgets.rss_slope_bytes_per_reqest\": unknown key");
    CHECK_CONTAINS(parse_error("{" BASE ", \"budgets\": {\"peak_rss_mb\": \"512\"}}"),
                   "key \"budgets.peak_rss_mb\": must be a number");
    CHECK_CONTAINS(parse_error("{" BASE ", \"budgets\": {\"gc_pause_p99_ms\": -1}}"),
                   "key \"budgets.gc_pause_p99_ms\": must be a finite number >= 0");
    CHECK_CONTAINS(parse_error("{" BASE ", \"budgets\": [1]}"), "key \"budgets\": must be an object");
    CHECK_CONTAINS(parse_error("{" BASE ", \"arms\": {\"a\": {}, \"b\": {\"budgets\": "
                               "{\"pyheap_slope\": 1}}}}"),
                   "key \"arms.b.budgets.pyheap_slope\": unknown key");
}

/* An arm with a pooled slope interval and per-rep figures. */
static json_t *arm(double lo, double hi, const double *peak_mb, const double *rps, size_t n)
{
    json_t *reps = json_array();

    for (size_t i = 0; i < n; i++)
        /* The CPU each request costs follows throughput, as when the service got slower. */
        json_array_append_new(reps, json_pack(
            "{s:s, s:f, s:f, s:{s:f}, s:{s:{s:f}}, s:i, s:f}", "outcome", "ok", "peak_rss_bytes",
            peak_mb[i] * 1048576.0, "throughput_rps", rps[i], "gc", "pause_p99_ms", 1.0,
            "slopes", "pyheap", "bytes_per_request", (lo + hi) / 2 + (double)i,
            "requests", 10000, "cpu_s", 10000.0 / rps[i]));
    return json_pack("{s:o, s:{s:{s:f, s:[ff]}}}", "reps", reps, "slopes", "pyheap",
                     "bytes_per_request", (lo + hi) / 2, "ci", lo, hi);
}

static const char *status_of(json_t *checks, const char *name)
{
    size_t i;
    json_t *c;

    json_array_foreach(checks, i, c)
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
            return json_string_value(json_object_get(c, "status"));
    return "missing";
}

static void test_budget_rules(void)
{
    double peak[] = {600, 600, 100}, rps[] = {4000, 4500, 4800}, fast[] = {4000, 4500, 6000};
    json_t *b = json_pack("{s:f, s:f, s:f}", "pyheap_slope_bytes_per_request", 64.0,
                          "peak_rss_mb", 512.0, "throughput_min_rps", 5000.0);
    json_t *a = arm(70, 90, peak, rps, 3), *r = pyab_budget_evaluate(b, a);

    /* Interval wholly above the slope budget; 2 of 3 reps over the peak; every rep slow. */
    CHECK(strcmp(status_of(r, "pyheap_slope_bytes_per_request"), "fail") == 0);
    CHECK(strcmp(status_of(r, "peak_rss_mb"), "fail") == 0);
    CHECK(strcmp(status_of(r, "throughput_min_rps"), "fail") == 0);
    json_decref(r);
    json_decref(a);
    /* Interval reaching the budget passes however high the estimate; one rep fast enough can pass. */
    peak[1] = 100;
    a = arm(50, 200, peak, fast, 3);
    r = pyab_budget_evaluate(b, a);
    CHECK(strcmp(status_of(r, "pyheap_slope_bytes_per_request"), "pass") == 0);
    CHECK(strcmp(status_of(r, "peak_rss_mb"), "pass") == 0);
    CHECK(strcmp(status_of(r, "throughput_min_rps"), "pass") == 0);
    json_decref(r);
    json_decref(a);
    /* No ok rep: the budget cannot be checked, which is an error, not a pass. */
    a = arm(50, 200, peak, fast, 0);
    json_object_del(a, "slopes");
    r = pyab_budget_evaluate(b, a);
    CHECK(strcmp(status_of(r, "pyheap_slope_bytes_per_request"), "error") == 0);
    CHECK(strcmp(status_of(r, "peak_rss_mb"), "error") == 0);
    json_decref(r);
    json_decref(a);
    json_decref(b);
}

static void test_regress(void)
{
    double peak[] = {100, 101, 102}, peak2[] = {103, 104, 105}, peak3[] = {130, 131, 129};
    double rps[] = {1000, 1010, 990}, rps_slow[] = {400, 410, 390};
    json_t *base = arm(0, 1, peak, rps, 3), *same = arm(0, 1, peak2, rps, 3);
    json_t *worse = arm(200, 210, peak3, rps_slow, 3), *r;

    /* Fully separated but below the minimum effect (3 MiB < 10%): no regression. */
    r = pyab_regress_arm(same, base);
    CHECK(strcmp(status_of(r, "peak_rss_mb"), "pass") == 0);
    CHECK(strcmp(status_of(r, "pyheap_slope"), "pass") == 0);
    CHECK(strcmp(status_of(r, "throughput_rps"), "pass") == 0);
    CHECK(strcmp(status_of(r, "rss_slope"), "skip") == 0);
    json_decref(r);
    r = pyab_regress_arm(worse, base);
    CHECK(strcmp(status_of(r, "peak_rss_mb"), "fail") == 0);
    CHECK(strcmp(status_of(r, "pyheap_slope"), "fail") == 0);
    CHECK(strcmp(status_of(r, "throughput_rps"), "fail") == 0);
    CHECK(strcmp(status_of(r, "cpu_us_per_request"), "fail") == 0);
    json_decref(r);
    /* Slower on the wall clock at the same CPU cost per request: a busy machine, not a regression. */
    for (size_t i = 0; i < 3; i++) {
        json_t *rep = json_array_get(json_object_get(worse, "reps"), i);
        json_object_set_new(rep, "cpu_s", json_real(10000.0 / rps[i]));
    }
    r = pyab_regress_arm(worse, base);
    CHECK(strcmp(status_of(r, "throughput_rps"), "pass") == 0);
    CHECK(strcmp(status_of(r, "cpu_us_per_request"), "pass") == 0);
    {
        size_t i;
        json_t *c;
        json_array_foreach(r, i, c)
            if (strcmp(json_string_value(json_object_get(c, "name")), "throughput_rps") == 0)
                CHECK_CONTAINS(json_string_value(json_object_get(c, "message")), "machine was busier");
    }
    json_decref(r);
    /* Better is never a regression. */
    r = pyab_regress_arm(base, worse);
    CHECK(strcmp(status_of(r, "peak_rss_mb"), "pass") == 0);
    CHECK(strcmp(status_of(r, "throughput_rps"), "pass") == 0);
    json_decref(r);
    json_decref(base);
    json_decref(same);
    json_decref(worse);
}

static void test_change_points(void)
{
    double y[24];
    size_t at[8], n;
    uint64_t s = 12345;

    for (size_t i = 0; i < 24; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        y[i] = 100 + (double)(s >> 40) / (double)(1ULL << 24) * 4 - 2; /* +-2 noise */
    }
    CHECK(pyab_changes_find(y, 24, 5, at, 8) == 0);
    for (size_t i = 15; i < 24; i++)
        y[i] += 40;
    n = pyab_changes_find(y, 24, 5, at, 8);
    CHECK(n == 1 && at[0] == 15);
    /* A step larger than the noise but under the minimum effect does not count. */
    CHECK(pyab_changes_find(y, 24, 50, at, 8) == 0);
    /* Too short to judge. */
    CHECK(pyab_changes_find(y + 12, 5, 5, at, 8) == 0);
}

static void test_junit(void)
{
    pyab_buf b;
    json_t *rep = json_pack(
        "{s:[{s:s, s:s, s:f, s:[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]},"
        "    {s:s, s:s, s:s, s:f, s:[]}]}",
        "scenarios", "scenario", "a<b&\"c\"", "status", "fail", "duration_s", 1.5, "checks",
        "arm", "x", "kind", "budget", "name", "peak_rss_mb", "status", "fail", "message",
        "600 > 512 'MiB'\x01\nnext",
        "arm", "x", "kind", "regression", "name", "rss_slope", "status", "pass", "message", "ok",
        "scenario", "broken", "status", "error", "error", "bad <scenario>", "duration_s", 0.0,
        "checks");

    pyab_buf_init(&b);
    pyab_junit_render(&b, rep);
    CHECK_CONTAINS(b.data, "<testsuites name=\"pyab check\" tests=\"3\" failures=\"1\" errors=\"1\"");
    CHECK_CONTAINS(b.data, "<testsuite name=\"a&lt;b&amp;&quot;c&quot;\" tests=\"2\" failures=\"1\"");
    CHECK_CONTAINS(b.data, "classname=\"a&lt;b&amp;&quot;c&quot;.x\" name=\"budget peak_rss_mb\"");
    CHECK_CONTAINS(b.data, "<failure message=\"600 &gt; 512 &apos;MiB&apos;?&#10;next\" type=\"budget\">");
    CHECK_CONTAINS(b.data, "name=\"regression rss_slope\" time=\"0\"/>");
    CHECK_CONTAINS(b.data, "<error message=\"bad &lt;scenario&gt;\" type=\"run\">");
    CHECK(strchr(b.data, '\x01') == NULL);
    pyab_buf_finish(&b);
    json_decref(rep);

    /* A scenario kept from running by a bad one is one skipped "run" case. */
    rep = json_pack("{s:[{s:s, s:s, s:s, s:[]}, {s:s, s:s, s:s, s:[]}]}", "scenarios",
                    "scenario", "bad", "status", "error", "error", "t.jsonl:1:1: NUL byte",
                    "checks", "scenario", "good", "status", "skip", "message",
                    "not run: 1 scenario of this check failed validation", "checks");
    pyab_buf_init(&b);
    pyab_junit_render(&b, rep);
    CHECK_CONTAINS(b.data, "tests=\"2\" failures=\"0\" errors=\"1\" skipped=\"1\"");
    CHECK_CONTAINS(b.data, "<testsuite name=\"good\" tests=\"1\" failures=\"0\" errors=\"0\" "
                           "skipped=\"1\"");
    CHECK_CONTAINS(b.data, "<error message=\"t.jsonl:1:1: NUL byte\" type=\"run\">");
    CHECK_CONTAINS(b.data, "<skipped message=\"not run: 1 scenario of this check failed "
                           "validation\"/>");
    pyab_buf_finish(&b);
    json_decref(rep);
}

static json_t *values(const double *y, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, isnan(y[i]) ? json_null() : json_real(y[i]));
    return a;
}

/* What `pyab history` says of a metric without a change point. */
static void test_no_change_label(void)
{
    const double jump[] = {1000, 1010, 150000, 151000, 150500};
    const double flat[] = {1000, 1010, 990, 1005, NAN, 995, 1000};
    const double tail[] = {1000, 1010, 990, 1005, 995, 1000, 150000, 151000};
    const double last[] = {1000, 1010, 990, 1005, 995, 1000, 1002, 150000};
    json_t *v;

    /* A 150x jump over 5 runs cannot be a change point (3 runs each side): not "steady". */
    v = values(jump, 5);
    CHECK(strcmp(pyab_changes_no_change_label("rss_slope", v), "too few runs to tell") == 0);
    json_decref(v);
    v = values(flat, 7);
    CHECK(strcmp(pyab_changes_no_change_label("rss_slope", v), "steady") == 0);
    json_decref(v);
    v = values(flat, 6); /* 5 measured, one null */
    CHECK(strcmp(pyab_changes_no_change_label("rss_slope", v), "too few runs to tell") == 0);
    json_decref(v);
    v = values(tail, 8);
    CHECK_CONTAINS(pyab_changes_no_change_label("peak_rss_mb", v), "the last runs, which moved");
    json_decref(v);
    v = values(last, 8);
    CHECK_CONTAINS(pyab_changes_no_change_label("peak_rss_mb", v), "the last run, which moved");
    json_decref(v);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_validate),
    CHECK_TEST(test_budget_rules),
    CHECK_TEST(test_regress),
    CHECK_TEST(test_change_points),
    CHECK_TEST(test_junit),
    CHECK_TEST(test_no_change_label),
};

int main(int argc, char **argv)
{
    return check_run("check", tests, CHECK_COUNT(tests), argc, argv);
}
