/*
 * Unit tests of the comparisons' minimum effect (issue 13, item 8): a
 * difference the reps resolve but too small to matter (0.003 req/s of 100)
 * is "negligible", not significant, whatever its p; the table says so.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compare.h"
#include "table.h"
#include "util.h"

#define NREPS 5

static const double control_tput[NREPS] = {100.000, 100.001, 100.002, 100.001, 100.000};
static const double control_rss[NREPS] = {100000000, 100010000, 99990000, 100000000, 100005000};
static const double control_p99[NREPS] = {4.0, 4.1, 3.9, 4.0, 4.05};

/* An arm of NREPS ok reps, each control's figures plus the shifts. */
static json_t *arm(double tput_shift, double rss_shift, double p99_shift)
{
    json_t *reps = json_array();

    for (int i = 0; i < NREPS; i++)
        json_array_append_new(reps, json_pack("{s:i, s:s, s:f, s:f, s:{s:f}}", "rep", i + 1,
                                              "outcome", "ok", "throughput_rps",
                                              control_tput[i] + tput_shift, "peak_rss_bytes",
                                              control_rss[i] + rss_shift, "latency_ms", "p99",
                                              control_p99[i] + p99_shift));
    return json_pack("{s:o}", "reps", reps);
}

static json_t *compare(double tput_shift, double rss_shift, double p99_shift)
{
    json_t *summary = json_pack("{s:s, s:{s:o, s:o}}", "control", "control", "arms", "control",
                                arm(0, 0, 0), "tuned", arm(tput_shift, rss_shift, p99_shift));

    json_object_set_new(summary, "comparisons", pyab_compare_arms(summary, "control", 0.95));
    return summary;
}

static json_t *figure(json_t *summary, const char *name)
{
    json_t *c = json_array_get(json_object_get(summary, "comparisons"), 0);
    return json_object_get(json_object_get(c, "figures"), name);
}

static int is_true(json_t *fig, const char *key)
{
    return json_is_true(json_object_get(fig, key));
}

static double num(json_t *fig, const char *key)
{
    return json_number_value(json_object_get(fig, key));
}

/* Issue 13's case: -0.0027 req/s [-0.0047, -0.0008] was marked significant. */
static void test_tiny_difference_is_negligible(void)
{
    json_t *s = compare(-0.0027, 512 * 1024, 0.05), *f;

    f = figure(s, "throughput_rps");
    CHECK(f != NULL);
    CHECK(num(f, "p") < 0.05);                       /* the rank test resolves it */
    CHECK(json_number_value(json_array_get(json_object_get(f, "ci"), 1)) < 0); /* so does Welch */
    CHECK(is_true(f, "negligible"));
    CHECK(!is_true(f, "significant"));
    CHECK_NEAR(num(f, "min_effect"), 1.0, 1e-3);     /* 1% of 100 req/s */
    f = figure(s, "peak_rss_bytes");
    CHECK(is_true(f, "negligible") && !is_true(f, "significant"));
    CHECK_NEAR(num(f, "min_effect"), 1048576, 1);    /* 1 MiB, above 1% of 100 MB */
    f = figure(s, "latency_p99_ms");
    CHECK(is_true(f, "negligible") && !is_true(f, "significant"));
    CHECK_NEAR(num(f, "min_effect"), 0.05 * 4.01, 1e-9);
    json_decref(s);
}

static void test_material_difference_is_significant(void)
{
    json_t *s = compare(-5, 8 * 1048576.0, 1.0), *f;

    f = figure(s, "throughput_rps");
    CHECK(is_true(f, "significant") && !is_true(f, "negligible"));
    f = figure(s, "peak_rss_bytes");
    CHECK(is_true(f, "significant") && !is_true(f, "negligible"));
    f = figure(s, "latency_p99_ms");
    CHECK(is_true(f, "significant") && !is_true(f, "negligible"));
    json_decref(s);
}

/* Every figure carries a minimum effect, and the documented floors hold for a zero control. */
static void test_every_figure_has_a_minimum(void)
{
    for (size_t i = 0; i < pyab_compare_nfigures; i++) {
        const pyab_compare_figure *f = &pyab_compare_figures[i];
        CHECK(f->min_rel > 0 && f->min_rel <= 0.05);
        CHECK(f->min_abs >= 0);
        CHECK(f->min_abs > 0 || strcmp(f->name, "throughput_rps") == 0);
    }
}

static void test_table_shows_it(void)
{
    json_t *s = compare(-0.0027, 0, 1.0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    pyab_table_print(f, s);
    fclose(f);
    CHECK_CONTAINS(text, "min effect");
    CHECK_CONTAINS(text, "negligible");
    CHECK_CONTAINS(text, "significant");
    /* The throughput row: its minimum and its word. */
    const char *row = text ? strstr(text, "throughput_rps") : NULL;
    const char *end = row ? strchr(row, '\n') : NULL, *word = row ? strstr(row, "negligible") : NULL;
    CHECK(row != NULL && strstr(row, "1 req/s") != NULL);
    CHECK(end != NULL && word != NULL && word < end);
    free(text);
    json_decref(s);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_tiny_difference_is_negligible),
    CHECK_TEST(test_material_difference_is_significant),
    CHECK_TEST(test_every_figure_has_a_minimum),
    CHECK_TEST(test_table_shows_it),
};

int main(int argc, char **argv)
{
    return check_run("compare", tests, CHECK_COUNT(tests), argc, argv);
}
