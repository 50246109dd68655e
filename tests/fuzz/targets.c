/*
 * Fuzz targets (libFuzzer, built by clang with ASan and UBSan through
 * run.py) for every reader of user input: traces, HAR files, access logs,
 * scenarios, synth specs and samples.csv. One program holds them all;
 * PYAB_FUZZ_TARGET picks one, so the library sources compile once.
 *
 * Beyond "does not crash", two targets check a property: what the HAR and
 * access-log importers and the synthesiser write, the trace loader must
 * take back (abort() otherwise, which libFuzzer reports as a crash).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"
#include "series.h"
#include "trace.h"
#include "traceimport.h"
#include "traceinfo.h"
#include "tracesynth.h"
#include "util.h"

/* A trace the loader refuses, made by a writer of ours, is a bug of ours. */
static void must_load(const char *who, const pyab_buf *out)
{
    pyab_error err = {0};
    pyab_trace *tr = pyab_trace_load_mem("out.jsonl", out->data, out->len, &err);

    if (tr == NULL) {
        fprintf(stderr, "%s wrote a trace the loader refuses: %s\n", who, err.text);
        abort();
    }
    pyab_trace_destroy(tr);
}

static void fuzz_trace(const char *data, size_t size)
{
    pyab_error err = {0};
    pyab_trace *tr = pyab_trace_load_mem("f.jsonl", data, size, &err);

    if (tr)
        json_decref(pyab_traceinfo_compute(tr));
    pyab_trace_destroy(tr);
}

static void fuzz_import(const char *data, size_t size, pyab_import_format format)
{
    pyab_import_result res;
    pyab_error err = {0};
    pyab_buf out;

    pyab_buf_init(&out);
    if (pyab_traceimport_mem("f.in", data, size, format, PYAB_ROUTE_TEMPLATE, &out, &res,
                             &err) == 0)
        must_load(format == PYAB_IMPORT_HAR ? "the HAR importer" : "the access-log importer",
                  &out);
    pyab_buf_finish(&out);
}

static void fuzz_har(const char *data, size_t size)
{
    fuzz_import(data, size, PYAB_IMPORT_HAR);
}

static void fuzz_accesslog(const char *data, size_t size)
{
    fuzz_import(data, size, PYAB_IMPORT_ACCESS_LOG);
    fuzz_import(data, size, PYAB_IMPORT_AUTO);
}

static void fuzz_scenario(const char *data, size_t size)
{
    pyab_error err = {0};
    json_t *root = json_loadb(data, size, JSON_REJECT_DUPLICATES, NULL);

    if (root)
        pyab_scenario_destroy(pyab_scenario_from_json("/nonexistent/fuzz/scenario.json", root,
                                                      &err));
    json_decref(root);
}

/* Requests a spec asks for before bursts: generating more only costs time, not coverage. */
static double base_requests(const pyab_synth_spec *s)
{
    double n = s->rate * s->duration;

    for (size_t i = 0; i < s->nbatches; i++)
        n += (double)s->batches[i].count * (s->duration / s->batches[i].every + 1);
    return n;
}

/* Bodies of a few KiB exercise the same code as megabytes, in far less time. */
static void clamp_size(pyab_synth_size *z)
{
    z->bytes = z->bytes < 4096 ? z->bytes : 4096;
    z->max = z->max < 4096 ? z->max : 4096;
    z->min = z->min < z->max ? z->min : z->max;
}

static void fuzz_synth(const char *data, size_t size)
{
    pyab_error err = {0};
    json_t *json = json_loadb(data, size, 0, NULL);
    pyab_synth_spec *spec = json ? pyab_tracesynth_spec_parse("f.json", json, &err) : NULL;
    pyab_buf out;
    size_t count;

    pyab_buf_init(&out);
    for (size_t i = 0; spec && i < spec->nroutes; i++)
        clamp_size(&spec->routes[i].size);
    for (size_t i = 0; spec && i < spec->nbatches; i++)
        clamp_size(&spec->batches[i].req.size);
    if (spec && base_requests(spec) < 5000 &&
        pyab_tracesynth_generate(spec, &out, &count, &err) == 0)
        must_load("the synthesiser", &out);
    pyab_buf_finish(&out);
    pyab_tracesynth_spec_destroy(spec);
    json_decref(json);
}

static void fuzz_samples(const char *data, size_t size)
{
    pyab_error err = {0};

    pyab_series_destroy(pyab_series_parse("samples.csv", data, size, &err));
}

static const struct target {
    const char *name;
    void (*fn)(const char *data, size_t size);
} targets[] = {
    {"trace", fuzz_trace},       {"har", fuzz_har},     {"accesslog", fuzz_accesslog},
    {"scenario", fuzz_scenario}, {"synth", fuzz_synth}, {"samples", fuzz_samples},
};

static const struct target *chosen;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *name = getenv("PYAB_FUZZ_TARGET");

    for (size_t i = 0; name && i < PYAB_ARRAY_LEN(targets); i++)
        if (strcmp(targets[i].name, name) == 0)
            chosen = &targets[i];
    if (chosen == NULL) {
        fprintf(stderr, "set PYAB_FUZZ_TARGET to one of: trace har accesslog scenario synth "
                        "samples\n");
        exit(2);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chosen->fn((const char *)data, size);
    return 0;
}
