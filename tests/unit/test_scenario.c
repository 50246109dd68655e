/* Unit tests of scenario parsing: defaults, arms merging, and every bad input. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "experiment.h"
#include "scenario.h"

#define BASE "\"name\": \"s\", \"app\": {\"path\": \"svc.py\"}, \"trace\": \"t.jsonl\""

static pyab_scenario *parse(const char *text, pyab_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    pyab_scenario *sc;

    memset(err, 0, sizeof(*err));
    if (root == NULL) {
        fprintf(stderr, "test JSON does not parse: %s\n", jerr.text);
        return NULL;
    }
    /* What the runner accepts: the parser, then the sections' validators. */
    sc = pyab_scenario_from_json("/srv/exp/scenario.json", root, err);
    json_decref(root);
    if (sc && pyab_experiment_validate_sections(sc, err) < 0) {
        pyab_scenario_destroy(sc);
        sc = NULL;
    }
    return sc;
}

static void test_defaults(void)
{
    pyab_error err;
    pyab_scenario *sc = parse("{" BASE "}", &err);

    CHECK(sc != NULL);
    if (sc == NULL)
        return;
    CHECK(sc->narms == 1 && strcmp(sc->arms[0].arm, "base") == 0);
    CHECK(sc->reps == 1);
    CHECK(sc->arms[0].load_model == PYAB_LOAD_OPEN);
    CHECK_NEAR(sc->arms[0].speed, 1.0, 0);
    CHECK(strcmp(sc->arms[0].app_target, "/srv/exp/svc.py") == 0);
    CHECK(strcmp(sc->arms[0].trace_path, "/srv/exp/t.jsonl") == 0);
    CHECK(strcmp(sc->arms[0].handler, "handle") == 0);
    CHECK(sc->arms[0].gc_enabled == 1 && sc->arms[0].gc_has_threshold == 0);
    CHECK(strcmp(sc->arms[0].py_allocator, "pymalloc") == 0);
    pyab_scenario_destroy(sc);
}

static void test_arms(void)
{
    pyab_error err;
    pyab_scenario *sc = parse("{" BASE ", \"workers\": 3, \"gc\": {\"threshold\": [700, 10, 10]},"
                              " \"reps\": 4, \"arms\": {\"a\": {}, \"b\": {\"gc\": {\"enabled\": false}},"
                              " \"c\": {\"gc\": {\"threshold\": [50000, 20, 20]}, \"workers\": 1}}}",
                              &err);

    CHECK(sc != NULL);
    if (sc == NULL)
        return;
    CHECK(sc->narms == 3 && sc->reps == 4);
    CHECK(sc->arms[0].workers == 3 && sc->arms[0].gc_enabled == 1);
    CHECK(sc->arms[1].gc_enabled == 0 && sc->arms[1].gc_threshold[0] == 700);
    CHECK(sc->arms[2].gc_threshold[0] == 50000 && sc->arms[2].workers == 1);
    /* The arm's effective JSON holds the merged, absolute settings. */
    CHECK(json_integer_value(json_object_get(sc->arms[1].json, "workers")) == 3);
    CHECK(json_is_false(json_object_get(json_object_get(sc->arms[1].json, "gc"), "enabled")));
    pyab_scenario_destroy(sc);
}

