/*
 * wherenative: what the terminal says about an arm's native sites
 * (arms.<arm>.where.native, merged by wherearm.h from the reps' native
 * domains, child/native.h), and the native sites as ablation suspects.
 */
#ifndef PYAB_WHERENATIVE_H
#define PYAB_WHERENATIVE_H

#include <jansson.h>

#include "util.h"

/*
 * The lines under an arm's verdict when the native heap is named in its
 * attribution: the top three libraries by surviving bytes per request
 * (interval, share, growing or bounded), each with its heaviest site's
 * function, chain and the Python line that called it. Nothing otherwise.
 */
void pyab_wherenative_text(pyab_buf *b, json_t *arm);

/*
 * The names among `candidates` (an object whose keys are module names, as
 * ablate.suspects) that the arm's growing native sites point at: a name is
 * a suspect when it is a folder or file stem in a site's Python stack or
 * its library's path, or the library's name starts with it. Heaviest
 * first. New reference: a list of strings, empty when nothing matches.
 */
json_t *pyab_wherenative_suspects(json_t *arm, json_t *candidates);

#endif
