/*
 * leftovers: the processes a service leaves behind when its child exits.
 *
 * Each child runs as the leader of its own process group, and the parent
 * is a subreaper (PR_SET_CHILD_SUBREAPER), so what the service forked is
 * either still in the child's group or, if it escaped with setsid(), has
 * become the parent's own child once its parent exited. rep.c calls this
 * when a child exits, so nothing of one rep runs on into the next.
 */
#ifndef PYAB_LEFTOVERS_H
#define PYAB_LEFTOVERS_H

#include <sys/types.h>

#include "util.h"

/*
 * Kills (SIGKILL) and reaps what is left of `child`'s process group and
 * every process reparented to this one, except `keep` (a child pyab still
 * waits for through libuv). Appends what it stopped to `pids` ("group N",
 * pids); returns how many it found.
 */
int pyab_leftovers_stop(pid_t child, pid_t keep, pyab_buf *pids);

#endif
