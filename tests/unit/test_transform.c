/* Unit tests of the replay transforms: route filters, the seeded sample, errors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "transform.h"

static pyab_trace *make_trace(size_t n)
{
    static const char *const routes[] = {"/a", "/b", "/c"};
    size_t cap = n * 64 + 1, len = 0;
    char *text = malloc(cap);
    pyab_error err = {0};
    pyab_trace *tr;

    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "{\"t\": %zu, \"route\": \"%s\"}\n", i,
                                routes[i % 3]);
    tr = pyab_trace_load_mem("t.jsonl", text, len, &err);
    free(text);
    return tr;
}

static void config(pyab_config *cfg, const char *routes, const char *exclude, double share)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->sample_share = share;
    cfg->seed = 1;
    cfg->routes = routes ? json_loads(routes, 0, NULL) : NULL;
    cfg->exclude_routes = exclude ? json_loads(exclude, 0, NULL) : NULL;
}

static void release(pyab_config *cfg)
{
    json_decref(cfg->routes);
    json_decref(cfg->exclude_routes);
}

static void test_filters(void)
{
    pyab_trace *tr = make_trace(30);
    pyab_config cfg;
    pyab_error err = {0};
    uint32_t *keep;
    size_t n;

    config(&cfg, NULL, NULL, 1);
    CHECK(pyab_transform_select(&cfg, tr, "s.json", &keep, &n, &err) == 0);
    CHECK(n == 30 && keep[0] == 0 && keep[29] == 29);
    free(keep);
    release(&cfg);

    config(&cfg, "[\"/b\", \"/c\"]", "[\"/c\"]", 1);
    CHECK(pyab_transform_select(&cfg, tr, "s.json", &keep, &n, &err) == 0);
    CHECK(n == 10);
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(tr->routes[tr->recs[keep[i]].route], "/b") == 0);
    free(keep);
    release(&cfg);

    config(&cfg, NULL, "[\"/a\"]", 1);
    CHECK(pyab_transform_select(&cfg, tr, "s.json", &keep, &n, &err) == 0);
    CHECK(n == 20 && keep[0] == 1 && keep[1] == 2 && keep[2] == 4);
    free(keep);
    release(&cfg);
    pyab_trace_destroy(tr);
}

static void test_sample(void)
{
    pyab_trace *tr = make_trace(30000);
    pyab_config cfg;
    pyab_error err = {0};
    uint32_t *a, *b, *c;
    size_t na, nb, nc, both = 0;

    config(&cfg, NULL, NULL, 0.25);
    CHECK(pyab_transform_select(&cfg, tr, "s.json", &a, &na, &err) == 0);
    CHECK(pyab_transform_select(&cfg, tr, "s.json", &b, &nb, &err) == 0);
    /* A quarter, within 4 standard deviations (sd = sqrt(30000 * .25 * .75) = 75). */
    CHECK(na > 7200 && na < 7800);
    CHECK(na == nb && memcmp(a, b, na * sizeof(*a)) == 0); /* deterministic */
    cfg.seed = 2;
    CHECK(pyab_transform_select(&cfg, tr, "s.json", &c, &nc, &err) == 0);
    for (size_t i = 0, j = 0; i < na && j < nc;) {
        if (a[i] == c[j])
            both++, i++, j++;
        else if (a[i] < c[j])
            i++;
        else
            j++;
    }
    /* Independent seeds: the overlap is a quarter of a quarter (sd about 41). */
    CHECK(both > 1700 && both < 2050);
    free(a);
    free(b);
    free(c);
    /* The sample does not depend on the route filter: /a's kept records are
     * exactly the sampled records that are /a's. */
    cfg.seed = 1;
    cfg.routes = json_loads("[\"/a\"]", 0, NULL);
    CHECK(pyab_transform_select(&cfg, tr, "s.json", &a, &na, &err) == 0);
    for (size_t i = 0; i < na; i++)
        CHECK(a[i] % 3 == 0 && pyab_transform_sampled(1, a[i], 0.25));
    nb = 0;
    for (size_t i = 0; i < tr->count; i += 3)
        nb += (size_t)pyab_transform_sampled(1, i, 0.25);
    CHECK(na == nb);
    free(a);
    release(&cfg);
    CHECK(pyab_transform_sampled(5, 3, 1.0));
    pyab_trace_destroy(tr);
}

static void test_errors(void)
{
    pyab_trace *tr = make_trace(6);
    pyab_config cfg;
    pyab_error err = {0};
    uint32_t *keep = NULL;
    size_t n = 0;

    config(&cfg, "[\"/a\", \"/zz\"]", NULL, 1);
    CHECK(pyab_transform_select(&cfg, tr, "s.json", &keep, &n, &err) == -EINVAL);
    CHECK_CONTAINS(err.text, "s.json: key \"load.routes[1]\": \"/zz\" is not a route of t.jsonl");
    CHECK_CONTAINS(err.text, "(its routes: /a, /b, /c)");
    CHECK(err.exit_code == PYAB_EXIT_USAGE);
    release(&cfg);
    config(&cfg, NULL, "[\"/a\", \"/b\", \"/c\"]", 1);
    CHECK(pyab_transform_select(&cfg, tr, "s.json", &keep, &n, &err) == -EINVAL);
    CHECK_CONTAINS(err.text, "s.json: key \"load\": the route filter and sample keep no request");
    release(&cfg);
    config(&cfg, NULL, NULL, 1e-9);
    CHECK(pyab_transform_select(&cfg, tr, "s.json", &keep, &n, &err) == -EINVAL);
    release(&cfg);
    CHECK(keep == NULL && n == 0);
    pyab_trace_destroy(tr);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_filters),
    CHECK_TEST(test_sample),
    CHECK_TEST(test_errors),
};

int main(int argc, char **argv)
{
    return check_run("transform", tests, CHECK_COUNT(tests), argc, argv);
}
