/*
 * Unit tests of the verdict engine: synthetic results folders, written by
 * code into a temporary directory, whose right answer is known (a leak of
 * 256 B/request, a sawtooth, a cache that fills, a step, pure noise, A/B
 * differences), plus the samples.csv reader and the bad-folder errors.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "table.h"
#include "check.h"
#include "cmds.h"
#include "series.h"

#define MB 1048576.0

/* The shape of one synthetic rep: levels, growth per request, and disturbances. */
typedef struct shape {
    double py_leak, native_leak, rss_leak, free_leak; /* bytes per request */
    double saw_amp, saw_period;   /* Python heap sawtooth (cleared every period) */
    double cache_bytes, cache_fill; /* bounded cache: fills over cache_fill requests */
    double step_bytes, step_at;
    double noise;                 /* sd of the AR(1) noise, as a fraction of RSS */
    double quiesce_drop;          /* bytes malloc_trim gives back at the end */
    double throughput;
    long requests, samples, warmup;
    double py_level_mb; /* the Python heap's level; 0: 12 MB */
} shape;

static const shape base = {
    .noise = 0.005, .throughput = 500, .requests = 20000, .samples = 400, .warmup = 20,
};

static char tmpl[] = "/tmp/pyab-test-analyze-XXXXXX";
static const char *root;
static uint64_t rng;

