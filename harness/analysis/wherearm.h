/*
 * wherearm: an arm's "where" answer from its reps' where.json files.
 *
 * Each ok rep's child reported, per domain ("python", and "native" when
 * native sampling ran), lists of groups (sites, own-code sites, packages,
 * types, ...). A group record is {"key", descriptive fields, "bytes",
 * "early", "late", "samples", "early_samples", "var", "objects"}: unbiased
 * surviving bytes made after warm-up, those made in the first and second
 * half of the post-warm-up requests, the sample counts, the estimator's
 * sampling variance and its object count. Here each becomes, per key:
 *
 *   bytes_per_request  the mean over reps of bytes / requests (a rep
 *                      without the key counts 0)
 *   ci                 with 2+ reps a t interval over the reps' values, never
 *                      narrower than the sampling error alone; with 1 rep
 *                      the normal interval of the sampling error
 *   share              the key's bytes over all surviving bytes sampled
 *   state              "growing" when what survives of the first half is at
 *                      least half of what survives of the second; "bounded"
 *                      when it is less and a binomial test on the sample
 *                      counts (p < 0.01) says so; else "unsure" (too few
 *                      samples to tell)
 */
#ifndef PYAB_WHEREARM_H
#define PYAB_WHEREARM_H

#include <jansson.h>

#include "util.h"

/*
 * The arm's "where" object from dir/arms/<arm>/rep-N/where.json of the reps
 * in `reps` whose outcome is ok, at confidence conf; NULL when no rep has a
 * where.json (older results, or where.mode "off" everywhere). New reference.
 */
json_t *pyab_wherearm(const char *dir, const char *arm, json_t *reps, double conf);

/*
 * The terminal lines under an arm's verdict (not for no-leak arms): the top
 * five sites with intervals, the service's own line when the top site is in
 * a library, the top site's holder chain and any reference-count leaks.
 */
void pyab_wherearm_text(pyab_buf *b, json_t *arm);

/*
 * The sites whose intervals do not overlap between two arms' "where"
 * objects, largest difference first (at most 10): {"key", "site",
 * "function", "control", "arm", "diff", "change": removed|smaller|larger|
 * added}. A site below one arm's kept list is left out (unknown there, not
 * zero). New reference.
 */
json_t *pyab_wherearm_diff(json_t *control, json_t *arm);
/* Those differences as terminal lines under a comparison. */
void pyab_wherearm_diff_text(pyab_buf *b, json_t *diff);

#endif
