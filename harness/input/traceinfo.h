/*
 * traceinfo: `pyab trace info`, the figures a user checks before replaying
 * a trace: how many requests over how long, how the rate moves over time,
 * the route mix, how big the bodies are, and what the loaded trace costs
 * in memory next to its file (the replayer holds it in the child while the
 * curves are measured, so that cost should be small and known).
 */
#ifndef PYAB_TRACEINFO_H
#define PYAB_TRACEINFO_H

#include <jansson.h>
#include <stdio.h>

#include "trace.h"

/*
 * The figures of a loaded trace (borrowed), as a new JSON object:
 *   requests, duration_s, mean_rate_rps (null for a zero duration), reordered,
 *   rate: {bucket_s, last_bucket_s (the time the last bucket covers, up to
 *          bucket_s), counts: [per bucket], rates_rps: [per bucket, the
 *          last over last_bucket_s], min_rps, median_rps, max_rps},
 *   routes: [{route, count, share}] (most requests first),
 *   body_bytes: {requests, min, p50, p90, p99, max, mean} (size of each body
 *               as compact JSON; null when no request has a body),
 *   memory: {file_bytes, loaded_bytes, ratio}.
 * Buckets are the smallest width of 1, 2, 5, 10, 15, 30 s; 1, 2, 5, 10, 15,
 * 30 min; 1, 2, 6, 12 h; 1 day, or else the fewest whole days, that gives
 * at most 60 of them. min/median/max leave out a last bucket covering under
 * half a width (a few requests over a sliver of time are no rate).
 * Percentiles are nearest-rank.
 */
json_t *pyab_traceinfo_compute(const pyab_trace *trace);

/* Prints figures from pyab_traceinfo_compute (borrowed) as text for people. */
void pyab_traceinfo_print(FILE *f, const char *path, const json_t *info);

#endif
