/*
 * child: one arm-rep in its own freshly exec'd process (`pyab __child`).
 *
 * Reads the arm's effective settings written by the parent, loads the
 * trace into C memory, initialises the interpreter (interp.h), imports the
 * service, and runs the replay (replay.h) under a libuv loop that owns
 * the control plane: periodic samples, the warm-up mark, manual GC and
 * trim cadences, request timeouts, SIGINT/SIGTERM. Everything it measures
 * goes to the parent as it is taken, one line per message on the protocol
 * descriptor, so a child that dies still leaves its curve up to that
 * moment:
 *
 *   H <json>   hello: pid, trace figures, settings read back
 *   S <csv>    one samples.csv row
 *   E <json>   one GC collection
 *   W <text>   a warning (GC settings changed by the service, timeouts)
 *   F <json>   final figures of the rep
 *   X <json>   fatal: {"exit_code", "message"}; the child then exits
 */
#ifndef PYAB_CHILD_H
#define PYAB_CHILD_H

/* Environment variable naming the protocol descriptor (default 3). */
#define PYAB_PROTOCOL_FD_ENV "PYAB_PROTOCOL_FD"

#endif
