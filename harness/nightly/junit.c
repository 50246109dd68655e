#include "junit.h"

#include <stdlib.h>
#include <string.h>

/* Appends s to b escaped for XML text and attribute values (XML 1.0: control characters dropped). */
static void escape(pyab_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        switch (*p) {
        case '&': pyab_buf_adds(b, "&amp;"); break;
        case '<': pyab_buf_adds(b, "&lt;"); break;
        case '>': pyab_buf_adds(b, "&gt;"); break;
        case '"': pyab_buf_adds(b, "&quot;"); break;
        case '\'': pyab_buf_adds(b, "&apos;"); break;
        /* Kept through attribute-value normalisation, which would fold them to spaces. */
        case '\n': pyab_buf_adds(b, "&#10;"); break;
        case '\r': pyab_buf_adds(b, "&#13;"); break;
        case '\t': pyab_buf_adds(b, "&#9;"); break;
        default:
            /* XML 1.0 has no way to carry other control characters, not even as references. */
            if (*p < 0x20 || *p == 0x7f)
                pyab_buf_adds(b, "?");
            else
                pyab_buf_add(b, p, 1);
        }
    }
}

static const char *str(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static void attr(pyab_buf *b, const char *name, const char *value)
{
    pyab_buf_addf(b, " %s=\"", name);
    escape(b, value);
    pyab_buf_adds(b, "\"");
}

static void count(json_t *checks, size_t *fail, size_t *err, size_t *skip)
{
    size_t i;
    json_t *c;

    json_array_foreach(checks, i, c) {
        const char *st = str(c, "status", "");
        *fail += strcmp(st, "fail") == 0;
        *err += strcmp(st, "error") == 0;
        *skip += strcmp(st, "skip") == 0;
    }
}

static void render_case(pyab_buf *b, const char *scenario, json_t *c)
{
    const char *st = str(c, "status", ""), *kind = str(c, "kind", "check");
    char *classname = xasprintf("%s.%s", scenario, str(c, "arm", "base"));
    char *name = xasprintf("%s %s", kind, str(c, "name", "?"));
    const char *tag = strcmp(st, "fail") == 0 ? "failure" : strcmp(st, "error") == 0 ? "error"
                      : strcmp(st, "skip") == 0 ? "skipped" : NULL;

    pyab_buf_adds(b, "    <testcase");
    attr(b, "classname", classname);
    attr(b, "name", name);
    pyab_buf_adds(b, " time=\"0\"");
    if (tag == NULL) {
        pyab_buf_adds(b, "/>\n");
    } else {
        pyab_buf_addf(b, ">\n      <%s", tag);
        attr(b, "message", str(c, "message", ""));
        if (strcmp(tag, "skipped") != 0)
            attr(b, "type", kind);
        pyab_buf_adds(b, ">");
        escape(b, str(c, "message", ""));
        if (json_is_string(json_object_get(c, "rule"))) {
            pyab_buf_adds(b, "&#10;rule: ");
            escape(b, str(c, "rule", ""));
        }
        pyab_buf_addf(b, "</%s>\n    </testcase>\n", tag);
    }
    free(classname);
    free(name);
}

/* A scenario that did not run (another one was bad, or an interrupt): its message. */
static const char *not_run(json_t *s)
{
    return strcmp(str(s, "status", ""), "skip") == 0 ? str(s, "message", "not run") : NULL;
}

/* The scenario-level test cases: "run" with the error, or skipped; 1 or 0. */
static size_t run_case(pyab_buf *b, json_t *s)
{
    const char *name = str(s, "scenario", "?"), *error = str(s, "error", NULL);
    const char *skipped = not_run(s);

    if (error == NULL && skipped == NULL)
        return 0;
    if (b == NULL)
        return 1;
    pyab_buf_adds(b, "    <testcase");
    attr(b, "classname", name);
    pyab_buf_adds(b, " name=\"run\" time=\"0\">\n      ");
    if (error) {
        pyab_buf_adds(b, "<error");
        attr(b, "message", error);
        pyab_buf_adds(b, " type=\"run\">");
        escape(b, error);
        pyab_buf_adds(b, "</error>\n    </testcase>\n");
    } else {
        pyab_buf_adds(b, "<skipped");
        attr(b, "message", skipped);
        pyab_buf_adds(b, "/>\n    </testcase>\n");
    }
    return 1;
}

static void render_suite(pyab_buf *b, json_t *s)
{
    json_t *checks = json_object_get(s, "checks"), *c;
    const char *name = str(s, "scenario", "?"), *error = str(s, "error", NULL);
    size_t fail = 0, err = 0, skip = 0, tests = json_array_size(checks) + run_case(NULL, s), i;

    count(checks, &fail, &err, &skip);
    err += error != NULL;
    skip += error == NULL && not_run(s) != NULL;
    pyab_buf_adds(b, "  <testsuite");
    attr(b, "name", name);
    pyab_buf_addf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"",
                  tests, fail, err, skip, json_number_value(json_object_get(s, "duration_s")));
    if (json_is_string(json_object_get(s, "started_utc")))
        attr(b, "timestamp", str(s, "started_utc", ""));
    pyab_buf_adds(b, ">\n    <properties>\n");
    static const char *const props[] = {"results_dir", "baseline", "path", "git_revision"};
    for (size_t k = 0; k < PYAB_ARRAY_LEN(props); k++) {
        if (!json_is_string(json_object_get(s, props[k])))
            continue;
        pyab_buf_adds(b, "      <property");
        attr(b, "name", props[k]);
        attr(b, "value", str(s, props[k], ""));
        pyab_buf_adds(b, "/>\n");
    }
    pyab_buf_adds(b, "    </properties>\n");
    run_case(b, s);
    json_array_foreach(checks, i, c)
        render_case(b, name, c);
    pyab_buf_adds(b, "  </testsuite>\n");
}

void pyab_junit_render(pyab_buf *b, json_t *report)
{
    json_t *suites = json_object_get(report, "scenarios"), *s;
    size_t tests = 0, fail = 0, err = 0, skip = 0, i;
    double time = 0;

    json_array_foreach(suites, i, s) {
        int error = json_is_string(json_object_get(s, "error"));
        tests += json_array_size(json_object_get(s, "checks")) + run_case(NULL, s);
        err += error;
        skip += !error && not_run(s) != NULL;
        count(json_object_get(s, "checks"), &fail, &err, &skip);
        time += json_number_value(json_object_get(s, "duration_s"));
    }
    pyab_buf_adds(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"pyab check\"");
    pyab_buf_addf(b, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
                  tests, fail, err, skip, time);
    json_array_foreach(suites, i, s)
        render_suite(b, s);
    pyab_buf_adds(b, "</testsuites>\n");
}

int pyab_junit_write(const char *path, json_t *report, pyab_error *err)
{
    pyab_buf b;
    int rc;

    pyab_buf_init(&b);
    pyab_junit_render(&b, report);
    if ((rc = pyab_file_write_atomic(path, b.data, b.len)) < 0)
        pyab_error_set(err, "%s: cannot write the JUnit file: %s", path, strerror(-rc));
    pyab_buf_finish(&b);
    return rc;
}
