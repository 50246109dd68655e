/*
 * The `pyab ablate` verb (ablate.h): builds the ablation arms from the
 * scenario's "ablate" object and runs them as `pyab run` would, adding the
 * ranking to summary.json between the analysis and the report. Kept apart
 * from ablate.c, which the unit tests link without the experiment runner.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "cmds.h"
#include "experiment.h"
#include "scenario.h"
#include "wherenative.h"

#define ALL_ARM "all-swapped"
#define CONTROL_ARM "control"

typedef struct ablation {
    char **suspects, **arms;
    size_t n;
    const char *metric;
} ablation;

static void ablation_finish(ablation *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->suspects[i]);
        free(a->arms[i]);
    }
    free(a->suspects);
    free(a->arms);
}

/* Picks the suspects (all, or the --suspects list) and names their arms. */
static int pick_suspects(ablation *a, json_t *sus, const char *only, pyab_error *err)
{
    const char *name;
    json_t *v;

    a->suspects = xcalloc(json_object_size(sus) + 1, sizeof(char *));
    a->arms = xcalloc(json_object_size(sus) + 1, sizeof(char *));
    if (only) {
        char *list = xstrdup(only), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            int dup = 0;
            for (size_t i = 0; i < a->n; i++)
                dup |= strcmp(a->suspects[i], t) == 0;
            if (json_object_get(sus, t) == NULL) {
                pyab_error_set(err, "--suspects: \"%s\" is not in the scenario's ablate.suspects",
                               t);
                free(list);
                return -EINVAL;
            }
            if (!dup)
                a->suspects[a->n++] = xstrdup(t);
        }
        free(list);
        if (a->n == 0)
            return pyab_error_set(err, "--suspects: give at least one name");
    } else {
        json_object_foreach(sus, name, v)
            a->suspects[a->n++] = xstrdup(name);
    }
    for (size_t i = 0; i < a->n; i++) {
        a->arms[i] = xasprintf("swap-%s", a->suspects[i]);
        for (char *p = a->arms[i]; *p; p++)
            if (*p == '.')
                *p = '_';
    }
    return 0;
}

/* The scenario with the ablation's arms (new). */
static json_t *ablation_root(json_t *root, const ablation *a)
{
    json_t *out = json_deep_copy(root), *arms = json_object(), *all = json_object();
    json_t *sus = json_object_get(json_object_get(root, "ablate"), "suspects");
    json_t *analysis = json_object_get(out, "analysis");

    json_object_set_new(arms, CONTROL_ARM, json_object());
    for (size_t i = 0; i < a->n; i++) {
        json_t *path = json_object_get(sus, a->suspects[i]);
        json_object_set_new(arms, a->arms[i],
                            json_pack("{s:{s:O}}", "mocks", a->suspects[i], path));
        json_object_set(all, a->suspects[i], path);
    }
    if (a->n > 1)
        json_object_set_new(arms, ALL_ARM, json_pack("{s:o}", "mocks", all));
    else
        json_decref(all);
    json_object_set_new(out, "arms", arms);
    if (!json_is_object(analysis))
        json_object_set_new(out, "analysis", analysis = json_object());
    json_object_set_new(analysis, "control", json_string(CONTROL_ARM));
    json_object_set_new(out, "name", json_sprintf("%s-ablate",
                                                  json_string_value(json_object_get(root, "name"))));
    return out;
}

/* after_analysis hook: adds "ablation" to the analysed summary.json. */
static int write_ablation(const char *dir, void *data, pyab_error *err)
{
    ablation *a = data;
    char *path = pyab_path_join(dir, "summary.json");
    json_error_t je;
    json_t *summary = json_load_file(path, 0, &je);
    int rc;

    if (summary == NULL) {
        rc = pyab_error_internal(err, "%s: %s", path, je.text);
        free(path);
        return rc;
    }
    json_object_set_new(summary, "ablation",
                        pyab_ablate_rank(summary, CONTROL_ARM, (const char *const *)a->suspects,
                                         (const char *const *)a->arms, a->n,
                                         a->n > 1 ? ALL_ARM : NULL, a->metric));
    rc = pyab_json_write_atomic(path, summary, JSON_INDENT(2), err);
    free(path);
    json_decref(summary);
    return rc;
}

