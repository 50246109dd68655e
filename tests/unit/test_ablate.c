/*
 * ablate: the ranking and its conclusions on synthetic analysed summaries
 * (per-rep slopes written directly), and the "ablate" key validation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "check.h"

/* An arm with the given per-rep native slopes (B/request) and verdict. */
static json_t *arm(const double *slopes, size_t n, const char *verdict, const char *native_class)
{
    json_t *reps = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(reps, json_pack("{si ss s{s{sf}}}", "rep", (int)i + 1, "outcome",
                                              "ok", "slopes", "native", "bytes_per_request",
                                              slopes[i]));
    return json_pack("{so ss s{s{ss} s{ss}}}", "reps", reps, "verdict", verdict, "slopes",
                     "native", "class", native_class, "pyheap", "class", "flat");
}

static json_t *summary(double c, double s1, double s2, double all, const char *verdict)
{
    double jitter[3] = {0.97, 1.0, 1.03};
    double v[4][3];
    double base[4] = {c, s1, s2, all};

    for (int a = 0; a < 4; a++)
        for (int r = 0; r < 3; r++)
            v[a][r] = base[a] * jitter[(r + a) % 3];
    return json_pack("{s{so so so so}}", "arms", "control",
                     arm(v[0], 3, verdict, strcmp(verdict, "leak") == 0 ? "grows" : "flat"),
                     "swap-a", arm(v[1], 3, "leak", "grows"), "swap-b", arm(v[2], 3, "leak", "grows"),
                     "all", arm(v[3], 3, "no-leak", "flat"));
}

static const char *const suspects[] = {"a", "b"};
static const char *const arms[] = {"swap-a", "swap-b"};

static json_t *rank(json_t *s)
{
    json_t *ab = pyab_ablate_rank(s, "control", suspects, arms, 2, "all", "auto");
    json_decref(s);
    return ab;
}

static double removed(json_t *ab, size_t i)
{
    return json_number_value(json_object_get(json_array_get(json_object_get(ab, "ranking"), i),
                                             "growth_removed"));
}

static const char *name(json_t *ab, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(ab, "ranking"), i), "suspect"));
}

static void test_culprit_first(void)
{
    /* b is the culprit: swapping it leaves 5% of the growth. */
    json_t *ab = rank(summary(1000, 990, 50, 20, "leak"));
    json_t *ci = json_object_get(json_array_get(json_object_get(ab, "ranking"), 0), "ci");

    CHECK(strcmp(json_string_value(json_object_get(ab, "metric")), "native") == 0);
    CHECK(strcmp(name(ab, 0), "b") == 0 && strcmp(name(ab, 1), "a") == 0);
    CHECK_NEAR(removed(ab, 0), 0.95, 0.01);
    CHECK_NEAR(removed(ab, 1), 0.01, 0.01);
    CHECK(json_number_value(json_array_get(ci, 0)) > 0.9 &&
          json_number_value(json_array_get(ci, 1)) < 1.0);
    CHECK(json_array_size(json_object_get(ab, "implicated")) == 1);
    CHECK(json_is_false(json_object_get(ab, "interaction")));
    CHECK_CONTAINS(json_string_value(json_object_get(ab, "conclusion")), "swapping out b alone");
    json_decref(ab);
}

static void test_interaction(void)
{
    /* Each swap alone removes 30%; all together remove 95%. */
    json_t *ab = rank(summary(1000, 700, 700, 50, "leak"));

    CHECK(json_is_true(json_object_get(ab, "interaction")));
    CHECK(json_array_size(json_object_get(ab, "implicated")) == 0);
    CHECK_CONTAINS(json_string_value(json_object_get(ab, "conclusion")),
                   "no single swap removes half");
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(ab, "all_swapped"),
                                                 "growth_removed")), 0.95, 0.01);
    json_decref(ab);
}

static void test_elsewhere_and_no_leak(void)
{
    json_t *ab = rank(summary(1000, 950, 960, 900, "leak"));

    CHECK(json_is_false(json_object_get(ab, "interaction")));
    CHECK_CONTAINS(json_string_value(json_object_get(ab, "conclusion")), "somewhere else");
    json_decref(ab);
    /* A control that does not leak implicates nothing, whatever the noise says. */
    ab = rank(summary(20, 1, 19, 2, "no-leak"));
    CHECK(json_array_size(json_object_get(ab, "implicated")) == 0);
    CHECK(strcmp(json_string_value(json_object_get(ab, "metric")), "rss") == 0);
    CHECK_CONTAINS(json_string_value(json_object_get(ab, "conclusion")), "no suspect is implicated");
    json_decref(ab);
    /* No growth at all: no share can be taken. */
    ab = rank(summary(0, 0, 0, 0, "no-leak"));
    CHECK(json_is_null(json_object_get(json_array_get(json_object_get(ab, "ranking"), 0),
                                       "growth_removed")));
    json_decref(ab);
}

static void test_validate(void)
{
    static const struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"suspects\": {\"a\": \"test_ablate.c\"}, \"extra\": 1}", "key \"ablate.extra\""},
        {"{\"suspects\": {\"a..b\": \"test_ablate.c\"}}", "key \"ablate.suspects.a..b\""},
        {"{\"suspects\": {\"a\": \"nope.py\"}}", "no such stand-in"},
        {"{\"suspects\": {\"a\": \"test_ablate.c\"}, \"metric\": 3}", "key \"ablate.metric\""},
        {"{\"suspects\": []}", "key \"ablate.suspects\""},
    };
    pyab_error err;
    json_t *j;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        j = json_loads(bad[i].json, 0, NULL);
        CHECK(pyab_ablate_validate(j, "s.json", "unit", &err) < 0);
        CHECK_CONTAINS(err.text, bad[i].needle);
        CHECK(err.exit_code == PYAB_EXIT_USAGE);
        json_decref(j);
    }
    j = json_loads("{\"suspects\": {\"tf.keras\": \"test_ablate.c\"}, \"metric\": \"rss\"}", 0,
                   NULL);
    CHECK(pyab_ablate_validate(j, "s.json", "unit", &err) == 0);
    json_decref(j);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_culprit_first),
    CHECK_TEST(test_interaction),
    CHECK_TEST(test_elsewhere_and_no_leak),
    CHECK_TEST(test_validate),
};

int main(int argc, char **argv)
{
    return check_run("ablate", tests, CHECK_COUNT(tests), argc, argv);
}
