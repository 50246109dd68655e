/*
 * tracecmd: the `pyab trace` verb, which reads the command line of its
 * three sub-verbs (import, info, synth) and hands over to traceimport,
 * traceinfo and tracesynth. Only argument handling and printing live here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "trace.h"
#include "traceimport.h"
#include "traceinfo.h"
#include "tracesynth.h"
#include "util.h"

static const char usage_text[] =
    "usage: pyab trace import INPUT -o OUTPUT.jsonl [--format har|access-log] "
    "[--route-from path|template]\n"
    "       pyab trace info TRACE.jsonl [--json]\n"
    "       pyab trace synth -o OUTPUT.jsonl [--spec SPEC.json] [--seed N] [--duration S] "
    "[--rate R]\n";

static int usage_error(const char *fmt, ...) PYAB_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("pyab: trace: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fputs(usage_text, stderr);
    return PYAB_EXIT_USAGE;
}

static int report(const pyab_error *err)
{
    fprintf(stderr, "pyab: %s\n", err->text);
    return err->exit_code ? err->exit_code : PYAB_EXIT_INTERNAL;
}

/*
 * Matches argv[*i] against a "--name VALUE" or "--name=VALUE" option (or
 * its short form); sets *value and advances *i. 1 when matched, 0 when
 * not, -1 when the value is missing.
 */
static int option(int argc, char **argv, int *i, const char *name, const char *short_name,
                  const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) == 0 && a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (strcmp(a, name) != 0 && (short_name == NULL || strcmp(a, short_name) != 0))
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

static int cmd_import(int argc, char **argv)
{
    const char *input = NULL, *output = NULL, *format = NULL, *route_from = NULL;
    pyab_import_format fmt = PYAB_IMPORT_AUTO;
    pyab_route_from rf = PYAB_ROUTE_PATH;
    pyab_import_result res;
    pyab_error err = {0};
    int m;

    for (int i = 1; i < argc; i++) {
        if ((m = option(argc, argv, &i, "--output", "-o", &output)) ||
            (m = option(argc, argv, &i, "--format", NULL, &format)) ||
            (m = option(argc, argv, &i, "--route-from", NULL, &route_from))) {
            if (m < 0)
                return usage_error("%s needs a value", argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage_error("import: unknown option %s", argv[i]);
        } else if (input) {
            return usage_error("import: one INPUT only, got another: %s", argv[i]);
        } else {
            input = argv[i];
        }
    }
    if (input == NULL || output == NULL)
        return usage_error("%s", "import needs INPUT and -o OUTPUT");
    if (format && strcmp(format, "har") == 0)
        fmt = PYAB_IMPORT_HAR;
    else if (format && strcmp(format, "access-log") == 0)
        fmt = PYAB_IMPORT_ACCESS_LOG;
    else if (format && strcmp(format, "auto") != 0)
        return usage_error("--format: expected har or access-log, got %s", format);
    if (route_from && strcmp(route_from, "template") == 0)
        rf = PYAB_ROUTE_TEMPLATE;
    else if (route_from && strcmp(route_from, "path") != 0)
        return usage_error("--route-from: expected path or template, got %s", route_from);
    if (pyab_traceimport_file(input, output, fmt, rf, &res, &err) < 0)
        return report(&err);
    fprintf(stderr, "pyab: %s: %zu request%s imported (%s) into %s", input, res.requests,
            PYAB_PLURAL(res.requests), res.format == PYAB_IMPORT_HAR ? "HAR" : "access log",
            output);
    if (res.skipped)
        fprintf(stderr, "; %zu line%s without a request skipped", res.skipped,
                PYAB_PLURAL(res.skipped));
    fputc('\n', stderr);
    return PYAB_EXIT_OK;
}

static int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int as_json = 0;
    pyab_error err = {0};
    pyab_trace *tr;
    json_t *info;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = 1;
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return usage_error("info: unknown option %s", argv[i]);
        else if (path)
            return usage_error("info: one TRACE only, got another: %s", argv[i]);
        else
            path = argv[i];
    }
    if (path == NULL)
        return usage_error("%s", "info needs a TRACE");
    if ((tr = pyab_trace_load(path, &err)) == NULL)
        return report(&err);
    info = pyab_traceinfo_compute(tr);
    if (as_json) {
        json_object_set_new(info, "path", json_string(path));
        json_dumpf(info, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
    } else {
        pyab_traceinfo_print(stdout, path, info);
    }
    json_decref(info);
    pyab_trace_destroy(tr);
    return PYAB_EXIT_OK;
}