static json_t *string_list(char **v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void print_ranking(const char *dir)
{
    char *path = pyab_path_join(dir, "summary.json");
    json_t *summary = json_load_file(path, 0, NULL);
    json_t *ab = json_object_get(summary, "ablation");

    if (ab)
        pyab_ablate_print(stdout, ab);
    json_decref(summary);
    free(path);
}

static int ablate_usage(void)
{
    fprintf(stderr, "usage: pyab ablate SCENARIO [--suspects a,b|auto] [--out DIR] [--quiet] "
            "[--no-report] [--shard I/N]\n");
    return PYAB_EXIT_USAGE;
}

/* The screening run's scenario: the one given, with native sampling on (new). */
static json_t *screen_root(json_t *root)
{
    json_t *out = json_deep_copy(root), *where = json_object_get(out, "where");

    if (!json_is_object(where))
        json_object_set_new(out, "where", where = json_object());
    json_object_set_new(where, "native", json_true());
    json_object_set_new(out, "name", json_sprintf("%s-screen",
                                                  json_string_value(json_object_get(root, "name"))));
    return out;
}

/* Comma-joined names (new), or NULL for an empty list. */
static char *join(json_t *names)
{
    pyab_buf b;
    json_t *v;
    size_t i;

    if (json_array_size(names) == 0)
        return NULL;
    pyab_buf_init(&b);
    json_array_foreach(names, i, v)
        pyab_buf_addf(&b, "%s%s", i ? "," : "", json_string_value(v));
    return b.data;
}

/*
 * --suspects auto: first a screening run of the scenario as it is, with
 * native sampling on (results in OUT-screen, or their own folder); the
 * suspects are those its growing native sites point at (wherenative.h).
 * *only becomes their list (new), or NULL for every suspect when none is
 * pointed at. 0, or the screening run's exit code.
 */
static int screen_suspects(const char *path, const pyab_run_opts *base, char **only)
{
    pyab_error err = {0};
    pyab_scenario *sc = pyab_scenario_load(path, &err), *screen = NULL;
    pyab_run_opts opts = {.quiet = base->quiet, .report = 0};
    char *out = base->out_dir ? xasprintf("%s-screen", base->out_dir) : NULL, *dir = NULL, *sp;
    json_t *root, *summary = NULL, *picked;
    int code = 0;

    *only = NULL;
    if (sc && sc->ablate && !json_object_get(sc->root, "arms")) {
        root = screen_root(sc->root);
        screen = pyab_scenario_from_json(sc->path, root, &err);
        json_decref(root);
    }
    if (sc == NULL || (sc->ablate && !json_object_get(sc->root, "arms") && screen == NULL)) {
        fprintf(stderr, "pyab: %s\n", err.text);
        code = err.exit_code ? err.exit_code : PYAB_EXIT_USAGE;
        goto out;
    }
    if (screen == NULL) /* no ablate, or arms: load_ablation says why */
        goto out;
    opts.out_dir = out;
    if ((code = pyab_experiment_run_all(screen, &opts, &dir)) != 0)
        goto out;
    sp = pyab_path_join(dir, "summary.json");
    summary = json_load_file(sp, 0, NULL);
    free(sp);
    picked = pyab_wherenative_suspects(
        json_object_get(json_object_get(summary, "arms"), sc->narms ? sc->arms[0].arm : "base"),
        json_object_get(sc->ablate, "suspects"));
    *only = join(picked);
    if (*only)
        printf("ablate: suspects from the native sites of %s: %s\n", dir, *only);
    else
        printf("ablate: no growing native site of %s points at a suspect: swapping every "
               "suspect\n", dir);
    json_decref(picked);
out:
    json_decref(summary);
    pyab_scenario_destroy(screen);
    pyab_scenario_destroy(sc);
    free(out);
    free(dir);
    return code;
}

/* Loads the scenario and makes the ablation experiment; NULL with err set. */
static pyab_scenario *load_ablation(const char *path, const char *only, ablation *a,
                                    pyab_error *err)
{
    pyab_scenario *sc = pyab_scenario_load(path, err), *out = NULL;
    json_t *root;

    if (sc == NULL)
        return NULL;
    if (pyab_experiment_validate_sections(sc, err) < 0) {
        pyab_scenario_destroy(sc);
        return NULL;
    }
    if (sc->ablate == NULL)
        pyab_error_set(err, "%s: key \"ablate\": missing (e.g. {\"suspects\": {\"tensorflow\": "
                       "\"mocks/tf_standin.py\"}})", path);
    else if (json_object_get(sc->root, "arms"))
        pyab_error_set(err, "%s: key \"arms\": ablate makes its own arms (control, one per "
                       "suspect, all swapped): remove \"arms\"", path);
    else if (pick_suspects(a, json_object_get(sc->ablate, "suspects"), only, err) == 0) {
        root = ablation_root(sc->root, a);
        out = pyab_scenario_from_json(sc->path, root, err);
        json_decref(root);
        /* From the scenario that lives on: sc's strings go with it below. */
        if (out)
            a->metric = json_string_value(json_object_get(out->ablate, "metric"));
    }
    pyab_scenario_destroy(sc);
    return out;
}

int pyab_cmd_ablate(int argc, char **argv)
{
    pyab_run_opts opts = {.report = 1};
    const char *path = NULL, *only = NULL;
    pyab_error err = {0};
    ablation a = {0};
    pyab_scenario *sc;
    char *dir = NULL, *picked = NULL;
    int code;

    for (int i = 1; i < argc; i++) {
        int took = pyab_experiment_take_flag(&opts, argc, argv, &i);
        if (took < 0)
            return ablate_usage();
        if (took)
            continue;
        if (strcmp(argv[i], "--suspects") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (argv[i][0] == '-' || path)
            return ablate_usage();
        else
            path = argv[i];
    }
    if (path == NULL)
        return ablate_usage();
    if (only && strcmp(only, "auto") == 0) {
        if ((code = screen_suspects(path, &opts, &picked)) != 0)
            return code;
        only = picked;
    }
    if ((sc = load_ablation(path, only, &a, &err)) == NULL) {
        fprintf(stderr, "pyab: %s\n", err.text);
        ablation_finish(&a);
        free(picked);
        return err.exit_code ? err.exit_code : PYAB_EXIT_USAGE;
    }
    opts.after_analysis = write_ablation;
    opts.data = &a;
    /* What pyab merge needs to rank the suspects of a sharded ablation. */
    opts.manifest_extra = json_pack("{s:{s:s, s:o, s:o, s:s?, s:s?}}", "ablation", "control",
                                    CONTROL_ARM, "suspects", string_list(a.suspects, a.n),
                                    "arms", string_list(a.arms, a.n), "all_arm",
                                    a.n > 1 ? ALL_ARM : NULL, "metric", a.metric);
    code = pyab_experiment_run_all(sc, &opts, &dir);
    if (dir && code != PYAB_EXIT_INTERNAL && opts.shard_count == 0)
        print_ranking(dir);
    json_decref(opts.manifest_extra);
    free(dir);
    free(picked);
    ablation_finish(&a);
    pyab_scenario_destroy(sc);
    return code;
}