static const struct {
    const char *text, *message;
} bad[] = {
    {"[1]", "a scenario must be a JSON object"},
    {"{\"app\": {\"path\": \"a.py\"}, \"trace\": \"t\"}", "key \"name\": missing"},
    {"{" BASE ", \"colour\": 1}", "key \"colour\": unknown key"},
    {"{\"name\": \"s\", \"trace\": \"t\"}", "key \"app\": missing"},
    {"{\"name\": \"s\", \"app\": {\"path\": \"a\", \"module\": \"m\"}, \"trace\": \"t\"}",
     "key \"app\": needs exactly one of"},
    {"{\"name\": \"s\", \"app\": {\"wsgi\": \"m\"}, \"trace\": \"t\"}", "key \"app.wsgi\": must be \"module:attribute\""},
    {"{\"name\": \"s\", \"app\": {\"path\": \"a\", \"handle\": \"h\"}, \"trace\": \"t\"}",
     "key \"app.handle\": unknown key"},
    {"{\"name\": \"s\", \"app\": {\"path\": \"a\"}}", "key \"trace\": missing"},
    {"{" BASE ", \"load\": {\"model\": \"batch\"}}", "key \"load.model\": must be one of \"open\", \"closed\""},
    {"{" BASE ", \"load\": {\"speed\": 0}}", "key \"load.speed\": must be between"},
    {"{" BASE ", \"load\": {\"speed\": \"fast\"}}", "key \"load.speed\": must be a number"},
    {"{" BASE ", \"load\": {\"users\": 4}}", "key \"load.users\": only goes with \"model\": \"closed\""},
    {"{" BASE ", \"load\": {\"model\": \"closed\", \"loops\": 2}}", "key \"load.loops\": only goes with"},
    {"{" BASE ", \"load\": {\"model\": \"closed\", \"users\": 0}}", "key \"load.users\": must be between"},
    {"{" BASE ", \"workers\": 0}", "key \"workers\": must be between 1 and 256"},
    {"{" BASE ", \"workers\": 2.5}", "key \"workers\": must be an integer"},
    {"{" BASE ", \"warmup\": {\"requests\": 5, \"seconds\": 1}}", "key \"warmup\": give either"},
    {"{" BASE ", \"warmup\": {\"minutes\": 5}}", "key \"warmup.minutes\": unknown key"},
    {"{" BASE ", \"sample\": {\"interval_ms\": 0}}", "key \"sample.interval_ms\": must be between"},
    {"{" BASE ", \"sample\": {\"pyheap\": \"exact\"}}", "key \"sample.pyheap\": must be one of"},
    {"{" BASE ", \"timeout_ms\": -5}", "key \"timeout_ms\": must be between"},
    {"{" BASE ", \"gc\": {\"enabled\": 1}}", "key \"gc.enabled\": must be true or false"},
    {"{" BASE ", \"gc\": {\"threshold\": [1, 2]}}", "key \"gc.threshold\": must be a list of three"},
    {"{" BASE ", \"gc\": {\"threshold\": [1, -2, 3]}}", "key \"gc.threshold\": must be a list of three integers >= 0"},
    {"{" BASE ", \"gc\": {\"collect_every\": {}}}", "key \"gc.collect_every\": needs \"requests\" or \"seconds\""},
    {"{" BASE ", \"gc\": {\"collect_every\": {\"requests\": 10, \"generation\": 3}}}",
     "key \"gc.collect_every.generation\": must be between 0 and 2"},
    {"{" BASE ", \"allocator\": {\"python\": \"tcmalloc\"}}", "key \"allocator.python\": must be one of"},
    {"{" BASE ", \"allocator\": {\"preload\": \"hoard\"}}", "key \"allocator.preload\": must be \"jemalloc\""},
    {"{" BASE ", \"allocator\": {\"preload\": \"/no/such/lib.so\"}}", "key \"allocator.preload\": no such library file"},
    {"{" BASE ", \"allocator\": {\"malloc_arena_max\": 0}}", "key \"allocator.malloc_arena_max\": must be between"},
    {"{" BASE ", \"env\": {\"A\": 1}}", "key \"env.A\": must be a string"},
    {"{" BASE ", \"mocks\": [\"tensorflow\"]}", "key \"mocks\": must be an object"},
    {"{" BASE ", \"limits\": {\"rss_mb\": 0}}", "key \"limits.rss_mb\": must be between"},
    {"{" BASE ", \"limits\": {\"cpu\": 1}}", "key \"limits.cpu\": unknown key"},
    {"{" BASE ", \"limits\": {\"stall_seconds\": 0}}", "key \"limits.stall_seconds\": must be between"},
    {"{" BASE ", \"reps\": 0}", "key \"reps\": must be between 1 and 1000"},
    {"{" BASE ", \"order\": \"random\"}", "key \"order\": must be one of"},
    {"{" BASE ", \"arms\": {}}", "key \"arms\": must be an object mapping"},
    {"{" BASE ", \"arms\": {\"a/b\": {}}}", "key \"arms.a/b\": arm names must be"},
    {"{" BASE ", \"arms\": {\"x\": {\"name\": \"y\"}}}", "key \"arms.x.name\": unknown key"},
    {"{" BASE ", \"arms\": {\"x\": {\"gc\": {\"threshold\": 5}}}}", "key \"arms.x.gc.threshold\": must be a list"},
    {"{" BASE ", \"arms\": {\"x\": {\"workers\": 999}}}", "key \"arms.x.workers\": must be between"},
    {"{" BASE ", \"analysis\": {\"control\": \"nope\"}}", "key \"analysis.control\": names no arm"},
    {"{" BASE ", \"analysis\": {\"foo\": 1}}", "key \"analysis.foo\": unknown key"},
    {"{" BASE ", \"description\": 5}", "key \"description\": must be a string"},
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pyab_error err;
        pyab_scenario *sc = parse(bad[i].text, &err);
        CHECK(sc == NULL);
        CHECK(err.exit_code == PYAB_EXIT_USAGE);
        CHECK_CONTAINS(err.text, bad[i].message);
        CHECK_CONTAINS(err.text, "/srv/exp/scenario.json");
        pyab_scenario_destroy(sc);
    }
}

static void test_syntax_error(void)
{
    pyab_error err;
    FILE *f = fopen("/tmp/pyab-test-scenario.json", "w");

    fputs("{\n  \"name\": \"s\",\n  \"app\": {\"path\": \"a.py\",}\n}\n", f);
    fclose(f);
    CHECK(pyab_scenario_load("/tmp/pyab-test-scenario.json", &err) == NULL);
    CHECK_CONTAINS(err.text, "/tmp/pyab-test-scenario.json:3:");
    remove("/tmp/pyab-test-scenario.json");
    CHECK(pyab_scenario_load("/nonexistent/scenario.json", &err) == NULL);
    CHECK_CONTAINS(err.text, "/nonexistent/scenario.json");
}

static const struct check_test tests[] = {
    CHECK_TEST(test_defaults),
    CHECK_TEST(test_arms),
    CHECK_TEST(test_bad),
    CHECK_TEST(test_syntax_error),
};

int main(int argc, char **argv)
{
    return check_run("scenario", tests, CHECK_COUNT(tests), argc, argv);
}
