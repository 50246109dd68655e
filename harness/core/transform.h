/*
 * transform: which records of a trace one arm replays (parent and child).
 *
 * The scenario's "load" object can narrow a trace before it is replayed:
 * "routes" keeps only the listed routes, "exclude_routes" drops the listed
 * ones, and "sample" keeps a share of the records, chosen by a hash of the
 * scenario seed and the record's position, so the same seed keeps the same
 * records in every rep and arm and the choice does not depend on the
 * route filter. Kept records keep their timestamps (shifted so the first
 * kept one is due at 0); "loops", "speed" and "rate" then apply to the
 * kept records as they would to a whole trace.
 *
 * The parent runs the selection once per arm to validate it (a route the
 * trace does not have, or a selection that keeps nothing, is bad input);
 * the child runs it again to replay.
 */
#ifndef PYAB_TRANSFORM_H
#define PYAB_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "trace.h"

/*
 * Sets *keep to a new array (free() it) of the indices of the records to
 * replay, in replay order, and *n to its length (>= 1). `where` names the
 * scenario in messages. 0, or -EINVAL with err set.
 */
int pyab_transform_select(const pyab_config *cfg, const pyab_trace *trace, const char *where,
                          uint32_t **keep, size_t *n, pyab_error *err);

/* Whether record i is in the seeded sample keeping `share` of the records. */
int pyab_transform_sampled(uint64_t seed, size_t i, double share);

#endif