/* --seed, --duration and --rate override the spec's values. */
static int synth_overrides(pyab_synth_spec *spec, const char *seed, const char *duration,
                           const char *rate)
{
    long n;
    double x;

    if (seed) {
        if (pyab_parse_long(seed, &n) < 0 || n < 0)
            return usage_error("--seed: expected an integer >= 0, got %s", seed);
        spec->seed = (uint64_t)n;
    }
    if (duration) {
        if (pyab_parse_double(duration, &x) < 0 || !(x > 0 && x <= 1e9))
            return usage_error("--duration: expected seconds > 0, got %s", duration);
        spec->duration = x;
    }
    if (rate) {
        if (pyab_parse_double(rate, &x) < 0 || !(x >= 0 && x <= 1e7))
            return usage_error("--rate: expected requests/second >= 0, got %s", rate);
        spec->rate = x;
    }
    return 0;
}

static int cmd_synth(int argc, char **argv)
{
    const char *output = NULL, *spec_path = NULL, *seed = NULL, *duration = NULL, *rate = NULL;
    pyab_error err = {0};
    pyab_synth_spec *spec;
    pyab_buf out;
    size_t count = 0;
    int m, rc;

    for (int i = 1; i < argc; i++) {
        if ((m = option(argc, argv, &i, "--output", "-o", &output)) ||
            (m = option(argc, argv, &i, "--spec", NULL, &spec_path)) ||
            (m = option(argc, argv, &i, "--seed", NULL, &seed)) ||
            (m = option(argc, argv, &i, "--duration", NULL, &duration)) ||
            (m = option(argc, argv, &i, "--rate", NULL, &rate))) {
            if (m < 0)
                return usage_error("%s needs a value", argv[i]);
        } else {
            return usage_error("synth: unexpected argument %s", argv[i]);
        }
    }
    if (output == NULL)
        return usage_error("%s", "synth needs -o OUTPUT");
    if ((spec = pyab_tracesynth_spec_load(spec_path, &err)) == NULL)
        return report(&err);
    if ((rc = synth_overrides(spec, seed, duration, rate)) != 0) {
        pyab_tracesynth_spec_destroy(spec);
        return rc;
    }
    pyab_buf_init(&out);
    rc = pyab_tracesynth_generate(spec, &out, &count, &err);
    if (rc == 0 && (rc = pyab_file_write_atomic(output, out.data, out.len)) < 0)
        pyab_error_set(&err, "%s: cannot write: %s", output, strerror(-rc));
    if (rc == 0)
        fprintf(stderr, "pyab: %zu request%s over %g s (seed %llu) written to %s\n", count,
                PYAB_PLURAL(count), spec->duration, (unsigned long long)spec->seed, output);
    pyab_buf_finish(&out);
    pyab_tracesynth_spec_destroy(spec);
    return rc < 0 ? report(&err) : PYAB_EXIT_OK;
}

int pyab_cmd_trace(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return PYAB_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        return PYAB_EXIT_OK;
    }
    if (strcmp(argv[1], "import") == 0)
        return cmd_import(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0)
        return cmd_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "synth") == 0)
        return cmd_synth(argc - 1, argv + 1);
    return usage_error("unknown sub-verb %s (import, info, synth)", argv[1]);
}
