/*
 * tracesynth: `pyab trace synth`, business-shaped traces made up from a
 * small JSON spec when no recorded trace exists, or to stress a shape the
 * recording lacks (a burst, a nightly batch). The same spec and seed give
 * a byte-identical file on every machine: the generator uses its own PRNG
 * (xoshiro256** seeded through splitmix64), never libc's rand.
 *
 * SPEC keys (every key optional; an unknown key is an error naming its path):
 *   duration  seconds of trace (default 60)
 *   rate      base rate of Poisson arrivals, requests/second (default 10; 0: batches only)
 *   seed      PRNG seed, an integer (default 1; --seed overrides)
 *   routes    [ROUTE...], the mix of the Poisson arrivals (default [{"route": "/predict"}])
 *     ROUTE:  route    "/predict"; a "{id}" in it becomes a random id in the path
 *             weight   relative share of the arrivals (default 1)
 *             method   default "POST"
 *             ids      ids are drawn uniformly from 1..ids (default 1000)
 *             body     "both" {"size": N, "filler": N bytes} (default), "size"
 *                      {"size": N}, "filler" {"filler": N bytes} or "none"
 *             size     N: a number of bytes, or {"dist": "fixed", "bytes": B},
 *                      {"dist": "lognormal", "median": M, "sigma": S, "min", "max"}
 *                      or {"dist": "uniform", "min": A, "max": B} (default 100)
 *             headers  object of strings, copied into every request
 *   cycle     {"period": s, "amplitude": 0..1 (default 0.5), "phase": 0..1 (default 0)}:
 *             a daily cycle compressed into `period` seconds, the rate times
 *             1 + amplitude * sin(2 pi (t / period + phase))
 *   bursts    [{"start": s, "duration": s, "multiplier": x}]: the rate times x
 *             within [start, start + duration); overlapping bursts multiply
 *   batches   [{"every": s, "count": n, "start": s (default every), "spread": s
 *             (default 1), and ROUTE keys but weight}]: every `every` seconds
 *             from `start`, n requests to the route, evenly over `spread` s
 */
#ifndef PYAB_TRACESYNTH_H
#define PYAB_TRACESYNTH_H

#include <jansson.h>
#include <stdint.h>

#include "util.h"

typedef struct pyab_synth_size {
    enum { PYAB_SIZE_FIXED, PYAB_SIZE_LOGNORMAL, PYAB_SIZE_UNIFORM } dist;
    double bytes, median, sigma, min, max;
} pyab_synth_size;

typedef struct pyab_synth_route {
    char *route, *method;
    double weight;
    long ids;
    enum { PYAB_BODY_BOTH, PYAB_BODY_SIZE, PYAB_BODY_FILLER, PYAB_BODY_NONE } body;
    pyab_synth_size size;
    json_t *headers; /* owned; NULL when none */
} pyab_synth_route;

typedef struct pyab_synth_batch {
    double every, start, spread;
    long count;
    pyab_synth_route req;
} pyab_synth_batch;

typedef struct pyab_synth_burst {
    double start, duration, multiplier;
} pyab_synth_burst;

typedef struct pyab_synth_spec {
    double duration, rate;
    uint64_t seed;
    pyab_synth_route *routes;
    size_t nroutes;
    double cycle_period, cycle_amplitude, cycle_phase; /* period 0: no cycle */
    pyab_synth_burst *bursts;
    size_t nbursts;
    pyab_synth_batch *batches;
    size_t nbatches;
} pyab_synth_spec;

/*
 * Reads a spec from JSON (borrowed; NULL gives the defaults). Returns a new
 * spec, or NULL with err naming `name` and the key path ("x.json:
 * routes[1].weight: must be a number > 0"). Callers may change fields
 * (seed, duration, rate) before generating.
 */
pyab_synth_spec *pyab_tracesynth_spec_parse(const char *name, const json_t *json,
                                            pyab_error *err);
/* Same, from a file; NULL path gives the defaults. */
pyab_synth_spec *pyab_tracesynth_spec_load(const char *path, pyab_error *err);
void pyab_tracesynth_spec_destroy(pyab_synth_spec *spec);

/* Appends the JSONL trace of a spec to `out`, sorted by t; 0 or -EINVAL. */
int pyab_tracesynth_generate(const pyab_synth_spec *spec, pyab_buf *out, size_t *count,
                             pyab_error *err);

#endif