static double uniform(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return ((double)((z ^ (z >> 31)) >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(void)
{
    return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void write_rep(const char *dir, const char *arm, int k, const shape *s)
{
    char *repdir = xasprintf("%s/arms/%s/rep-%d", dir, arm, k), *path;
    double py0 = s->py_level_mb > 0 ? s->py_level_mb * MB : 12 * MB;
    double e = 0, e2 = 0, rss0 = 38 * MB + py0, nat0 = 8 * MB, free0 = 2 * MB;
    double rate = s->throughput, py = 0, rss = 0, nat = 0, fr = 0;
    long total = s->warmup + s->samples;
    pyab_buf b;

    pyab_mkdirs(repdir);
    pyab_buf_init(&b);
    pyab_buf_adds(&b, "t_s,requests,rss_bytes,pyheap_bytes,pymalloc_arena_bytes,"
                      "native_heap_bytes,native_free_bytes,gc_count0,gc_count1,gc_count2,"
                      "gc_collections,gc_pause_s,errors,latency_p50_ms,latency_p99_ms,phase\n");
    for (long i = 0; i < total; i++) {
        double req = floor((double)(i + 1) * (double)s->requests / (double)total), t = req / rate;
        const char *phase = i < s->warmup ? "warmup" : i == total - 1 ? "end" : "run";
        double cache = s->cache_fill > 0 ? s->cache_bytes * fmin(1, req / s->cache_fill) : 0;
        double saw = s->saw_period > 0 ? s->saw_amp * fmod(req, s->saw_period) / s->saw_period : 0;
        double step = s->step_at > 0 && req >= s->step_at ? s->step_bytes : 0;

        /* Autocorrelated noise, as RSS really moves: each sample remembers the last. */
        e = 0.7 * e + s->noise * rss0 * gauss();
        e2 = 0.7 * e2 + s->noise * py0 * gauss();
        py = py0 + s->py_leak * req + saw + cache + step + e2;
        nat = nat0 + s->native_leak * req + 0.2 * e;
        fr = free0 + s->free_leak * req + 0.1 * e;
        rss = rss0 + (py - py0) + (nat - nat0) + (fr - free0) + s->rss_leak * req + e;
        pyab_buf_addf(&b, "%.3f,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,1,2,3,6,%.4f,0,%s,%s,%s\n", t, req,
                      rss, py, py, nat, fr, 0.01 * t, i % 7 ? "1.5" : "", i % 7 ? "9.5" : "",
                      phase);
    }
    pyab_buf_addf(&b, "%.3f,%ld,%.0f,%.0f,%.0f,%.0f,%.0f,1,2,3,6,0,0,,,quiesce\n",
                  (double)s->requests / rate + 1, s->requests, rss - s->quiesce_drop, py, py,
                  nat, fr);
    path = pyab_path_join(repdir, "samples.csv");
    write_file(path, b.data);
    free(path);
    path = pyab_path_join(repdir, "events.jsonl");
    write_file(path, "{\"gen\": 0, \"t_s\": 1.0, \"duration_s\": 0.001, \"collected\": 5, \"uncollectable\": 0}\n"
                     "{\"gen\": 2, \"t_s\": 2.0, \"duration_s\": 0.020, \"collected\": 9, \"uncollectable\": 0}\n");
    free(path);
    pyab_buf_finish(&b);
    free(repdir);
}

typedef struct arm_spec {
    const char *name;
    shape s;
    int reps;
} arm_spec;

/* Writes a whole results folder; returns it (new string). analysis may be NULL. */
static char *make_folder(const char *name, const arm_spec *arms, int narms, const char *analysis,
                         uint64_t seed)
{
    char *dir = xasprintf("%s/%s", root, name), *path;
    pyab_buf b;

    rng = seed;
    pyab_mkdirs(dir);
    pyab_buf_init(&b);
    pyab_buf_addf(&b, "{\"scenario\": \"%s\", \"status\": \"complete\", \"control\": \"%s\", \"arms\": {",
                  name, arms[0].name);
    for (int a = 0; a < narms; a++) {
        pyab_buf_addf(&b, "%s\"%s\": {\"reps\": [", a ? ", " : "", arms[a].name);
        for (int k = 1; k <= arms[a].reps; k++) {
            double tp = arms[a].s.throughput * (1 + 0.02 * gauss());
            write_rep(dir, arms[a].name, k, &arms[a].s);
            pyab_buf_addf(&b, "%s{\"rep\": %d, \"outcome\": \"ok\", \"requests\": %ld, "
                          "\"throughput_rps\": %.3f, \"latency_ms\": {\"p99\": %.3f}, "
                          "\"peak_rss_bytes\": %.0f}", k > 1 ? ", " : "", k, arms[a].s.requests,
                          tp, 10 + gauss(), 60 * MB);
        }
        pyab_buf_addf(&b, "%s{\"rep\": %d, \"outcome\": \"crashed\", \"reason\": \"signal 11\"}]}",
                      arms[a].reps ? ", " : "", arms[a].reps + 1);
    }
    pyab_buf_adds(&b, "}}\n");
    path = pyab_path_join(dir, "summary.json");
    write_file(path, b.data);
    free(path);
    if (analysis) {
        char *m = xasprintf("{\"scenario\": {\"name\": \"%s\", \"analysis\": %s}}\n", name, analysis);
        path = pyab_path_join(dir, "manifest.json");
        write_file(path, m);
        free(path);
        free(m);
    }
    pyab_buf_finish(&b);
    return dir;
}

static json_t *analyze_one(const char *name, shape s, int reps, const char *analysis, uint64_t seed)
{
    arm_spec arm = {"base", s, reps};
    char *dir = make_folder(name, &arm, 1, analysis, seed);
    pyab_error err = {0};
    json_t *summary, *out;

    CHECK(pyab_analyze_dir(dir, &err) == 0);
    if (err.text[0])
        fprintf(stderr, "%s\n", err.text);
    summary = pyab_analyze_summary(dir, &err);
    free(dir);
    if (summary == NULL)
        return NULL;
    out = json_incref(json_object_get(json_object_get(summary, "arms"), "base"));
    json_decref(summary);
    return out;
}

static const char *str(json_t *arm, const char *key)
{
    const char *s = json_string_value(json_object_get(arm, key));
    return s ? s : "(none)";
}

static double slope(json_t *arm, const char *metric)
{
    return json_number_value(json_object_get(json_object_get(json_object_get(arm, "slopes"),
                                                             metric), "bytes_per_request"));
}

/* Runs one case and checks verdict and attribution; prints the evidence when they differ. */
static json_t *expect(const char *name, shape s, int reps, const char *analysis,
                      const char *verdict, const char *attribution)
{
    json_t *arm = analyze_one(name, s, reps, analysis, 42);
    CHECK(arm != NULL);
    if (arm == NULL)
        return NULL;
    CHECK(strcmp(str(arm, "verdict"), verdict) == 0);
    CHECK(attribution == NULL || strcmp(str(arm, "attribution"), attribution) == 0);
    if (strcmp(str(arm, "verdict"), verdict) != 0 ||
        (attribution && strcmp(str(arm, "attribution"), attribution) != 0)) {
        char *ev = json_dumps(json_object_get(arm, "evidence"), JSON_INDENT(1));
        fprintf(stderr, "%s: %s/%s\n%s\n", name, str(arm, "verdict"), str(arm, "attribution"), ev);
        free(ev);
    }
    return arm;
}

static void test_python_leak(void)
{
    shape s = base;
    json_t *arm, *ev;
    s.py_leak = 256;
    arm = expect("pyleak", s, 3, NULL, "leak", "python-heap");
    CHECK_NEAR(slope(arm, "pyheap"), 256, 25);
    CHECK_NEAR(slope(arm, "rss"), 256, 40);
    ev = json_object_get(arm, "evidence");
    CHECK(json_integer_value(json_object_get(ev, "reps_used")) == 3);
    CHECK(json_array_size(json_object_get(ev, "reps_skipped")) == 1);
    CHECK(json_integer_value(json_array_get(json_object_get(json_object_get(ev, "discarded"),
                                                            "warmup_phase_samples"), 0)) == 20);
    CHECK(json_is_array(json_object_get(json_object_get(json_object_get(arm, "slopes"), "rss"),
                                        "ci")));
    CHECK(json_object_get(json_object_get(json_array_get(json_object_get(arm, "reps"), 0),
                                          "slopes"), "pyheap") != NULL);
    json_decref(arm);
}

static void test_native_leak(void)
{
    shape s = base;
    s.native_leak = 256;
    json_decref(expect("natleak", s, 3, NULL, "leak", "native-heap"));
}

static void test_rss_only(void)
{
    shape s = base;
    s.free_leak = 400;
    json_decref(expect("retention", s, 3, NULL, "leak", "retention"));
    s = base;
    s.rss_leak = 400;
    json_decref(expect("outside", s, 3, NULL, "leak", "outside-malloc"));
}

static void test_sawtooth(void)
{
    shape s = base;
    json_t *arm, *rep;
    s.saw_amp = 16 * MB;
    s.saw_period = 2000;
    arm = expect("saw", s, 3, NULL, "no-leak", "none");
    rep = json_array_get(json_object_get(arm, "reps"), 0);
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(json_object_get(rep, "slopes"),
                                                                 "pyheap"), "period_requests")),
               2000, 100);
    json_decref(arm);
    s.py_leak = 256;
    json_decref(expect("sawleak", s, 3, NULL, "leak", "python-heap"));
    /* The scenario may state the period; too few cycles then cannot be judged. */
    s.py_leak = 0;
    json_decref(expect("sawgiven", s, 3, "{\"period_requests\": 2000}", "no-leak", "none"));
    json_decref(expect("sawlong", s, 3, "{\"period_requests\": 6000}", "inconclusive", "none"));
}

static void test_bounded(void)
{
    shape s = base;
    s.cache_bytes = 10 * MB;
    s.cache_fill = 4000;
    json_decref(expect("cache", s, 3, NULL, "no-leak", "none"));
    s = base;
    s.step_bytes = 8 * MB;
    s.step_at = 12000;
    json_decref(expect("step", s, 3, NULL, "no-leak", "none"));
}

/*
 * The verdicts of 50 seeds of shape s (reps each): how many are leak and
 * how many no-leak; the others are printed with their first reason.
 */
static void verdicts_of_seeds(const char *prefix, shape s, int reps, uint64_t seed_mul,
                              int *leaks, int *no_leaks)
{
    *leaks = *no_leaks = 0;
    for (int seed = 1; seed <= 50; seed++) {
        arm_spec arm = {"base", s, reps};
        char name[48], *dir;
        pyab_error err = {0};
        json_t *summary, *a;
        snprintf(name, sizeof(name), "%s-%d", prefix, seed);
        dir = make_folder(name, &arm, 1, NULL, (uint64_t)seed * seed_mul);
        summary = pyab_analyze_summary(dir, &err);
        CHECK(summary != NULL);
        a = json_object_get(json_object_get(summary, "arms"), "base");
        *leaks += strcmp(str(a, "verdict"), "leak") == 0;
        *no_leaks += strcmp(str(a, "verdict"), "no-leak") == 0;
        if (strcmp(str(a, "verdict"), "no-leak") != 0)
            printf("%s seed %d: %s: %s\n", prefix, seed, str(a, "verdict"),
                   json_string_value(json_array_get(json_object_get(json_object_get(a, "evidence"),
                                                                    "reasons"), 0)));
        json_decref(summary);
        free(dir);
    }
}

/* The false-alarm budget is zero: noise alone must never be called a leak. */
static void test_noise(void)
{
    int leaks, no_leaks;
    shape s = base;

    s.noise = 0.01;
    verdicts_of_seeds("noise", s, 3, 7919, &leaks, &no_leaks);
    printf("noise: %d leak, %d no-leak of 50\n", leaks, no_leaks);
    CHECK(leaks == 0);
    CHECK(no_leaks >= 45);
}

static json_t *figure(json_t *summary, const char *name)
{
    json_t *c = json_array_get(json_object_get(summary, "comparisons"), 0);
    return json_object_get(json_object_get(c, "figures"), name);
}

static void test_ab(void)
{
    arm_spec arms[2] = {{"control", base, 5}, {"tuned", base, 5}};
    pyab_error err = {0};
    char *dir;
    json_t *summary;

    arms[1].s.throughput = 600;
    arms[1].s.py_leak = 256;
    dir = make_folder("ab", arms, 2, "{\"control\": \"control\"}", 11);
    summary = pyab_analyze_summary(dir, &err);
    CHECK(summary != NULL);
    CHECK(json_array_size(json_object_get(summary, "comparisons")) == 1);
    CHECK(json_is_true(json_object_get(figure(summary, "throughput_rps"), "significant")));
    CHECK(json_number_value(json_object_get(figure(summary, "throughput_rps"), "p")) < 0.05);
    CHECK(json_is_true(json_object_get(figure(summary, "pyheap_slope"), "significant")));
    CHECK(!json_is_true(json_object_get(figure(summary, "latency_p99_ms"), "significant")));
    CHECK(!json_is_true(json_object_get(figure(summary, "peak_rss_bytes"), "significant")));
    CHECK(figure(summary, "gc_pause_p99_ms") != NULL);
    CHECK(figure(summary, "gc_time_share") != NULL);
    pyab_table_print(stdout, summary);
    json_decref(summary);
    free(dir);

    arms[1].s = base;
    dir = make_folder("aa", arms, 2, NULL, 12);
    summary = pyab_analyze_summary(dir, &err);
    CHECK(summary != NULL);
    CHECK(!json_is_true(json_object_get(figure(summary, "throughput_rps"), "significant")));
    CHECK(!json_is_true(json_object_get(figure(summary, "rss_slope"), "significant")));
    CHECK(!json_is_true(json_object_get(figure(summary, "pyheap_slope"), "significant")));
    CHECK_CONTAINS(json_string_value(json_object_get(json_array_get(
                       json_object_get(summary, "comparisons"), 0), "statement")), "5 vs 5");
    json_decref(summary);
    free(dir);
}

static void test_series(void)
{
    const char *ok = "requests,t_s,rss_bytes,phase,errors\n1,0.5,100,warmup,\n2,1.0,,run,7\r\n";
    pyab_error err = {0};
    pyab_series *s = pyab_series_parse("s.csv", ok, strlen(ok), &err);

    CHECK(s != NULL && s->n == 2);
    if (s) {
        CHECK(pyab_series_column(s, "rss_bytes")[0] == 100);
        CHECK(isnan(pyab_series_column(s, "rss_bytes")[1]));
        CHECK(pyab_series_column(s, "errors")[1] == 7);
        CHECK(pyab_series_column(s, "missing") == NULL);
        CHECK(s->phase[0] == PYAB_PHASE_WARMUP && s->phase[1] == PYAB_PHASE_RUN);
    }
    pyab_series_destroy(s);
    CHECK(pyab_series_parse("b.csv", "t_s,requests,phase\n1,2,run\n1,x,run\n", 34, &err) == NULL);
    CHECK_CONTAINS(err.text, "b.csv:3: column requests: 'x' is not a number");
    CHECK(pyab_series_parse("c.csv", "t_s,requests,phase\n1,2\n", 22, &err) == NULL);
    CHECK_CONTAINS(err.text, "c.csv:2: 2 fields");
    CHECK(pyab_series_parse("d.csv", "t_s,requests,phase\n1,2,later\n", 29, &err) == NULL);
    CHECK_CONTAINS(err.text, "d.csv:2: unknown phase 'later'");
    CHECK(pyab_series_parse("e.csv", "t_s,phase\n", 10, &err) == NULL);
    CHECK_CONTAINS(err.text, "e.csv:1:");
    CHECK(pyab_series_parse("f.csv", "t_s,requests,phase\n2,5,run\n1,6,run\n", 35, &err) == NULL);
    CHECK_CONTAINS(err.text, "f.csv:3:");
    CHECK(pyab_series_load("/nonexistent/samples.csv", &err) == NULL);
    CHECK_CONTAINS(err.text, "/nonexistent/samples.csv");
}

/* The rep's "skipped" reason in evidence.reps_skipped, or "". */
static const char *skip_reason(json_t *summary, const char *arm, int rep)
{
    json_t *a = json_object_get(json_object_get(summary, "arms"), arm);
    json_t *list = json_object_get(json_object_get(a, "evidence"), "reps_skipped"), *e;
    size_t i;
    json_array_foreach(list, i, e)
        if (json_integer_value(json_object_get(e, "rep")) == rep &&
            json_is_string(json_object_get(e, "skipped")))
            return json_string_value(json_object_get(e, "skipped"));
    return "";
}

/* An ok rep whose folder or samples.csv is gone or bad is skipped, with the reason; the rest decide. */
static void skipped_reps(void)
{
    shape s = base;
    arm_spec arms[2] = {{"base", base, 3}, {"b", base, 3}};
    pyab_error err = {0};
    char *dir, *path, *cmd, *argv[3] = {(char *)"compare", NULL, NULL};
    json_t *summary, *arm;

    s.py_leak = 256;
    arms[1].s = s;
    dir = make_folder("skips", arms, 2, NULL, 5);
    path = xasprintf("%s/arms/b/rep-2/samples.csv", dir);
    write_file(path, "t_s,requests,phase\n0,0,run\nboom\n");
    cmd = xasprintf("rm -rf '%s/arms/base/rep-3'", dir);
    CHECK(system(cmd) == 0);
    argv[1] = dir;
    CHECK(pyab_cmd_compare(2, argv) == PYAB_EXIT_OK);
    summary = pyab_analyze_summary(dir, &err);
    CHECK(summary != NULL);
    if (summary) {
        arm = json_object_get(json_object_get(summary, "arms"), "b");
        CHECK(strcmp(str(arm, "verdict"), "leak") == 0);
        CHECK(json_integer_value(json_object_get(json_object_get(arm, "evidence"), "reps_used")) == 2);
        CHECK_CONTAINS(skip_reason(summary, "b", 2), "samples.csv:3:");
        CHECK_CONTAINS(skip_reason(summary, "base", 3), "arms/base/rep-3/samples.csv");
        CHECK(strcmp(skip_reason(summary, "base", 1), "") == 0);
        /* Left out of the comparisons too: 2 vs 2 reps. */
        CHECK(json_integer_value(json_array_get(json_object_get(figure(summary, "pyheap_slope"),
                                                                "reps"), 0)) == 2);
        CHECK(json_integer_value(json_array_get(json_object_get(figure(summary, "throughput_rps"),
                                                                "reps"), 1)) == 2);
        json_decref(summary);
    }
    free(cmd);
    free(path);
    /* The folder-level files still stop it: summary.json. */
    path = xasprintf("%s/summary.json", dir);
    unlink(path);
    CHECK(pyab_cmd_compare(2, argv) == PYAB_EXIT_USAGE);
    free(path);
    free(dir);
}

/* analysis.* as the scenario loader checks it: key paths, full ranges, exit 2. */
static void test_validate(void)
{
    static const struct {
        const char *json, *message;
    } bad[] = {
        {"{\"foo\": 1}", "s.json: key \"analysis.foo\": unknown key (known: control,"},
        {"{\"confidence\": 7}", "s.json: key \"analysis.confidence\": must be a number above "
                                "0.5 and below 1 (e.g. 0.95)"},
        {"{\"confidence\": 0.5}", "above 0.5 and below 1"},
        {"{\"min_growth_pct\": 100}", "key \"analysis.min_growth_pct\": must be a number above "
                                     "0 and below 100"},
        {"{\"min_growth_mb\": -1}", "key \"analysis.min_growth_mb\": must be a number above 0"},
        {"{\"period_requests\": \"5\"}", "key \"analysis.period_requests\": must be a number"},
        {"{\"control\": 3}", "key \"analysis.control\": must be the name of an arm"},
        {"[1]", "s.json: key \"analysis\": must be an object"},
    };
    pyab_error err = {0};

    for (size_t i = 0; i < PYAB_ARRAY_LEN(bad); i++) {
        json_t *j = json_loads(bad[i].json, JSON_DECODE_ANY, NULL);
        memset(&err, 0, sizeof(err));
        CHECK(pyab_analyze_validate(j, "s.json", &err) == -EINVAL);
        CHECK(err.exit_code == PYAB_EXIT_USAGE);
        CHECK_CONTAINS(err.text, bad[i].message);
        json_decref(j);
    }
    json_t *good = json_loads("{\"control\": \"a\", \"confidence\": 0.9, \"min_growth_pct\": 5, "
                              "\"min_growth_mb\": 0.5, \"period_requests\": 100}", 0, NULL);
    CHECK(pyab_analyze_validate(good, "s.json", &err) == 0);
    CHECK(pyab_analyze_validate(NULL, "s.json", &err) == 0);
    json_decref(good);
}

/*
 * Certain, sustained growth past min_growth_pct of the level but under the
 * 1 MiB floor is not "no leak": inconclusive, with the run length that
 * settles it; a run that long then finds the leak.
 */
static void test_under_floor(void)
{
    shape s = base;
    json_t *arm, *py;
    double needed;

    s.py_leak = 40; /* 0.72 MB over 19k requests: 6% of the 12 MB Python heap */
    arm = expect("underfloor", s, 3, NULL, "inconclusive", "none");
    if (arm == NULL)
        return;
    py = json_object_get(json_object_get(json_object_get(arm, "evidence"), "metrics"), "pyheap");
    CHECK(json_integer_value(json_object_get(json_object_get(py, "reps_by_class"),
                                             "under-floor")) >= 2);
    needed = json_number_value(json_object_get(py, "requests_needed"));
    /* The floor at 40 B/request is 26214 measured requests; x1.5, plus the 1000 before. */
    CHECK(needed > 26214 && needed < 60000);
    CHECK_CONTAINS(str(json_object_get(arm, "evidence"), "next"), "requests per rep");
    json_decref(arm);
    s.requests = (long)needed;
    json_decref(expect("underfloor-long", s, 3, NULL, "leak", "python-heap"));
    /* A stopped growth of the same size stays no-leak: a cache that filled. */
    s = base;
    s.cache_bytes = 0.7 * MB;
    s.cache_fill = 12000;
    json_decref(expect("underfloor-cache", s, 3, NULL, "no-leak", "none"));
}

/*
 * A big, quiet heap (a 220 MB model loaded at import) that keeps 40
 * B/request: 0.76 MB over 19k requests, 0.35% of the level, certain and
 * sustained. Not no-leak: inconclusive, with the run that settles it; the
 * same heap without the leak stays no-leak over 50 noise seeds.
 */
static void test_under_floor_big_heap(void)
{
    shape s = base;
    int no_leaks, leaks;

    s.py_level_mb = 220;
    s.noise = 0.0005; /* 110 KB of noise on the Python heap */
    s.py_leak = 40;
    json_decref(expect("bigheap-leak", s, 1, NULL, "inconclusive", "none"));
    s.py_leak = 0;
    verdicts_of_seeds("bigheap-noise", s, 1, 104729, &leaks, &no_leaks);
    printf("big heap, no leak: %d leak, %d no-leak of 50\n", leaks, no_leaks);
    CHECK(leaks == 0);
    CHECK(no_leaks >= 47);
}

/* GC figures for the comparisons: the rep's own, else events.jsonl without pre-replay and pyab's. */
static void test_gc_figures(void)
{
    arm_spec arm = {"base", base, 2};
    pyab_error err = {0};
    char *dir = make_folder("gcfig", &arm, 1, NULL, 3), *path;
    json_t *summary, *reps;

    /* rep 1 has no "gc" figures and only import-time and quiesce collections in its events. */
    path = xasprintf("%s/arms/base/rep-1/events.jsonl", dir);
    write_file(path, "{\"gen\": 2, \"t_s\": -0.5, \"duration_s\": 0.007}\n"
                     "{\"gen\": 2, \"t_s\": 40.5, \"duration_s\": 0.005, \"cause\": \"quiesce\"}\n");
    free(path);
    path = xasprintf("%s/summary.json", dir);
    summary = json_load_file(path, 0, NULL);
    reps = json_object_get(json_object_get(json_object_get(summary, "arms"), "base"), "reps");
    /* rep 2 says it had no collections; its events.jsonl has two, which must not be used. */
    json_object_set_new(json_array_get(reps, 1), "gc",
                        json_pack("{sisnsf}", "collections", 0, "pause_p99_ms", "time_share", 0.0));
    json_dump_file(summary, path, 0);
    json_decref(summary);
    summary = pyab_analyze_summary(dir, &err);
    CHECK(summary != NULL);
    reps = json_object_get(json_object_get(json_object_get(summary, "arms"), "base"), "reps");
    for (size_t i = 0; i < 2; i++) {
        json_t *a = json_object_get(json_array_get(reps, i), "analysis");
        CHECK(a != NULL);
        CHECK(json_object_get(a, "gc_pause_p99_ms") == NULL);
    }
    CHECK(json_number_value(json_object_get(json_object_get(json_array_get(reps, 1), "analysis"),
                                            "gc_time_share")) == 0);
    json_decref(summary);
    free(path);
    free(dir);
}

static void test_bad_folders(void)
{
    arm_spec arm = {"base", base, 1};
    pyab_error err = {0};
    char *dir = make_folder("bad", &arm, 1, "{\"period\": 5}", 1), *path, *argv[3];

    CHECK(pyab_analyze_summary(dir, &err) == NULL);
    CHECK_CONTAINS(err.text, "bad/manifest.json: key \"scenario.analysis.period\": unknown key");
    CHECK(err.exit_code == PYAB_EXIT_USAGE);
    free(dir);
    dir = make_folder("bad2", &arm, 1, "{\"control\": \"nope\"}", 1);
    CHECK(pyab_analyze_summary(dir, &err) == NULL);
    CHECK_CONTAINS(err.text, "no arm named 'nope'");
    CHECK(err.exit_code == PYAB_EXIT_USAGE);
    free(dir);
    argv[0] = (char *)"compare";
    argv[2] = NULL;
    skipped_reps();
    dir = make_folder("bad3", &arm, 1, NULL, 1);
    argv[1] = dir;
    path = xasprintf("%s/summary.json", dir);
    write_file(path, "{\"arms\": ");
    CHECK(pyab_analyze_summary(dir, &err) == NULL);
    CHECK_CONTAINS(err.text, "summary.json:1:");
    CHECK(pyab_cmd_compare(2, argv) == PYAB_EXIT_USAGE);
    free(path);
    free(dir);
    dir = make_folder("good", &arm, 1, NULL, 1);
    argv[1] = dir;
    CHECK(pyab_cmd_compare(2, argv) == PYAB_EXIT_OK);
    free(dir);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_series),
    CHECK_TEST(test_python_leak),
    CHECK_TEST(test_native_leak),
    CHECK_TEST(test_rss_only),
    CHECK_TEST(test_sawtooth),
    CHECK_TEST(test_bounded),
    CHECK_TEST(test_noise),
    CHECK_TEST(test_under_floor_big_heap),
    CHECK_TEST(test_ab),
    CHECK_TEST(test_bad_folders),
    CHECK_TEST(test_validate),
    CHECK_TEST(test_under_floor),
    CHECK_TEST(test_gc_figures),
};

int main(int argc, char **argv)
{
    char *cmd;
    int rc;

    root = mkdtemp(tmpl);
    if (root == NULL)
        return 1;
    rc = check_run("analyze", tests, CHECK_COUNT(tests), argc, argv);
    /* PYAB_TEST_KEEP=1 keeps the folders, to read their summary.json by hand. */
    cmd = xasprintf("rm -rf '%s'", root);
    if (getenv("PYAB_TEST_KEEP"))
        printf("kept %s\n", root);
    else if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    free(cmd);
    return rc;
}
