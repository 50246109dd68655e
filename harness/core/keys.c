#include "keys.h"

#include <stdlib.h>
#include <string.h>

static char *keypath(const char *path, const char *key)
{
    if (path == NULL || path[0] == '\0')
        return xstrdup(key);
    return xasprintf("%s.%s", path, key);
}

int pyab_keys_fail(const pyab_where *w, const char *path, const char *key, const char *what)
{
    char *kp = keypath(path, key);
    int rc = pyab_error_set(w->err, "%s: key \"%s%s\": %s", w->file, w->prefix, kp, what);
    free(kp);
    return rc;
}

int pyab_keys_in_list(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, list[i]) == 0)
            return 1;
    return 0;
}

int pyab_keys_unknown(const pyab_where *w, const char *path, const char *key,
                      const char *const *known, size_t n, const char *const *more, size_t nmore)
{
    /* Name the keys that would be accepted here: a typo is then one look away. */
    pyab_buf what;
    int rc;

    pyab_buf_init(&what);
    pyab_buf_adds(&what, "unknown key (known here: ");
    for (size_t i = 0; i < n + nmore; i++)
        pyab_buf_addf(&what, "%s%s", i ? ", " : "", i < n ? known[i] : more[i - n]);
    pyab_buf_adds(&what, ")");
    rc = pyab_keys_fail(w, path, key, what.data);
    pyab_buf_finish(&what);
    return rc;
}

int pyab_keys_check(const pyab_where *w, json_t *obj, const char *path,
                    const char *const *allowed, size_t n)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v) {
        if (!pyab_keys_in_list(key, allowed, n))
            return pyab_keys_unknown(w, path, key, allowed, n, NULL, 0);
    }
    return 0;
}

int pyab_keys_object(const pyab_where *w, json_t *parent, const char *path, const char *key,
                     json_t **out)
{
    json_t *v = json_object_get(parent, key);

    *out = v;
    if (v != NULL && !json_is_object(v))
        return pyab_keys_fail(w, path, key, "must be an object");
    return 0;
}

int pyab_keys_number(const pyab_where *w, json_t *obj, const char *path, const char *key,
                     double min, double max, double *out)
{
    json_t *v = json_object_get(obj, key);
    char what[128];

    if (v == NULL)
        return 0;
    if (!json_is_number(v))
        return pyab_keys_fail(w, path, key, "must be a number");
    if (!(json_number_value(v) >= min && json_number_value(v) <= max)) {
        snprintf(what, sizeof(what), "must be between %g and %g, not %g", min, max,
                 json_number_value(v));
        return pyab_keys_fail(w, path, key, what);
    }
    *out = json_number_value(v);
    return 0;
}

int pyab_keys_long(const pyab_where *w, json_t *obj, const char *path, const char *key,
                   long min, long max, long *out)
{
    json_t *v = json_object_get(obj, key);
    char what[128];

    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return pyab_keys_fail(w, path, key, "must be an integer");
    if (json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(what, sizeof(what), "must be between %ld and %ld, not %lld", min, max,
                 (long long)json_integer_value(v));
        return pyab_keys_fail(w, path, key, what);
    }
    *out = (long)json_integer_value(v);
    return 0;
}

int pyab_keys_bool(const pyab_where *w, json_t *obj, const char *path, const char *key, int *out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return pyab_keys_fail(w, path, key, "must be true or false");
    *out = json_is_true(v);
    return 0;
}

int pyab_keys_string(const pyab_where *w, json_t *obj, const char *path, const char *key,
                     char **out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return pyab_keys_fail(w, path, key, "must be a non-empty string");
    free(*out);
    *out = xstrdup(json_string_value(v));
    return 0;
}

int pyab_keys_choice(const pyab_where *w, json_t *obj, const char *path, const char *key,
                     const char *const *choices, size_t n, int *out)
{
    json_t *v = json_object_get(obj, key);
    char what[256];
    size_t len = 0;

    if (v == NULL)
        return 0;
    for (size_t i = 0; json_is_string(v) && i < n; i++) {
        if (strcmp(json_string_value(v), choices[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    len += (size_t)snprintf(what, sizeof(what), "must be one of");
    for (size_t i = 0; i < n && len < sizeof(what); i++)
        len += (size_t)snprintf(what + len, sizeof(what) - len, "%s \"%s\"", i ? "," : "",
                                choices[i]);
    return pyab_keys_fail(w, path, key, what);
}

void pyab_keys_absolutise(json_t *obj, const char *key, const char *base_dir)
{
    json_t *v = json_object_get(obj, key);
    char *abs;

    if (!json_is_string(v) || json_string_value(v)[0] == '/')
        return;
    abs = pyab_path_join(base_dir, json_string_value(v));
    json_object_set_new(obj, key, json_string(abs));
    free(abs);
}
