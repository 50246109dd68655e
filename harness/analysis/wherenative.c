#include "wherenative.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Libraries shown under a verdict. */
#define SHOWN 3

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : 0;
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void add_bytes(pyab_buf *b, double v)
{
    double a = fabs(v);

    if (a >= 1024.0 * 1024)
        pyab_buf_addf(b, "%.2f MiB", v / (1024.0 * 1024));
    else if (a >= 1024)
        pyab_buf_addf(b, "%.1f KiB", v / 1024);
    else
        pyab_buf_addf(b, "%.0f B", v);
}

/* The heaviest site of library `object`. Borrowed. */
static json_t *top_site(json_t *native, const char *object)
{
    json_t *s;
    size_t i;

    json_array_foreach(json_object_get(native, "sites"), i, s)
        if (str(s, "object") && strcmp(str(s, "object"), object) == 0)
            return s;
    return NULL;
}

static void add_site(pyab_buf *b, json_t *s)
{
    json_t *chain = json_object_get(s, "chain"), *c;
    size_t i;

    pyab_buf_addf(b, "          %s", str(s, "symbol") ?: "(no symbol: stripped)");
    if (str(s, "python"))
        pyab_buf_addf(b, ", called from %s", str(s, "python"));
    pyab_buf_adds(b, "\n");
    if (json_array_size(chain) > 1) {
        pyab_buf_adds(b, "          via ");
        json_array_foreach(chain, i, c)
            pyab_buf_addf(b, "%s%s", i ? " -> " : "", json_string_value(c) ?: "?");
        pyab_buf_adds(b, "\n");
    }
}

void pyab_wherenative_text(pyab_buf *b, json_t *arm)
{
    json_t *native = json_object_get(json_object_get(arm, "where"), "native"), *l;
    const char *attr = str(arm, "attribution");
    size_t i, shown = 0;

    if (!json_is_array(json_object_get(native, "libraries")) || attr == NULL ||
        strstr(attr, "native-heap") == NULL)
        return;
    pyab_buf_adds(b, "    native where (sampled every ");
    add_bytes(b, num(native, "sample_bytes"));
    pyab_buf_adds(b, "): ");
    add_bytes(b, num(native, "bytes_per_request"));
    pyab_buf_adds(b, "/request of malloc made after warm-up survive\n");
    json_array_foreach(json_object_get(native, "libraries"), i, l) {
        json_t *ci = json_object_get(l, "ci"), *s;
        if (shown == SHOWN || num(l, "share") < 0.01)
            break;
        pyab_buf_adds(b, "      ");
        add_bytes(b, num(l, "bytes_per_request"));
        pyab_buf_adds(b, " [");
        add_bytes(b, json_number_value(json_array_get(ci, 0)));
        pyab_buf_adds(b, ", ");
        add_bytes(b, json_number_value(json_array_get(ci, 1)));
        pyab_buf_addf(b, "] %3.0f%%  %s", 100 * num(l, "share"), str(l, "object") ?: "?");
        if (str(l, "state"))
            pyab_buf_addf(b, "  (%s)", str(l, "state"));
        pyab_buf_adds(b, "\n");
        if ((s = top_site(native, str(l, "object") ?: "")) != NULL)
            add_site(b, s);
        shown++;
    }
}

/* Whether `path` has `name` as a folder or as a file's stem. */
static int names_in_path(const char *path, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = path; p && (p = strstr(p, name)) != NULL; p++) {
        int starts = p == path || p[-1] == '/';
        char after = p[n];
        if (starts && (after == '/' || after == '.' || after == ':'))
            return 1;
    }
    return 0;
}

static int site_points_at(json_t *site, json_t *library, const char *name)
{
    json_t *f;
    size_t i;

    json_array_foreach(json_object_get(site, "python_stack"), i, f)
        if (json_is_string(f) && names_in_path(json_string_value(f), name))
            return 1;
    if (str(library, "path") && names_in_path(str(library, "path"), name))
        return 1;
    return str(site, "object") && strncmp(str(site, "object"), name, strlen(name)) == 0;
}

static json_t *library_of(json_t *native, const char *object)
{
    json_t *l;
    size_t i;

    json_array_foreach(json_object_get(native, "libraries"), i, l)
        if (str(l, "object") && strcmp(str(l, "object"), object) == 0)
            return l;
    return NULL;
}

json_t *pyab_wherenative_suspects(json_t *arm, json_t *candidates)
{
    json_t *native = json_object_get(json_object_get(arm, "where"), "native"), *out = json_array();
    json_t *s, *v;
    const char *name;
    size_t i;

    json_array_foreach(json_object_get(native, "sites"), i, s) {
        if (!str(s, "state") || strcmp(str(s, "state"), "growing") != 0 || num(s, "share") < 0.1)
            continue;
        json_object_foreach(candidates, name, v) {
            json_t *have;
            size_t k;
            int dup = 0;
            json_array_foreach(out, k, have)
                dup |= strcmp(json_string_value(have), name) == 0;
            if (!dup && site_points_at(s, library_of(native, str(s, "object") ?: ""), name))
                json_array_append_new(out, json_string(name));
        }
    }
    return out;
}
