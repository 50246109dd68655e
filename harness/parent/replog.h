/*
 * replog: the service's stdout.log and stderr.log of one rep, capped to
 * their head and tail once the rep's child has exited (replog.c says why
 * not a pipe).
 */
#ifndef PYAB_REPLOG_H
#define PYAB_REPLOG_H

#include <jansson.h>

#include "progress.h"

/*
 * Cuts the middle of DIR/NAME when it is longer than twice the part kept,
 * at line boundaries, with a line saying how much was cut; sets
 * logs[NAME] (borrowed) to {"bytes_written", "bytes_cut"}. A failure to
 * cut is logged through progress, never fatal.
 */
void pyab_replog_cap(const char *dir, json_t *logs, pyab_progress *progress, const char *name);

#endif
