#include "scenario.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keys.h"

static const char *const arm_keys[] = {
    "description", "app", "python", "trace", "load", "workers", "max_in_flight", "warmup",
    "sample", "seed", "timeout_ms", "gc", "allocator", "env", "mocks", "limits", "budgets",
    "where", "asgi",
};
static const char *const top_only_keys[] = {
    "name", "arms", "reps", "order", "analysis", "ablate",
};
/* Copies base and merges the arm's overrides in, objects recursively. New reference. */
static json_t *merge(json_t *base, json_t *over)
{
    json_t *out = json_deep_copy(base);
    const char *key;
    json_t *v;

    json_object_foreach(over, key, v) {
        json_t *old = json_object_get(out, key);
        if (json_is_object(old) && json_is_object(v))
            json_object_set_new(out, key, merge(old, v));
        else
            json_object_set_new(out, key, json_deep_copy(v));
    }
    return out;
}

/*
 * An app named by module ("module", "wsgi", "asgi") is imported from the scenario's
 * folder too, as "path" apps are from theirs: "." goes last on python.path,
 * after the folders the scenario lists (a malformed python.path is left for
 * the parser to report).
 */
static void add_scenario_folder(json_t *eff)
{
    json_t *app = json_object_get(eff, "app"), *py = json_object_get(eff, "python"), *paths;

    if (!json_is_object(app) || json_object_get(app, "path") ||
        (!json_object_get(app, "module") && !json_object_get(app, "wsgi") &&
         !json_object_get(app, "asgi")))
        return;
    if (py == NULL)
        json_object_set_new(eff, "python", py = json_object());
    if (!json_is_object(py))
        return;
    if ((paths = json_object_get(py, "path")) == NULL)
        json_object_set_new(py, "path", paths = json_array());
    if (json_is_array(paths))
        json_array_append_new(paths, json_string("."));
}

/*
 * load.share and its old name load.sample (config.c) are one setting: the
 * name an arm gives overrides the other name in the base, instead of
 * meeting it in the merged object as "both given".
 */
static void override_share(json_t *eff, json_t *over)
{
    json_t *load = json_object_get(eff, "load"), *given = json_object_get(over, "load");

    if (json_is_object(load) && json_object_get(given, "sample") && !json_object_get(given, "share"))
        json_object_del(load, "share");
    if (json_is_object(load) && json_object_get(given, "share") && !json_object_get(given, "sample"))
        json_object_del(load, "sample");
}

