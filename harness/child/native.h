/*
 * native: where the native memory that survives a rep was allocated — the
 * child's side of pyab-native.so (preload/natsample.h).
 *
 * When the arm sets where.native, the parent preloads the sampler library
 * and pyab_native_start hands it this thread-safe reader of the calling
 * thread's Python frames and the replay's dispatched-request counter. At
 * the end, pyab_native_where_json reads the sampled allocations still
 * live, symbolises their stacks (lib/elfsym.h), attributes each to the
 * first frame outside the allocator and its wrappers, and sums unbiased
 * surviving bytes per site (object, symbol, Python line).
 */
#ifndef PYAB_NATIVE_H
#define PYAB_NATIVE_H

#include <jansson.h>

#include "config.h"
#include "replay.h"
#include "util.h"

/*
 * Starts sampling for the arm cfg describes, stamping samples with rp's
 * dispatched count. 0 when sampling runs or the arm does not ask for it;
 * -ENOENT when it asks but the library is not preloaded (err says so; the
 * rep goes on without native sampling). Before the workers start.
 */
int pyab_native_start(const pyab_config *cfg, const pyab_replay *rp, pyab_error *err);

/* Marks warm-up's end: allocations made from here on count. Main thread. */
void pyab_native_mark_warmup(void);

/*
 * The "native" member of the rep's where report (child/where.h's domain
 * format): {"mode", "sample_bytes", "requests", "point", "total", "sites",
 * "libraries", "own", "sampler"}; NULL when native sampling is off.
 * `point` names the survival point. Stops sampling. New reference; after
 * the workers are done.
 */
json_t *pyab_native_where_json(const char *point);

#endif
