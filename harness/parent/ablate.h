/*
 * ablate: `pyab ablate`, suspect ablation. Parent side; never touches Python.
 *
 * A scenario's "ablate" object names suspect modules and a stand-in for
 * each ({"suspects": {"tensorflow": "mocks/tf_standin.py"}}). The verb
 * turns the scenario into an A/B experiment with a control arm (nothing
 * swapped), one arm per suspect swapped for its stand-in, and one arm with
 * all of them swapped; runs it through the experiment runner and the
 * analysis like `pyab run`; then ranks the suspects by the share of the
 * control's growth that swapping each removes, with a bootstrap interval
 * over reps, and writes that ranking into summary.json as "ablation".
 *
 * The growth is measured on one metric: the one where the control's
 * growth lives (native when only the native heap grows, pyheap when only
 * the Python heap does, otherwise RSS), or the scenario's ablate.metric.
 */
#ifndef PYAB_ABLATE_H
#define PYAB_ABLATE_H

#include <jansson.h>
#include <stdio.h>

#include "util.h"

/*
 * Checks a scenario's "ablate" object (borrowed): keys, module names, and
 * that each stand-in exists (relative to base_dir). Errors name `file` and
 * the key path, as the scenario parser's do. 0 or -EINVAL with err set.
 */
int pyab_ablate_validate(json_t *ablate, const char *file, const char *base_dir,
                         pyab_error *err);

/*
 * The "ablation" object (new) for an analysed summary (borrowed): suspects[i]
 * was swapped out in arm arms[i]; all_arm (NULL when there is one suspect)
 * had them all swapped; control is the control arm. metric is "auto" or a
 * metric key (rss, pyheap, native).
 */
json_t *pyab_ablate_rank(json_t *summary, const char *control, const char *const *suspects,
                         const char *const *arms, size_t n, const char *all_arm,
                         const char *metric);

/* Prints an "ablation" object (borrowed) as a ranking table. */
void pyab_ablate_print(FILE *f, json_t *ablation);

#endif