static int load_arms(pyab_scenario *sc, json_t *base, pyab_error *err)
{
    pyab_where w = {sc->path, "", err};
    json_t *arms = json_object_get(sc->root, "arms"), *over;
    const char *name;
    int rc;

    if (arms == NULL) {
        sc->arms = xcalloc(1, sizeof(*sc->arms));
        sc->narms = 1;
        add_scenario_folder(base);
        return pyab_config_parse(&sc->arms[0], sc->path, "base", base, sc->dir, err);
    }
    if (!json_is_object(arms) || json_object_size(arms) == 0)
        return pyab_keys_fail(&w, "", "arms", "must be an object mapping arm names to overrides");
    sc->arms = xcalloc(json_object_size(arms), sizeof(*sc->arms));
    json_object_foreach(arms, name, over) {
        json_t *eff;
        pyab_where aw = {sc->path, "", err};
        if (strlen(name) == 0 || strlen(name) > 64 || strpbrk(name, "/\\ \t\n.") != NULL)
            return pyab_keys_fail(&w, "arms", name,
                                  "arm names must be 1-64 characters without '/', '.' or spaces");
        if (!json_is_object(over))
            return pyab_keys_fail(&w, "arms", name, "must be an object of overrides");
        char *prefix = xasprintf("arms.%s", name);
        rc = pyab_keys_check(&aw, over, prefix, arm_keys, PYAB_ARRAY_LEN(arm_keys));
        free(prefix);
        if (rc < 0)
            return rc;
        eff = merge(base, over);
        override_share(eff, over);
        add_scenario_folder(eff);
        rc = pyab_config_parse(&sc->arms[sc->narms++], sc->path, name, eff, sc->dir, err);
        json_decref(eff);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* analysis.control, when given, must name one of the arms. */
static int check_control(const pyab_scenario *sc, const pyab_where *w)
{
    const char *control = json_string_value(json_object_get(sc->analysis, "control"));
    pyab_buf names;
    int rc;

    if (control == NULL)
        return 0;
    for (size_t i = 0; i < sc->narms; i++)
        if (strcmp(sc->arms[i].arm, control) == 0)
            return 0;
    pyab_buf_init(&names);
    for (size_t i = 0; i < sc->narms; i++)
        pyab_buf_addf(&names, "%s%s", i ? ", " : "", sc->arms[i].arm);
    char *what = xasprintf("names no arm (the arms: %s)", names.data);
    rc = pyab_keys_fail(w, "analysis", "control", what);
    free(what);
    pyab_buf_finish(&names);
    return rc;
}

/*
 * load.sample is load.share's old name (it read as the top-level "sample",
 * the sampling of memory): still accepted (config.c renames it), with one
 * note on stderr per scenario.
 */
static void note_old_names(const char *path, json_t *root)
{
    json_t *arms = json_object_get(root, "arms"), *over;
    const char *name;
    int old = json_object_get(json_object_get(root, "load"), "sample") != NULL;

    json_object_foreach(arms, name, over)
        old |= json_object_get(json_object_get(over, "load"), "sample") != NULL;
    if (old)
        fprintf(stderr, "%s: note: key \"load.sample\" is now \"load.share\" (the old name "
                "still works but is deprecated)\n", path);
}

pyab_scenario *pyab_scenario_from_json(const char *path, json_t *root, pyab_error *err)
{
    pyab_scenario *sc = xcalloc(1, sizeof(*sc));
    pyab_where w = {path, "", err};
    json_t *base = NULL;
    const char *key;
    json_t *v;
    int order = 0;

    sc->path = pyab_path_absolute(path);
    sc->dir = pyab_path_dirname(sc->path);
    /* Every message names the scenario by its absolute path, as the arms' checks do. */
    w.file = sc->path;
    sc->root = json_incref(root);
    sc->reps = 1;
    if (!json_is_object(root)) {
        pyab_error_set(err, "%s: a scenario must be a JSON object", sc->path);
        goto fail;
    }
    json_object_foreach(root, key, v) {
        if (!pyab_keys_in_list(key, arm_keys, PYAB_ARRAY_LEN(arm_keys)) &&
            !pyab_keys_in_list(key, top_only_keys, PYAB_ARRAY_LEN(top_only_keys))) {
            pyab_keys_unknown(&w, "", key, top_only_keys, PYAB_ARRAY_LEN(top_only_keys), arm_keys,
                              PYAB_ARRAY_LEN(arm_keys));
            goto fail;
        }
    }
    if (pyab_keys_string(&w, root, "", "name", &sc->name) < 0)
        goto fail;
    if (sc->name == NULL) {
        pyab_keys_fail(&w, "", "name", "missing");
        goto fail;
    }
    if (strpbrk(sc->name, "/\\") != NULL) {
        pyab_keys_fail(&w, "", "name", "must not contain '/'");
        goto fail;
    }
    static const char *const orders[] = {"interleaved", "shuffled"};
    if (pyab_keys_long(&w, root, "", "reps", 1, 1000, &sc->reps) < 0 ||
        pyab_keys_choice(&w, root, "", "order", orders, 2, &order) < 0 ||
        pyab_keys_object(&w, root, "", "analysis", &sc->analysis) < 0 ||
        pyab_keys_object(&w, root, "", "budgets", &sc->budgets) < 0 ||
        pyab_keys_object(&w, root, "", "ablate", &sc->ablate) < 0)
        goto fail;
    sc->shuffle = order;
    base = json_deep_copy(root);
    for (size_t i = 0; i < PYAB_ARRAY_LEN(top_only_keys); i++)
        json_object_del(base, top_only_keys[i]);
    if (load_arms(sc, base, err) < 0 || check_control(sc, &w) < 0)
        goto fail;
    json_decref(base);
    note_old_names(path, root);
    return sc;
fail:
    json_decref(base);
    pyab_scenario_destroy(sc);
    return NULL;
}

pyab_scenario *pyab_scenario_load(const char *path, pyab_error *err)
{
    return pyab_scenario_load_settled(path, 0, err);
}

pyab_scenario *pyab_scenario_load_settled(const char *path, int until_settled, pyab_error *err)
{
    char *abs = pyab_path_absolute(path);
    json_t *root = pyab_json_read(abs, JSON_REJECT_DUPLICATES, err), *load;
    pyab_scenario *sc;

    free(abs);
    if (root == NULL)
        return NULL;
    if (until_settled && json_is_object(root)) {
        if ((load = json_object_get(root, "load")) == NULL)
            json_object_set_new(root, "load", load = json_object());
        if (json_is_object(load))
            json_object_set_new(load, "until", json_string("settled"));
    }
    sc = pyab_scenario_from_json(path, root, err);
    json_decref(root);
    return sc;
}

void pyab_scenario_destroy(pyab_scenario *sc)
{
    if (sc == NULL)
        return;
    for (size_t i = 0; i < sc->narms; i++)
        pyab_config_finish(&sc->arms[i]);
    free(sc->arms);
    json_decref(sc->root);
    free(sc->path);
    free(sc->dir);
    free(sc->name);
    free(sc);
}
