/*
 * shard: one experiment split over machines by (arm, rep), and joined again.
 *
 * `pyab run SCENARIO --shard I/N` runs a deterministic part of the run
 * order (experiment.c's: A1 B1 A2 B2 ..., or shuffled with the seed): the
 * order is cut into N contiguous pieces of as equal a size as can be, and
 * shard I runs the I-th, in order. When N divides the reps, each shard
 * holds whole rounds (every arm's rep k), so each machine runs every arm
 * and the arms are still compared on the same hardware. A shard writes a
 * partial results folder: the reps it ran, manifest.json with "shard"
 * (index, count, pairs, host) and each arm's trace digest, summary.json;
 * no analysis, report or history (its arms are partial).
 *
 * pyab_shard_merge joins the N partial folders of one experiment into a
 * complete one, checking that they are the N distinct shards of the same
 * scenario, trace and pyab version, then analyses it as a run is analysed
 * (verdicts, ablation ranking, history, report).
 */
#ifndef PYAB_SHARD_H
#define PYAB_SHARD_H

#include <jansson.h>
#include <stddef.h>

#include "experiment.h"
#include "scenario.h"
#include "util.h"

/* Parses "I/N" (1 <= I <= N). 0, or -EINVAL. */
int pyab_shard_parse(const char *s, long *index, long *count);

/* The piece [*from, *to) of a run order of n pairs that shard index/count runs. */
void pyab_shard_range(size_t n, long index, long count, size_t *from, size_t *to);

/*
 * What a shard's manifest.json holds besides a run's: {"index", "count",
 * "pairs": [[arm, rep], ...], "trace_digests": {arm: "fnv1a64:..."}}.
 * order/from/to as pyab_shard_range gave them. New reference.
 */
json_t *pyab_shard_manifest(const pyab_scenario *sc, const size_t *order, size_t from,
                            size_t to, long index, long count);

/*
 * Whether a folder (given as IN_DIR to `pyab merge`) is a shard's partial
 * results folder: its manifest.json has "shard".
 */
int pyab_shard_is_partial(const char *dir);

/*
 * Joins partial results folders into `out` (which must not exist, or be
 * empty), then analyses it with opts' hooks (after_analysis: the history)
 * and report setting. Mismatched, missing or repeated shards are exit 2
 * with nothing written. Returns an exit code; messages on stderr.
 */
int pyab_shard_merge(const char *out, char *const *ins, size_t nin, const pyab_run_opts *opts);

#endif
